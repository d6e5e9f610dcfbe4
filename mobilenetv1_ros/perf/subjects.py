"""What gets evaluated and benchmarked: our pipeline on any backend, or a peer runtime.

A subject is named by a spec string, `NAME[:ARG]`:

- `onnx`, `onnx:int8`, `onnx:float32`, `onnx:/path/model.onnx`: our pipeline on ONNX Runtime;
- `bpu`, `bpu:/path/model.bin`: our pipeline on the BPU (hobot_dnn);
- `auto`: our pipeline on the backend 'auto' picks here;
- `litert`, `litert:/path/extractor.tflite,/path/head.tflite`: the peer, LiteRT (XNNPACK)
  running the uint8 TFLite files with its own RGB preprocessing;
- `litert:nv12`: the same peer fed through our NV12 conversion (NV12 -> RGB by OpenCV), which
  separates what the runtime changes from what the NV12 input changes;
- `openvino`, `openvino:int8`, `openvino:float32`, `openvino:/path/model.onnx`: the peer
  OpenVINO (CPU plugin) running the very ONNX file `onnx` with the same argument runs, inside
  our pipeline: our opt-in backend `openvino` (core/backends/openvino.py), measured as a peer
  of the default, ONNX Runtime; only the runtime differs.

Our subjects run exactly the node's path: a BGR image wrapped as a bgr8 RawFrame, the core
Preprocessor to NV12, the backend, the pipeline's postprocessing.

Peers are optional: a peer whose runtime does not import raises BackendUnavailableError naming
the package to install, and the benchmark skips it and says why.
"""

from __future__ import annotations

import dataclasses
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from mobilenetv1_ros.core.assets import bundled_tflite
from mobilenetv1_ros.core.errors import BackendUnavailableError, ConfigError, ModelError
from mobilenetv1_ros.core.frames import bgr_frame
from mobilenetv1_ros.core.preprocess import Crop, Preprocessor, crop_rect
from mobilenetv1_ros.export.builders import PRECISIONS
from mobilenetv1_ros.loading import choose_backend, load_classifier
from mobilenetv1_ros.options import BACKEND_CHOICES

if TYPE_CHECKING:
    import numpy.typing as npt

    from mobilenetv1_ros.core.pipeline import Classifier
    from mobilenetv1_ros.options import ClassifierOptions

__all__ = [
    'DEFAULT_PEERS',
    'PEER_NAMES',
    'LiteRTPeer',
    'PeerPipelineSubject',
    'PipelineSubject',
    'Subject',
    'create_subject',
    'parse_spec',
]

#: Spec names that select a peer runtime ('openvino' is also a backend of ours, opt-in; as a
#: spec it is measured as a peer of the default CPU backend).
PEER_NAMES = ('litert', 'openvino')
#: Peers the benchmark measures by default (each only where its runtime imports).
DEFAULT_PEERS = ('litert', 'openvino', 'openvino:float32')


