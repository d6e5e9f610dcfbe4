"""Test double of the RDK X5 BPU runtime `hobot_dnn.pyeasy_dnn`, running the real network.

With test/doubles on sys.path it imports as `hobot_dnn.pyeasy_dnn` (board image) and as
`hobot_dnn_rdkx5.pyeasy_dnn` (PyPI wheel). It follows the board's C extension
(D-Robotics x5-hobot-spdev, src/python/dnn_python.cpp) including its traps:

- `load()` failures set an exception and return None, which Python reports as a SystemError
  chained from the RuntimeError (or TypeError for a non-str path).
- `Model.inputs`/`.outputs` build new tensor objects at every access, `Tensor.properties` too;
  `Tensor.buffer` is a fresh copy; `properties.alignedShape`/`validShape` leak a pointer
  (counted in STATE.leaked_pointers).
- `forward(arg)`: for one ndarray the runtime copies `arg.size` BYTES from the array's data
  pointer: no dtype, size or contiguity check. A non-contiguous view is read as raw memory, a
  short array leaves the tail of the previous input in place, a long one is cut at the tensor
  size (the board would overrun it). A list/tuple is cast item by item to uint8. Anything else
  (bytes, memoryview, array.array) prints 'arg_obj is NOT a container.' and the model runs on
  the PREVIOUS input. A failed forward is a SystemError chained from RuntimeError.
- For RGB-input models the caller's array is changed in place (x - 128, clamped at 0).
- forward holds the GIL throughout; a thread that waited for it gets it as soon as forward
  returns, so its forward overwrites the shared output buffer before the first caller reads
  `.buffer`: concurrent callers get each other's results unless they lock (see _Gil).

A model file for the double is a JSON descriptor written by write_model_file(); any other file
is 'corrupt'. The network is real: NV12 -> RGB with OpenCV (BT.601 limited range), the bundled
TFLite embedding extractor and head run by ai_edge_litert, background class 0 dropped. Outputs
are probabilities (the head's softmax) or logits (the head's 1x1 convolution evaluated in float
from its quantized weights), as float32 or as int8/int16/int32 with a fixed per-channel scale
(`properties.scale_data`), the way the BPU toolchain emits quantized outputs.
"""

from __future__ import annotations

import ctypes
import json
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = [
    'FORMAT',
    'STATE',
    'Model',
    'TensorProperties',
    'load',
    'pyDNNTensor',
    'write_model_file',
]

FORMAT = 'hobot_dnn test double model 1'
"""Marker every descriptor file carries; a file without it is reported as corrupt."""

MODELS_DIR = Path(__file__).resolve().parents[2] / 'models'
EXTRACTOR = MODELS_DIR / 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite'
HEAD = MODELS_DIR / 'mobilenet_quant_v1_224_head_layers.tflite'
NETWORK_SIDE = 224
NUM_CLASSES = 1000

_IMAGE_TYPES = ('Y', 'NV12', 'NV12_SEPARATE', 'YUV444', 'RGB', 'BGR')
_TENSOR_TYPES = _IMAGE_TYPES + (
    'int4', 'uint4', 'int8', 'uint8', 'float16', 'int16', 'uint16', 'float32', 'int32',
    'uint32', 'float64', 'int64', 'uint64')
_BUFFER_DTYPES = {'int8': np.int8, 'int16': np.int16, 'int32': np.int32, 'float32': np.float32}
_LAYOUTS = ('NHWC', 'NCHW', 'NONE')
_LOGIT_RANGE = 64.0


