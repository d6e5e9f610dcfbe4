"""Inference on the RDK X5 BPU through the board's Python API, hobot_dnn's pyeasy_dnn.

The API has traps this module steps around: it checks neither the byte count nor the
contiguity of the input array and silently reuses the previous input when given anything that
is not a NumPy array (bytes, memoryview); its model handle is never released; the input and
output buffers are shared per model; a failed call surfaces as SystemError.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mobilenetv1_ros.core.backends.base import nv12_size
from mobilenetv1_ros.core.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    ImageError,
    ModelError,
)
from mobilenetv1_ros.core.files import check_regular_file

if TYPE_CHECKING:
    from types import ModuleType

    import numpy.typing as npt

__all__ = ['BpuBackend', 'import_pyeasy_dnn']

RUNTIME_PACKAGES = ('hobot_dnn', 'hobot_dnn_rdkx5')
"""Packages holding pyeasy_dnn: the board image's, then the PyPI wheel's."""

NV12_TENSOR_TYPES = ('NV12', 'NV12_SEPARATE')
"""Input types fed with one flat NV12 array (NV12_SEPARATE is split at 2/3 by the runtime)."""

OUTPUT_DTYPES: dict[str, type[np.generic]] = {
    'int8': np.int8,
    'int16': np.int16,
    'int32': np.int32,
    'float32': np.float32,
}
"""Output tensor types the runtime returns with their own dtype (others come back as int8)."""

PRIORITY_RANGE = range(256)


def import_pyeasy_dnn() -> ModuleType:
    """Import pyeasy_dnn from hobot_dnn (board image) or hobot_dnn_rdkx5 (PyPI wheel).

    Raises:
        BackendUnavailableError: Neither imports; the message says how to pick the CPU backend.
    """
    reasons = []
    for package in RUNTIME_PACKAGES:
        try:
            return importlib.import_module(f'{package}.pyeasy_dnn')
        except (ImportError, OSError) as exc:
            reasons.append(f'{package}.pyeasy_dnn: {exc}')
    raise BackendUnavailableError(
        'The BPU runtime hobot_dnn is missing (' + '; '.join(reasons) + '). It exists only on '
        'an RDK X5 board (with numpy<2). Select the CPU backend instead: backend:=onnx for the '
        'ROS node, --backend onnx on the command line.')


@dataclass(frozen=True)
class _TensorInfo:
    """What a tensor's properties said at load time (the runtime rebuilds them at each read)."""

    name: str
    tensor_type: str
    layout: str
    shape: tuple[int, ...]
    scale: npt.NDArray[np.float32]

    @classmethod
    def read(cls, tensor: Any) -> _TensorInfo:
        """Copy name and properties out of a pyeasy_dnn tensor (never its raw shape pointers)."""
        properties = tensor.properties
        return cls(
            name=str(tensor.name),
            tensor_type=str(properties.tensor_type),
            layout=str(properties.layout),
            shape=tuple(int(dim) for dim in properties.shape),
            scale=np.array(properties.scale_data, dtype=np.float32).reshape(-1),
        )


def _reason(exc: BaseException) -> str:
    """Name the error behind the SystemError that 'error set, None returned' surfaces as."""
    cause = exc.__cause__ or exc.__context__
    return f'{type(cause).__name__}: {cause}' if cause else f'{type(exc).__name__}: {exc}'


def _input_size(info: _TensorInfo, path: Path) -> tuple[int, int]:
    """Return (width, height) of an NV12 input tensor."""
    if info.tensor_type not in NV12_TENSOR_TYPES:
        raise ModelError(
            f'Model file {path!s} takes {info.tensor_type!r} input; the BPU backend feeds NV12 '
            f'images only (input tensor_type {" or ".join(NV12_TENSOR_TYPES)})')
    if len(info.shape) != 4 or info.layout not in ('NCHW', 'NHWC'):
        raise ModelError(f'Model file {path!s} has input shape {info.shape} with layout '
                         f'{info.layout!r}; expected 4-D NCHW or NHWC')
    if info.layout == 'NCHW':
        batch, _, height, width = info.shape
    else:
        batch, height, width, _ = info.shape
    if batch != 1 or width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ModelError(f'Model file {path!s} has input shape {info.shape} ({info.layout}); '
                         'expected batch 1 and an even, positive width and height')
    return width, height


def _channel_axis(info: _TensorInfo, channels: int) -> int | None:
    """Return the axis per-channel scales apply to, from the layout or the only fitting axis."""
    ndim = len(info.shape)
    if info.layout == 'NCHW' and ndim >= 2:
        return 1
    if info.layout == 'NHWC' and ndim >= 2:
        return ndim - 1
    fitting = [axis for axis, dim in enumerate(info.shape) if dim == channels]
    return fitting[0] if len(fitting) == 1 else None


def _output_scale(info: _TensorInfo, path: Path) -> npt.NDArray[np.float32] | None:
    """Return the factor dequantizing the output buffer, shaped to broadcast, or None."""
    if info.tensor_type == 'float32' or info.scale.size == 0:
        return None
    if info.scale.size == 1:
        return info.scale.reshape(())
    axis = _channel_axis(info, info.scale.size)
    if axis is None or info.shape[axis] != info.scale.size:
        raise ModelError(f'Model file {path!s} has {info.scale.size} output scales that fit no '
                         f'channel axis of output shape {info.shape} ({info.layout})')
    shape = [1] * len(info.shape)
    shape[axis] = info.scale.size
    return info.scale.reshape(shape)


