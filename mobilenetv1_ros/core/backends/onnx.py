"""CPU backend: an NV12-input ONNX model run by ONNX Runtime."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mobilenetv1_ros.core.backends.base import check_nv12, nv12_size
from mobilenetv1_ros.core.errors import (BackendError, BackendUnavailableError, ConfigError,
                                         ModelError)
from mobilenetv1_ros.core.files import check_regular_file

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType, TracebackType

    import numpy.typing as npt

__all__ = ['DEFAULT_PROVIDERS', 'OnnxBackend', 'import_onnxruntime']

#: Execution providers used when none are given.
DEFAULT_PROVIDERS = ('CPUExecutionProvider',)


def import_onnxruntime() -> ModuleType:
    """Import onnxruntime.

    Raises:
        BackendUnavailableError: onnxruntime is not installed or does not import.
    """
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendUnavailableError(f'onnxruntime cannot be imported: {exc}') from exc
    module: ModuleType = onnxruntime
    return module


def _static_dims(shape: Sequence[Any]) -> tuple[int, ...] | None:
    if all(isinstance(dim, int) and dim > 0 for dim in shape):
        return tuple(shape)
    return None


class OnnxBackend:
    """Runs an NV12-input classifier (as made by mobilenetv1_ros.export) with ONNX Runtime.

    Attributes:
        name: 'onnx'.
        model_path: The ONNX file.
        input_width: Width of the NV12 image the model takes.
        input_height: Height of the NV12 image the model takes.
        num_classes: Length of the score vector.
        precision: The model's precision from its metadata ('int8', 'float32') or 'unknown'.
        num_threads: Intra-op threads asked for (0: ONNX Runtime's choice).
        allow_spinning: Whether idle intra-op worker threads busy-wait.
    """

    name = 'onnx'

    def __init__(self, model_path: str | Path, *, num_threads: int = 0,
                 providers: Sequence[str] | None = None, allow_spinning: bool = False,
                 **_ignored: Any) -> None:
        """Load the model and create the inference session.

        Args:
            model_path: The ONNX file (mobilenetv1_ros.loading finds the default one).
            num_threads: Intra-op threads; 0 lets ONNX Runtime choose.
            providers: ONNX Runtime execution providers; None means CPU.
            allow_spinning: Let idle intra-op worker threads busy-wait for work. Off by
                default: a node idles between frames, and spinning workers would keep a core
                busy through those gaps to save a little latency per frame.
            **_ignored: Options meant for other backends.

        Raises:
            ConfigError: A bad thread count, spinning flag or execution provider.
            BackendUnavailableError: onnxruntime cannot be imported.
            ModelError: The model is not a readable regular file (missing, a directory, a FIFO,
                a device, empty, ...), cannot be loaded, or does not take one NV12 image.
        """
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 0:
            raise ConfigError(f'Thread count {num_threads!r} is not an integer >= 0')
        if not isinstance(allow_spinning, bool):
            raise ConfigError(f'Spinning flag {allow_spinning!r} is not a bool')
        ort = import_onnxruntime()
        chosen = list(DEFAULT_PROVIDERS if providers is None else providers)
        available = ort.get_available_providers()
        for provider in chosen:
            if provider not in available:
                raise ConfigError(f'Execution provider {provider!r} is not available here; '
                                  f'available: {", ".join(available)}')
        self.num_threads = num_threads
        self.allow_spinning = allow_spinning
        self.model_path = Path(model_path)
        # ONNX Runtime opens the path itself: only a regular file may reach it (a FIFO would
        # block it, /dev/zero would be read without end).
        check_regular_file(self.model_path, 'Model file', ModelError, allow_empty=False)

        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        options.add_session_config_entry('session.intra_op.allow_spinning',
                                         '1' if allow_spinning else '0')
        try:
            self._session: Any = ort.InferenceSession(str(self.model_path), options,
                                                      providers=chosen)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            raise ModelError(f'Model file {self.model_path!s} cannot be loaded by onnxruntime: '
                             f'{exc}') from exc
        self._read_signature()

    def _read_signature(self) -> None:
        session = self._session
        path = self.model_path
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f'Model file {path!s} has {len(inputs)} inputs and {len(outputs)} '
                             'outputs, expected one NV12 input and one score output')
        graph_input, graph_output = inputs[0], outputs[0]
        metadata = dict(session.get_modelmeta().custom_metadata_map)
        in_shape = _static_dims(graph_input.shape)
        if graph_input.type != 'tensor(uint8)' or in_shape is None or len(in_shape) not in (1, 2) \
                or math.prod(in_shape[:-1]) != 1 \
                or metadata.get('input_format', 'nv12') != 'nv12':
            raise ModelError(f'Model file {path!s} takes {graph_input.type} '
                             f'{graph_input.shape}, not one packed NV12 uint8 buffer')
        size = in_shape[-1]
        try:
            width = int(metadata['input_width'])
            height = int(metadata['input_height'])
        except (KeyError, ValueError):
            # Without metadata, accept a square image whose NV12 size matches.
            side = math.isqrt(size * 2 // 3)
            width = height = side
        if width <= 0 or height <= 0 or width % 2 or height % 2 \
                or nv12_size(width, height) != size:
            raise ModelError(f'Model file {path!s} takes a {size}-byte input that is not an NV12 '
                             f'image of {width}x{height}')
        out_shape = _static_dims(graph_output.shape)
        if graph_output.type != 'tensor(float)' or not out_shape \
                or math.prod(out_shape[:-1]) != 1:
            raise ModelError(f'Model file {path!s} outputs {graph_output.type} '
                             f'{graph_output.shape}, not one float32 score vector')
        self.input_width = width
        self.input_height = height
        self.num_classes = out_shape[-1]
        self.precision = metadata.get('precision', 'unknown')
        self._input_name = graph_input.name
        self._input_shape = in_shape
        self._providers = tuple(session.get_providers())

    def infer(self, nv12: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Classify one NV12 image.

        Args:
            nv12: uint8 array of exactly nv12_size(input_width, input_height) bytes.

        Returns:
            1-D float32 array of num_classes softmax probabilities.

        Raises:
            ImageError: The buffer is not uint8 or has the wrong size.
            BackendError: The session is closed or onnxruntime failed.
        """
        check_nv12(nv12, self.input_width, self.input_height)
        session = self._session
        if session is None:
            raise BackendError(f'ONNX backend for {self.model_path!s} is closed')
        feed = {self._input_name: np.ascontiguousarray(nv12).reshape(self._input_shape)}
        try:
            scores = session.run(None, feed)[0]
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            raise BackendError(f'onnxruntime failed to run {self.model_path!s}: {exc}') from exc
        return np.asarray(scores, dtype=np.float32).reshape(-1)

    def describe(self) -> str:
        """Return e.g. 'onnx (int8, 2 threads, CPUExecutionProvider): /path/model.onnx'.

        ', spinning' follows the thread count when allow_spinning is set.
        """
        threads = f'{self.num_threads} threads' if self.num_threads else 'default threads'
        if self.allow_spinning:
            threads += ', spinning'
        providers = ', '.join(self._providers)
        return f'onnx ({self.precision}, {threads}, {providers}): {self.model_path!s}'

    def close(self) -> None:
        """Release the inference session; infer() fails afterwards."""
        self._session = None

    def __enter__(self) -> OnnxBackend:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