class _Gil:
    """The GIL as the board's forward holds it.

    forward never releases the GIL, so other threads wait; CPython then asks for the GIL back and
    hands it over as soon as forward returns, before the caller's next bytecode. A thread that
    waited therefore runs its forward before the caller reads the (shared) output buffer.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition()
        self._waiting = 0
        self._runs = 0

    def run(self, call: Any) -> Any:
        with self._changed:
            self._waiting += 1
        with self._lock:
            with self._changed:
                self._waiting -= 1
            try:
                result = call()
            finally:
                with self._changed:
                    self._runs += 1
                    run, handoff = self._runs, self._waiting > 0
                    self._changed.notify_all()
        if handoff:
            with self._changed:
                self._changed.wait_for(lambda: self._runs > run, timeout=5.0)
        return result


_GIL = _Gil()


@dataclass
class _State:
    """Switches and records shared by both import names of the double.

    Attributes:
        forward_failure: None, 'system_error' (what the board does: RuntimeError set, None
            returned, seen as SystemError), 'runtime_error' (raised directly) or 'none'
            (None returned without an exception).
        load_failure: Same choices for load(), applied to every file.
        load_calls: The argument of every load() call.
        models: Every Model load() returned.
        leaked_pointers: How often alignedShape/validShape were read (each leaks on the board).
    """

    forward_failure: str | None = None
    load_failure: str | None = None
    load_calls: list[Any] = field(default_factory=list)
    models: list[Model] = field(default_factory=list)
    leaked_pointers: int = 0

    def reset(self) -> None:
        """Clear the switches and the records."""
        self.forward_failure = None
        self.load_failure = None
        self.load_calls.clear()
        self.models.clear()
        self.leaked_pointers = 0


STATE = _State()


def _fail(function: str, cause: BaseException, mode: str | None = 'system_error') -> None:
    """Report a failure the way the C extension's `PyErr_SetString + Py_RETURN_NONE` shows."""
    if mode == 'runtime_error':
        raise cause
    if mode == 'none':
        return
    raise SystemError(f'<built-in method {function}> returned a result with an exception set'
                      ) from cause


def write_model_file(path: str | Path, *, name: str = 'mobilenetv1_224x224_nv12',
                     input_type: str = 'NV12', input_layout: str = 'NCHW',
                     input_shape: tuple[int, ...] | None = None, output_type: str = 'float32',
                     output_layout: str = 'NCHW', output_shape: tuple[int, ...] | None = None,
                     output_values: str = 'probabilities', output_scaled: bool | None = None,
                     extractor: str | Path | None = None,
                     head: str | Path | None = None) -> Path:
    """Write a model file the double loads (a JSON descriptor standing for a .bin).

    The defaults describe the model zoo's `mobilenetv1_224x224_nv12.bin` as the board reports
    it: NV12 input with properties (1, 3, 224, 224) NCHW, float32 probabilities 1x1000x1x1 with
    no scale_data. `output_type='int32'` (per-channel scale_data) is the quantized variant.

    Args:
        path: Where to write it.
        name: The model name `Model.name` reports.
        input_type: properties.tensor_type of the input ('NV12', 'NV12_SEPARATE', 'RGB', ...).
        input_layout: 'NCHW', 'NHWC' or 'NONE'.
        input_shape: Defaults to (1, 3, 224, 224) for NCHW, (1, 224, 224, 3) otherwise. Any
            even H and W work: the double resizes the RGB image to the network's 224x224.
        output_type: 'float32' (default, as the zoo model), 'int8', 'int16' or 'int32' (others
            load but read as int8, as on the board).
        output_layout: 'NCHW', 'NHWC' or 'NONE'.
        output_shape: Defaults to (1, 1000, 1, 1) for NCHW, (1, 1, 1, 1000) otherwise.
        output_values: 'probabilities' or 'logits'.
        output_scaled: Whether an integer output has per-channel scale_data (default: yes for
            integer outputs; float32 outputs never have one).
        extractor: TFLite embedding extractor (default: the project's models/ copy).
        head: TFLite head (default: the project's models/ copy).

    Returns:
        The path written.
    """
    if input_shape is None:
        input_shape = (1, 3, NETWORK_SIDE, NETWORK_SIDE) if input_layout == 'NCHW' else (
            1, NETWORK_SIDE, NETWORK_SIDE, 3)
    if output_shape is None:
        output_shape = (1, NUM_CLASSES, 1, 1) if output_layout == 'NCHW' else (
            1, 1, 1, NUM_CLASSES)
    if output_scaled is None:
        output_scaled = output_type != 'float32'
    descriptor = {
        'format': FORMAT,
        'name': name,
        'input': {'name': 'data', 'tensor_type': input_type, 'layout': input_layout,
                  'shape': list(input_shape)},
        'output': {'name': 'prob', 'tensor_type': output_type, 'layout': output_layout,
                   'shape': list(output_shape), 'values': output_values,
                   'scaled': bool(output_scaled)},
        'extractor': str(extractor or EXTRACTOR),
        'head': str(head or HEAD),
    }
    target = Path(path)
    target.write_text(json.dumps(descriptor, indent=1), encoding='utf-8')
    return target


@dataclass(frozen=True)
class _TensorSpec:
    name: str
    tensor_type: str
    layout: str
    shape: tuple[int, ...]
    scale: np.ndarray

    @property
    def count(self) -> int:
        return int(np.prod(self.shape))