class Subject(Protocol):
    """A classifier split into the stages the tools time separately.

    Attributes:
        name: The spec it was created from, e.g. 'onnx:int8'.
        precision: 'int8', 'uint8', 'float32' or 'unknown' (for the table's accuracy columns).
        peer: Whether this is a peer runtime rather than our pipeline.
        num_classes: Length of the probability vectors.
    """

    name: str
    precision: str
    peer: bool
    num_classes: int

    def prepare(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """Turn a BGR image (as cv2.imread returns it) into the model input."""
        ...

    def infer(self, prepared: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Run the model on a prepared input; return its raw scores."""
        ...

    def probabilities(self, scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Postprocess raw scores to one probability per class."""
        ...

    def describe(self) -> str:
        """One line: runtime, model file(s), threads."""
        ...

    def close(self) -> None:
        """Release the runtime."""
        ...


class PipelineSubject:
    """Our pipeline: bgr8 frame -> core Preprocessor (NV12) -> backend -> postprocessing."""

    peer = False

    def __init__(self, name: str, classifier: Classifier, precision: str) -> None:
        self.name = name
        self.classifier = classifier
        self.precision = precision
        self.num_classes = classifier.backend.num_classes

    def prepare(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """Convert through the node's path: a bgr8 RawFrame to the backend's NV12."""
        return self.classifier.prepare(bgr_frame(image)).nv12

    def infer(self, prepared: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Run the backend."""
        return self.classifier.infer(prepared)

    def probabilities(self, scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Run the pipeline's postprocessing (probabilities and the top-k predictions)."""
        return self.classifier.rank(scores)[1]

    def describe(self) -> str:
        """Describe the backend."""
        return self.classifier.backend.describe()

    def close(self) -> None:
        """Release the backend."""
        self.classifier.close()


class PeerPipelineSubject(PipelineSubject):
    """A peer runtime inside our pipeline: our NV12 conversion and postprocessing around it."""

    peer = True


class LiteRTPeer:
    """LiteRT with its default XNNPACK delegate running the two chained uint8 TFLite files.

    Preprocessing is the one its input quantization implies: the same central square as our
    center_crop, bilinear resize to the model size, BGR -> RGB, uint8 (scale 1/128, zero 128).
    With `via_nv12`, the input is our pipeline's NV12 converted back to RGB instead.
    Output: the head's uint8 softmax, dequantized, background class 0 dropped.
    """

    peer = True
    precision = 'uint8'

    def __init__(self, name: str = 'litert', extractor: Path | None = None,
                 head: Path | None = None, num_threads: int = 0, *, via_nv12: bool = False,
                 crop: str = 'center_crop', interpolation: str = 'linear') -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as error:
            raise BackendUnavailableError(
                f'The peer {name!r} needs ai-edge-litert (pip install ai-edge-litert): '
                f'{error}') from None
        bundled = bundled_tflite()
        self.name = name
        self.paths = (extractor or bundled[0], head or bundled[1])
        self.num_threads = num_threads
        self._interpreters = []
        for path in self.paths:
            if not path.is_file():
                raise ModelError(f'Model file {path} does not exist')
            try:
                interpreter = Interpreter(model_path=str(path), num_threads=num_threads or None)
                interpreter.allocate_tensors()
            except (ValueError, RuntimeError) as error:
                raise ModelError(f'Model file {path} cannot be loaded by LiteRT: {error}') \
                    from None
            self._interpreters.append(interpreter)
        extractor_in = self._interpreters[0].get_input_details()[0]
        self._in_index = extractor_in['index']
        self._height, self._width = (int(side) for side in extractor_in['shape'][1:3])
        self._mid_out = self._interpreters[0].get_output_details()[0]['index']
        head_in = self._interpreters[1].get_input_details()[0]
        self._mid_in, self._mid_shape = head_in['index'], tuple(head_in['shape'])
        head_out = self._interpreters[1].get_output_details()[0]
        self._out_index = head_out['index']
        scale, zero = head_out['quantization']
        self._out_scale, self._out_zero = np.float32(scale), np.float32(zero)
        self.num_classes = int(head_out['shape'][-1]) - 1
        self.via_nv12 = (Preprocessor(self._width, self._height, crop, interpolation)
                         if via_nv12 else None)

    def prepare(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """Center-crop, resize and convert to the RGB uint8 tensor the extractor takes."""
        if self.via_nv12 is not None:
            nv12 = self.via_nv12(bgr_frame(image))
            rows = nv12.reshape(self._height * 3 // 2, self._width)
            return np.asarray(cv2.cvtColor(rows, cv2.COLOR_YUV2RGB_NV12), np.uint8)[np.newaxis]
        height, width = image.shape[:2]
        rect = crop_rect(width, height, self._width, self._height, Crop.CENTER_CROP)
        small = cv2.resize(image[rect.y:rect.y + rect.height, rect.x:rect.x + rect.width],
                           (self._width, self._height), interpolation=cv2.INTER_LINEAR)
        return np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB), np.uint8)[np.newaxis]

    def infer(self, prepared: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Run the extractor then the head; return the 1001 dequantized probabilities."""
        extractor, head = self._interpreters
        extractor.set_tensor(self._in_index, prepared)
        extractor.invoke()
        head.set_tensor(self._mid_in, extractor.get_tensor(self._mid_out).reshape(
            self._mid_shape))
        head.invoke()
        raw: npt.NDArray[np.float32] = np.asarray(head.get_tensor(self._out_index),
                                                  np.float32).reshape(-1)
        return (raw - self._out_zero) * self._out_scale

    def probabilities(self, scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Drop the background class."""
        return np.ascontiguousarray(scores[1:])

    def describe(self) -> str:
        """Describe the runtime and files."""
        try:
            version = metadata.version('ai-edge-litert')
        except metadata.PackageNotFoundError:
            version = '?'
        threads = self.num_threads or 'default'
        source = 'NV12 input via our conversion' if self.via_nv12 else 'RGB input'
        return (f'litert {version} (XNNPACK, {threads} threads, {source}): '
                f'{self.paths[0].name} + {self.paths[1].name}')

    def close(self) -> None:
        """Drop the interpreters."""
        self._interpreters.clear()


def parse_spec(spec: str) -> tuple[str, str]:
    """Split a spec into (name, argument); the argument may be ''.

    Raises:
        ConfigError: The name is not a backend or peer.
    """
    name, _, argument = spec.partition(':')
    name = name.strip().lower()
    known = tuple(dict.fromkeys((*BACKEND_CHOICES, *PEER_NAMES)))
    if name not in known:
        raise ConfigError(f'Model spec {spec!r}: {name!r} is not one of: {", ".join(known)}')
    return name, argument.strip()


def create_subject(spec: str, base: ClassifierOptions, num_threads: int | None = None) -> Subject:
    """Create the subject a spec names.

    Args:
        spec: See the module docstring.
        base: Pipeline options (crop, labels, ...) our subjects start from; the spec sets the
            backend and the model.
        num_threads: Inference threads (None: base.num_threads; 0: the runtime's default).

    Raises:
        ConfigError, BackendUnavailableError, ModelError: As loading.load_classifier.
    """
    name, argument = parse_spec(spec)
    threads = base.num_threads if num_threads is None else num_threads
    if name == 'litert':
        paths: list[Path | None] = [None, None]
        if argument == 'nv12':
            return LiteRTPeer(spec, num_threads=threads, via_nv12=True, crop=base.crop,
                              interpolation=base.interpolation)
        if argument:
            parts = [part for part in argument.split(',') if part]
            if len(parts) != 2:
                raise ConfigError(f'Model spec {spec!r}: litert takes "litert:nv12" or '
                                  '"litert:<extractor.tflite>,<head.tflite>"')
            paths = [Path(part) for part in parts]
        return LiteRTPeer(spec, paths[0], paths[1], threads)
    options, precision = _pipeline_options(name, argument, base, threads)
    if name in PEER_NAMES:
        return _peer_subject(spec, options, precision)
    return PipelineSubject(spec, load_classifier(options), precision)


def _pipeline_options(name: str, argument: str, base: ClassifierOptions,
                      threads: int) -> tuple[ClassifierOptions, str]:
    """Return the options of our subject `name:argument` and the precision of its model."""
    model_path = base.model_path
    precision = base.precision
    if argument in PRECISIONS:
        precision = argument
        model_path = ''
    elif argument:
        model_path = argument
        lowered = argument.lower()
        precision = ('float32' if 'float' in lowered else 'int8' if 'int8' in lowered
                     else 'unknown')
    options = dataclasses.replace(base, backend=name, model_path=model_path,
                                  precision=precision if precision in PRECISIONS
                                  else base.precision, num_threads=threads)
    if choose_backend(options).backend == 'bpu':
        precision = 'int8'
    return options, precision


def _peer_subject(spec: str, options: ClassifierOptions, precision: str) -> Subject:
    """Load a backend of ours as a peer (openvino: on the ONNX file onnx would load).

    Raises:
        BackendUnavailableError: The runtime does not import; the message names the spec.
    """
    try:
        classifier = load_classifier(options)
    except BackendUnavailableError as error:
        raise BackendUnavailableError(f'The peer {spec!r}: {error}') from None
    return PeerPipelineSubject(spec, classifier, precision)
