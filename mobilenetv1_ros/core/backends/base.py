"""The inference backend interface: an NV12 buffer in, one score per class out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import numpy.typing as npt

__all__ = ['Backend', 'nv12_size']


def nv12_size(width: int, height: int) -> int:
    """Return the byte count of a packed NV12 image: a luma plane then half as many UV bytes."""
    return width * height * 3 // 2


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
