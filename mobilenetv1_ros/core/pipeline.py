"""The one classification pipeline: frame -> NV12 -> backend -> top-k, with per-stage timing.

The node, `classify`, `bag classify`, `bag benchmark`, `evaluate` and `benchmark` all run frames
through a Classifier. `classify` does a whole frame in one call; a caller that converts and
infers on different threads (the node) calls `prepare` on one and `finish` on the other, with
the same stages and the same timers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mobilenetv1_ros.core.compressed import DEFAULT_MAX_PIXELS
from mobilenetv1_ros.core.frames import CompressedFrame
from mobilenetv1_ros.core.postprocess import (
    Prediction,
    check_activation,
    check_threshold,
    check_top_k,
    to_probabilities,
    top_k,
)
from mobilenetv1_ros.core.preprocess import Preprocessor

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from mobilenetv1_ros.core.backends import Backend
    from mobilenetv1_ros.core.frames import Frame
    from mobilenetv1_ros.core.labels import Labels

__all__ = ['Classifier', 'Prepared', 'Result', 'StageTimes']


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1e3


@dataclass(frozen=True)
class Prepared:
    """A frame converted to the backend's NV12 input, and what the conversion cost.

    Attributes:
        nv12: The backend input.
        convert_ms: Milliseconds the conversion took.
        picture: For a compressed frame, the BGR picture it was decoded to (reduced in the DCT
            domain where the framing allows), so that nothing decodes the frame twice.
    """

    nv12: npt.NDArray[np.uint8] = field(repr=False)
    convert_ms: float
    picture: npt.NDArray[np.uint8] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class StageTimes:
    """Wall-clock milliseconds spent in each stage of one classification."""

    convert_ms: float
    infer_ms: float
    postprocess_ms: float

    @property
    def total_ms(self) -> float:
        """Sum of the stages."""
        return self.convert_ms + self.infer_ms + self.postprocess_ms


@dataclass(frozen=True)
class Result:
    """The top-k classes of one frame, best first, and what each stage cost."""

    predictions: list[Prediction]
    times: StageTimes
    probabilities: npt.NDArray[np.float32] = field(repr=False, compare=False)

    @property
    def top(self) -> Prediction | None:
        """The best class, or None when every class fell under the threshold."""
        return self.predictions[0] if self.predictions else None


class Classifier:
    """Frame in, top-k classes out: preprocess to NV12, run the backend, postprocess.

    `top_k` and `score_threshold` may be changed between calls (the node changes them live).
    `max_pixels` caps the width x height a compressed frame may declare (Preprocessor).
    """

    def __init__(self, backend: Backend, labels: Labels, *, crop: str = 'center_crop',
                 interpolation: str = 'linear', top_k: int = 5, score_threshold: float = 0.0,
                 output_activation: str = 'auto',
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        labels.check_count(backend.num_classes)
        self.backend = backend
        self.labels = labels
        self.preprocessor = Preprocessor(backend.input_width, backend.input_height, crop,
                                         interpolation, max_pixels=max_pixels)
        self.output_activation = check_activation(output_activation)
        self.top_k = check_top_k(top_k)
        self.score_threshold = check_threshold(score_threshold)

    def prepare(self, frame: Frame) -> Prepared:
        """Convert a frame to the backend's NV12 input (the convert stage).

        Raises:
            ImageError: The frame cannot be converted.
        """
        start = time.perf_counter()
        if isinstance(frame, CompressedFrame):
            picture = self.preprocessor.decode(frame)
            nv12 = self.preprocessor.from_bgr(picture)
            return Prepared(nv12, _ms_since(start), picture)
        return Prepared(self.preprocessor(frame), _ms_since(start))

    def infer(self, nv12: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Run the backend on one NV12 input and return its raw scores (the infer stage).

        Raises:
            BackendError: Inference failed.
        """
        return self.backend.infer(nv12)

    def rank(self, scores: npt.NDArray[np.floating]) -> tuple[
            list[Prediction], npt.NDArray[np.float32]]:
        """Turn scores into the top-k predictions and the full probabilities (postprocess)."""
        probabilities = to_probabilities(scores, self.output_activation)
        predictions = [Prediction(index, score, self.labels.name(index))
                       for index, score in top_k(probabilities, self.top_k,
                                                 self.score_threshold)]
        return predictions, probabilities

    def finish(self, prepared: Prepared) -> Result:
        """Infer and postprocess a prepared frame.

        Raises:
            BackendError: Inference failed.
        """
        start = time.perf_counter()
        scores = self.infer(prepared.nv12)
        inferred = time.perf_counter()
        predictions, probabilities = self.rank(scores)
        times = StageTimes(prepared.convert_ms, (inferred - start) * 1e3, _ms_since(inferred))
        return Result(predictions, times, probabilities)

    def classify(self, frame: Frame) -> Result:
        """Classify one frame.

        Raises:
            ImageError: The frame cannot be converted (the backend is not called).
            BackendError: Inference failed.
        """
        return self.finish(self.prepare(frame))

    def describe(self) -> str:
        """One line: the backend, its model and the labels file."""
        return (f'{self.backend.describe()}; {len(self.labels)} classes from '
                f'{self.labels.source or "memory"}')

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()
