"""The inference backend interface: an NV12 buffer in, one score per class out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from mobilenetv1_ros.core.errors import ImageError

if TYPE_CHECKING:
    from pathlib import Path

    import numpy.typing as npt

__all__ = ['Backend', 'check_nv12', 'nv12_size']


def nv12_size(width: int, height: int) -> int:
    """Return the byte count of a packed NV12 image: a luma plane then half as many UV bytes."""
    return width * height * 3 // 2


def check_nv12(nv12: object, width: int, height: int) -> None:
    """Check that a backend's input is a uint8 array of exactly one NV12 image of width x height.

    Raises:
        ImageError: Not a uint8 array, or the wrong number of bytes.
    """
    if not isinstance(nv12, np.ndarray) or nv12.dtype != np.uint8:
        kind = nv12.dtype if isinstance(nv12, np.ndarray) else type(nv12).__name__
        raise ImageError(f'NV12 buffer of type {kind} is not a uint8 array')
    expected = nv12_size(width, height)
    if nv12.size != expected:
        raise ImageError(f'NV12 buffer has {nv12.size} bytes, expected {expected} for '
                         f'{width}x{height}')


@runtime_checkable
class Backend(Protocol):
    """What every backend offers to the pipeline.

    Attributes:
        name: Registry name of the backend ('bpu', 'onnx', 'openvino').
        model_path: The model file the backend runs.
        input_width: Width of the NV12 image the model takes.
        input_height: Height (luma rows) of the NV12 image the model takes.
        num_classes: Length of the score vector `infer` returns.
    """

    name: str
    model_path: Path
    input_width: int
    input_height: int
    num_classes: int

    def infer(self, nv12: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Run one frame.

        Args:
            nv12: Contiguous uint8 array of exactly nv12_size(input_width, input_height) bytes.

        Returns:
            1-D float32 array of num_classes scores (probabilities or logits, as the model
            produces them; postprocessing decides).

        Raises:
            ImageError: The buffer has the wrong size or dtype.
            BackendError: The runtime failed; the message names the model file.
        """
        ...

    def describe(self) -> str:
        """Return a one-line description: backend, model file, runtime details."""
        ...

    def close(self) -> None:
        """Release what can be released (the runtime session)."""
        ...