def _output_scale(tensor_type: str, values: str, scaled: bool) -> np.ndarray:
    """Per-channel scales varying by channel, large enough that no value saturates."""
    dtype = _BUFFER_DTYPES.get(tensor_type)
    if not scaled or dtype is None or dtype is np.float32:
        return np.zeros(0, dtype=np.float32)
    value_range = 1.0 if values == 'probabilities' else _LOGIT_RANGE
    top = float(np.iinfo(dtype).max)
    channel = np.arange(NUM_CLASSES)
    return (value_range / top * (1.0 + (channel % 7) / 7.0)).astype(np.float32)


class _Network:
    """MobileNetV1 from the two bundled TFLite files."""

    def __init__(self, extractor: str, head: str) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._extractor = Interpreter(model_path=extractor, num_threads=1)
        self._extractor.allocate_tensors()
        self._head = Interpreter(model_path=head, num_threads=1)
        self._head.allocate_tensors()
        self._x_index = self._extractor.get_input_details()[0]['index']
        embedding = self._extractor.get_output_details()[0]
        self._embedding_index = embedding['index']
        self._embedding_scale, self._embedding_zero = embedding['quantization']
        self._head_in = self._head.get_input_details()[0]['index']
        probabilities = self._head.get_output_details()[0]
        self._prob_index = probabilities['index']
        self._prob_scale, self._prob_zero = probabilities['quantization']
        weights = bias = None
        for detail in self._head.get_tensor_details():
            if len(detail['shape']) == 4 and detail['shape'][0] == NUM_CLASSES + 1:
                weights = detail
            elif len(detail['shape']) == 1 and detail['shape'][0] == NUM_CLASSES + 1:
                bias = detail
        if weights is None or bias is None:
            raise RuntimeError(f'{head} has no 1x1 convolution with {NUM_CLASSES + 1} outputs')
        w_scale, w_zero = weights['quantization']
        w_q = self._head.get_tensor(weights['index']).reshape(NUM_CLASSES + 1, -1)
        self._weights = (w_q.astype(np.float64) - w_zero) * w_scale
        self._bias = self._head.get_tensor(bias['index']).astype(np.float64) * bias[
            'quantization'][0]

    def __call__(self, rgb: np.ndarray, values: str) -> np.ndarray:
        """Return the 1000 ImageNet scores of one 224x224 RGB uint8 image."""
        self._extractor.set_tensor(self._x_index, rgb[np.newaxis])
        self._extractor.invoke()
        embedding = self._extractor.get_tensor(self._embedding_index)
        if values == 'logits':
            features = (embedding.reshape(-1).astype(np.float64) - self._embedding_zero) * (
                self._embedding_scale)
            logits = self._weights @ features + self._bias
            return logits[1:].astype(np.float32)
        self._head.set_tensor(self._head_in, embedding)
        self._head.invoke()
        quantized = self._head.get_tensor(self._prob_index).reshape(-1)
        probabilities = (quantized.astype(np.float32) - self._prob_zero) * self._prob_scale
        return probabilities[1:]


_NETWORKS: dict[tuple[str, str], _Network] = {}


def _network(extractor: str, head: str) -> _Network:
    key = (extractor, head)
    if key not in _NETWORKS:
        _NETWORKS[key] = _Network(extractor, head)
    return _NETWORKS[key]


class TensorProperties:
    """properties of a tensor, built anew at every `Tensor.properties` access."""

    def __init__(self, spec: _TensorSpec) -> None:
        self._spec = spec

    @property
    def tensor_type(self) -> str:
        return self._spec.tensor_type

    @property
    def dtype(self) -> str:
        return 'uint8' if self._spec.tensor_type in _IMAGE_TYPES else self._spec.tensor_type

    @property
    def layout(self) -> str:
        return self._spec.layout

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._spec.shape)

    @property
    def scale_data(self) -> np.ndarray:
        return np.array(self._spec.scale, dtype=np.float32)

    @property
    def alignedShape(self) -> int:  # noqa: N802 - the board's name
        STATE.leaked_pointers += 1
        return id(object())

    @property
    def validShape(self) -> int:  # noqa: N802 - the board's name
        STATE.leaked_pointers += 1
        return id(object())


class pyDNNTensor:  # noqa: N801 - the board's name
    """One input or output tensor, built anew at every `Model.inputs`/`.outputs` access."""

    def __init__(self, spec: _TensorSpec, read: Any) -> None:
        self._spec = spec
        self._read = read

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def properties(self) -> TensorProperties:
        return TensorProperties(self._spec)

    @property
    def buffer(self) -> np.ndarray:
        return self._read()


