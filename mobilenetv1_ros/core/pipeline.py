"""One classification pipeline shared by the node, the CLIs, the benchmark and the evaluation."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mobilenetv1_ros.core.backends import create_backend
from mobilenetv1_ros.core.image import Preprocessor
from mobilenetv1_ros.core.labels import Labels, load_labels
from mobilenetv1_ros.core.postprocess import (
    Prediction,
    check_activation,
    check_threshold,
    check_top_k,
    to_probabilities,
    top_k,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from mobilenetv1_ros.core.backends import Backend
    from mobilenetv1_ros.core.image import Frame

__all__ = ['Classifier', 'ClassifierOptions', 'Result', 'StageTimes']


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


@dataclass(frozen=True)
class ClassifierOptions:
    """Everything that selects and tunes a pipeline; defaults are the node's defaults."""

    backend: str = 'auto'
    model_path: str | None = None
    labels_path: str | None = None
    crop: str = 'center_crop'
    interpolation: str = 'linear'
    top_k: int = 5
    score_threshold: float = 0.0
    output_activation: str = 'auto'
    num_threads: int = 0
    backend_options: dict[str, Any] = field(default_factory=dict)


class Classifier:
    """Frame in, top-k classes out: preprocess to NV12, run the backend, postprocess.

    `top_k` and `score_threshold` may be changed between calls (the node changes them live).
    """

    def __init__(self, backend: Backend, labels: Labels, *, crop: str = 'center_crop',
                 interpolation: str = 'linear', top_k: int = 5, score_threshold: float = 0.0,
                 output_activation: str = 'auto') -> None:
        labels.check_count(backend.num_classes)
        self.backend = backend
        self.labels = labels
        self.preprocessor = Preprocessor(backend.input_width, backend.input_height, crop,
                                         interpolation)
        self.output_activation = check_activation(output_activation)
        self.top_k = check_top_k(top_k)
        self.score_threshold = check_threshold(score_threshold)

    @classmethod
    def from_options(cls, options: ClassifierOptions) -> Classifier:
        """Create the backend and load the labels the options name (None = bundled defaults).

        Raises:
            ConfigError, BackendUnavailableError, ModelError, LabelsError: as their names say;
            every message names the value or file at fault.
        """
        from mobilenetv1_ros.core.models import default_labels_path

        check_top_k(options.top_k)
        check_threshold(options.score_threshold)
        check_activation(options.output_activation)
        Preprocessor(2, 2, options.crop, options.interpolation)
        backend = create_backend(options.backend, options.model_path,
                                 num_threads=options.num_threads, **options.backend_options)
        try:
            labels = load_labels(options.labels_path or default_labels_path(),
                                 backend.num_classes)
            return cls(backend, labels, crop=options.crop, interpolation=options.interpolation,
                       top_k=options.top_k, score_threshold=options.score_threshold,
                       output_activation=options.output_activation)
        except Exception:
            backend.close()
            raise

    def preprocess(self, frame: Frame) -> npt.NDArray[np.uint8]:
        """Convert a frame to the backend's NV12 input."""
        return self.preprocessor(frame)

    def postprocess(self, scores: npt.NDArray[np.floating]) -> tuple[
            list[Prediction], npt.NDArray[np.float32]]:
        """Turn backend scores into the top-k predictions (and the full probabilities)."""
        probabilities = to_probabilities(scores, self.output_activation)
        predictions = [Prediction(index, score, self.labels.name(index))
                       for index, score in top_k(probabilities, self.top_k,
                                                 self.score_threshold)]
        return predictions, probabilities

    def classify(self, frame: Frame) -> Result:
        """Classify one frame.

        Raises:
            ImageError: The frame cannot be converted (the backend is not called).
            BackendError: Inference failed.
        """
        start = time.perf_counter()
        nv12 = self.preprocess(frame)
        converted = time.perf_counter()
        scores = self.backend.infer(nv12)
        inferred = time.perf_counter()
        predictions, probabilities = self.postprocess(scores)
        done = time.perf_counter()
        times = StageTimes((converted - start) * 1e3, (inferred - converted) * 1e3,
                           (done - inferred) * 1e3)
        return Result(predictions, times, probabilities)

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()