def _output_classes(info: _TensorInfo, path: Path) -> int:
    if info.tensor_type not in OUTPUT_DTYPES:
        raise ModelError(
            f'Model file {path!s} has a {info.tensor_type!r} output; the BPU backend reads '
            f'{", ".join(OUTPUT_DTYPES)} outputs')
    classes = int(np.prod([dim for dim in info.shape if dim != 1], dtype=np.int64))
    if not info.shape or classes < 2:
        raise ModelError(f'Model file {path!s} has output shape {info.shape}: not a vector of '
                         'class scores')
    return classes


class BpuBackend:
    """Runs an NV12-input classification model (.bin) on the BPU with hobot_dnn.

    Args:
        model_path: The compiled model (.bin); mobilenetv1_ros.loading finds the default one.
        core_id: BPU core passed to forward (0: any; the X5 has one core).
        priority: Task priority passed to forward, 0..255.
        **_ignored: Options meant for other backends (num_threads, providers, ...).

    Raises:
        BackendUnavailableError: hobot_dnn does not import here.
        ModelError: The path is not a readable regular file (missing, a directory, a FIFO, a
            device, empty, ...), the file does not load, or it is not an NV12 classifier.
        ConfigError: core_id or priority is out of range.
    """

    name = 'bpu'

    def __init__(self, model_path: str | Path, *, core_id: int = 0,
                 priority: int = 0, **_ignored: Any) -> None:
        if int(core_id) < 0:
            raise ConfigError(f'BPU core_id {core_id!r} must be 0 or positive')
        if int(priority) not in PRIORITY_RANGE:
            raise ConfigError(f'BPU priority {priority!r} must be within 0..255')
        self.model_path = Path(model_path)
        self.core_id = int(core_id)
        self.priority = int(priority)
        self._dnn = import_pyeasy_dnn()
        self._lock = threading.Lock()
        self._model: Any = self._load()
        inputs, outputs = list(self._model.inputs), list(self._model.outputs)
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f'Model file {self.model_path!s} has {len(inputs)} inputs and '
                             f'{len(outputs)} outputs; expected one of each')
        self._input = _TensorInfo.read(inputs[0])
        self._output = _TensorInfo.read(outputs[0])
        self.input_width, self.input_height = _input_size(self._input, self.model_path)
        self.num_classes = _output_classes(self._output, self.model_path)
        self._scale = _output_scale(self._output, self.model_path)
        self._input_bytes = nv12_size(self.input_width, self.input_height)
        self._model_name = str(self._model.name)

    def _load(self) -> Any:
        path = self.model_path
        # hobot_dnn opens the path itself: only a regular file may reach it.
        check_regular_file(path, 'Model file', ModelError, allow_empty=False)
        try:
            models = self._dnn.load([str(path)])
        except (SystemError, RuntimeError, TypeError) as exc:
            raise ModelError(
                f'Model file {path!s} could not be loaded by hobot_dnn ({_reason(exc)})') from exc
        if not models:
            raise ModelError(f'Model file {path!s} could not be loaded by hobot_dnn '
                             f'(load returned {models!r})')
        return models[0]

    def _as_input(self, nv12: Any) -> npt.NDArray[np.uint8]:
        """Return the frame as a new-or-same contiguous flat uint8 array of the exact size."""
        if isinstance(nv12, (bytes, bytearray, memoryview)):
            array = np.frombuffer(nv12, dtype=np.uint8)
        else:
            array = np.asarray(nv12)
        if array.dtype != np.uint8:
            raise ImageError(f'NV12 buffer has dtype {array.dtype}; the BPU model takes uint8')
        if array.size != self._input_bytes:
            raise ImageError(
                f'NV12 buffer has {array.size} bytes; model {self.model_path.name} takes '
                f'{self.input_width}x{self.input_height} NV12 = {self._input_bytes} bytes')
        return np.ascontiguousarray(array.reshape(-1), dtype=np.uint8)

    def infer(self, nv12: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Run one NV12 frame; return num_classes float32 scores (dequantized if needed).

        Raises:
            ImageError: The buffer has the wrong size or dtype.
            BackendError: The runtime failed or the backend is closed.
        """
        frame = self._as_input(nv12)
        with self._lock:
            model = self._model
            if model is None:
                raise BackendError(f'BPU backend for {self.model_path!s} is closed')
            try:
                outputs = model.forward(frame, core_id=self.core_id, priority=self.priority)
                buffer = outputs[0].buffer if outputs else None
            except (SystemError, RuntimeError) as exc:
                raise BackendError(f'BPU inference with model file {self.model_path!s} failed '
                                   f'({_reason(exc)})') from exc
        if buffer is None:
            raise BackendError(f'BPU inference with model file {self.model_path!s} failed '
                               '(forward returned no outputs)')
        return self._scores(np.asarray(buffer))

    def _scores(self, buffer: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        if buffer.size != self.num_classes:
            raise BackendError(f'Model file {self.model_path!s} returned {buffer.size} values, '
                               f'expected {self.num_classes}')
        values = buffer.astype(np.float32, copy=False)
        if self._scale is not None:
            values = values.reshape(self._output.shape) * self._scale
        return np.ascontiguousarray(values, dtype=np.float32).reshape(-1)

    def describe(self) -> str:
        """Return one line: backend, model file, model name, input, output and its scaling."""
        scaling = 'as is'
        if self._scale is not None:
            scaling = f'x {self._output.scale.size} scale(s)'
        runtime = getattr(self._dnn, '__name__', 'pyeasy_dnn')
        return (f'bpu: {self.model_path!s} (model {self._model_name!r}, {runtime}), '
                f'{self._input.tensor_type} {self.input_width}x{self.input_height} in, '
                f'{self.num_classes} {self._output.tensor_type} out {scaling}, '
                f'core {self.core_id}, priority {self.priority}')

    def close(self) -> None:
        """Drop the model: pyeasy_dnn never releases its handle, so memory stays allocated."""
        with self._lock:
            self._model = None