def _byte_bounds(array: np.ndarray) -> tuple[int, int]:
    bounds = getattr(getattr(np.lib, 'array_utils', np), 'byte_bounds', None)
    if bounds is None:  # NumPy 1.x
        bounds = np.byte_bounds
    low, high = bounds(array)
    return int(low), int(high)


def _raw_memory(array: np.ndarray, count: int) -> bytes:
    """Return `count` bytes from the array's data pointer, as memcpy on the board reads them.

    Reading stops at the end of the memory the array's base owns (on the board memcpy would go
    on into whatever follows).
    """
    owner = array
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    start = int(array.__array_interface__['data'][0])
    _, end = _byte_bounds(owner)
    available = max(0, min(count, end - start))
    return ctypes.string_at(start, available) if available else b''


class Model:
    """A loaded model: one input, one output, the real network underneath."""

    def __init__(self, path: str, descriptor: dict[str, Any]) -> None:
        source, sink = descriptor['input'], descriptor['output']
        self._path = path
        self._name = str(descriptor.get('name', Path(path).stem))
        self._input = _TensorSpec(str(source['name']), str(source['tensor_type']),
                                  str(source['layout']), tuple(source['shape']),
                                  np.zeros(0, dtype=np.float32))
        self._values = str(sink['values'])
        scale = _output_scale(str(sink['tensor_type']), self._values, bool(sink['scaled']))
        self._output = _TensorSpec(str(sink['name']), str(sink['tensor_type']),
                                   str(sink['layout']), tuple(sink['shape']), scale)
        self._network = _network(str(descriptor['extractor']), str(descriptor['head']))
        self._height, self._width = self._image_size()
        if self._input.tensor_type == 'NV12_SEPARATE':
            luma = self._width * self._height
            self._memory = [bytearray(luma), bytearray(luma // 2)]
        else:
            self._memory = [bytearray(self._input_capacity())]
        dtype = _BUFFER_DTYPES.get(self._output.tensor_type, np.int8)
        self._result = np.zeros(self._output.shape, dtype=dtype)
        self.double_stats = {'forward': 0, 'inputs': 0, 'outputs': 0, 'core_id': None,
                             'priority': None}

    def _image_size(self) -> tuple[int, int]:
        shape, layout = self._input.shape, self._input.layout
        if len(shape) != 4:
            return 0, 0
        return (shape[2], shape[3]) if layout == 'NCHW' else (shape[1], shape[2])

    def _input_capacity(self) -> int:
        if self._input.tensor_type == 'NV12':
            return self._width * self._height * 3 // 2
        if self._input.tensor_type == 'Y':
            return self._width * self._height
        size = np.dtype(_BUFFER_DTYPES.get(self._input.tensor_type, np.uint8)).itemsize
        return self._input.count * size

    @property
    def name(self) -> str:
        return self._name

    @property
    def estimate_latency(self) -> int:
        return 100

    @property
    def inputs(self) -> list[pyDNNTensor]:
        self.double_stats['inputs'] += 1
        return [pyDNNTensor(self._input, self._read_input)]

    @property
    def outputs(self) -> list[pyDNNTensor]:
        self.double_stats['outputs'] += 1
        return self._output_list()

    def _output_list(self) -> list[pyDNNTensor]:
        return [pyDNNTensor(self._output, self._read_output)]

    def _read_input(self) -> np.ndarray:
        # The board shapes the NV12 memory by the (1, 3, H, W) valid shape as int8: an overread.
        raw = np.frombuffer(b''.join(self._memory), dtype=np.int8)
        out = np.zeros(self._input.count, dtype=np.int8)
        out[:min(raw.size, out.size)] = raw[:out.size]
        return out.reshape(self._input.shape)

    def _read_output(self) -> np.ndarray:
        return self._result.copy()

    def forward(self, arg: Any, core_id: int = 0, priority: int = 0) -> list[pyDNNTensor] | None:
        """Copy the input to the model's memory, run the network, return the output list."""
        return _GIL.run(lambda: self._forward(arg, core_id, priority))

    def _forward(self, arg: Any, core_id: int, priority: int) -> list[pyDNNTensor] | None:
        if not isinstance(core_id, int) or not isinstance(priority, int):
            _fail('forward', TypeError('Failed to parse arguments.'))
            return None
        self.double_stats.update(forward=self.double_stats['forward'] + 1,
                                 core_id=core_id, priority=priority)
        chunks = self._chunks(arg)
        if chunks is None:
            return None
        if len(chunks) > 1:
            print('Error: Too many inputs for the model!', file=sys.stderr)
            _fail('forward', RuntimeError('forward execution failed.'))
            return None
        for data, size in chunks:
            if size <= 0:
                print(f'Error: Invalid data size ({size}) for input 0', file=sys.stderr)
                _fail('forward', RuntimeError('forward execution failed.'))
                return None
            self._store(data, size)
        if STATE.forward_failure is not None:
            print('hbDNNInfer failed', file=sys.stderr)
            _fail('forward', RuntimeError('forward execution failed.'),
                  STATE.forward_failure)
            return None
        self._run()
        return self._output_list()

    def _chunks(self, arg: Any) -> list[tuple[bytes, int]] | None:
        if isinstance(arg, np.ndarray):
            if self._input.tensor_type == 'RGB':
                arg[...] = np.clip(arg.astype(np.int16) - 128, 0, 255).astype(arg.dtype)
            return [(_raw_memory(arg, arg.size), arg.size)]
        if isinstance(arg, (list, tuple)):
            chunks = []
            for item in arg:
                if not isinstance(item, np.ndarray):
                    _fail('forward', TypeError('Each element in arg_obj must be a NumPy array.'))
                    return None
                as_bytes = item if item.dtype == np.uint8 else item.astype(np.uint8)
                chunks.append((_raw_memory(as_bytes, as_bytes.size), as_bytes.size))
            return chunks
        print('arg_obj is NOT a container.', file=sys.stdout)
        return []

    def _store(self, data: bytes, size: int) -> None:
        if self._input.tensor_type == 'NV12_SEPARATE':
            luma = size // 3 * 2
            parts = [(self._memory[0], data[:luma], luma),
                     (self._memory[1], data[luma:luma + size // 3], size // 3)]
        else:
            parts = [(self._memory[0], data, size)]
        for memory, part, wanted in parts:
            count = min(wanted, len(memory), len(part))
            memory[:count] = part[:count]

    def _run(self) -> None:
        if self._input.tensor_type not in ('NV12', 'NV12_SEPARATE'):
            raise NotImplementedError(
                f'The hobot_dnn double runs NV12 models only, not {self._input.tensor_type}')
        nv12 = np.frombuffer(b''.join(self._memory), dtype=np.uint8)
        rgb = cv2.cvtColor(nv12.reshape(self._height * 3 // 2, self._width),
                           cv2.COLOR_YUV2RGB_NV12)
        if rgb.shape[:2] != (NETWORK_SIDE, NETWORK_SIDE):
            rgb = cv2.resize(rgb, (NETWORK_SIDE, NETWORK_SIDE), interpolation=cv2.INTER_LINEAR)
        scores = self._network(np.ascontiguousarray(rgb), self._values)
        dtype = self._result.dtype
        if dtype == np.float32:
            self._result[...] = scores.reshape(self._output.shape)
            return
        scale = self._output.scale if self._output.scale.size else np.ones(1, np.float32)
        limits = np.iinfo(dtype)
        quantized = np.clip(np.rint(scores / scale), limits.min, limits.max)
        self._result[...] = quantized.astype(dtype).reshape(self._output.shape)


def _read_descriptor(path: str) -> dict[str, Any] | None:
    try:
        text = Path(path).read_text(encoding='utf-8')
        descriptor = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(descriptor, dict) or descriptor.get('format') != FORMAT:
        return None
    for key, choices in (('input', _TENSOR_TYPES), ('output', _TENSOR_TYPES)):
        tensor = descriptor.get(key)
        if (not isinstance(tensor, dict) or tensor.get('tensor_type') not in choices
                or tensor.get('layout') not in _LAYOUTS):
            return None
    return descriptor


def load(model_file: Any) -> list[Model] | None:
    """Load model files: a path string or a list of path strings -> one Model per file."""
    STATE.load_calls.append(model_file)
    if isinstance(model_file, str):
        files = [model_file]
    elif isinstance(model_file, list):
        files = model_file
    else:
        _fail('load', TypeError('model_file must be a string or a list'))
        return None
    models = []
    for file in files:
        if not isinstance(file, str):
            _fail('load', TypeError('model_file must be a string or a list of strings'))
            return None
        descriptor = _read_descriptor(file)
        if descriptor is None or STATE.load_failure is not None:
            print(f'[BPU] failed to load model file {file}', file=sys.stderr)
            _fail('load', RuntimeError('hbDNNInitializeFromFiles failed'),
                  STATE.load_failure or 'system_error')
            return None
        model = Model(file, descriptor)
        STATE.models.append(model)
        models.append(model)
    return models
