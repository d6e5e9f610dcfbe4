"""Reading the bundled quantized MobileNetV1 TFLite files into one network description.

The TFLite files are parsed with the pure-Python `tflite` flatbuffer package (no TensorFlow).
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mobilenetv1_ros.core.errors import ModelError
from mobilenetv1_ros.core.files import read_regular_file

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy.typing as npt

__all__ = ['MAX_MODEL_BYTES', 'Conv', 'Network', 'Quant', 'file_sha256', 'parse_network']

#: Largest TFLite file read (flatbuffers end at 2 GiB; MobileNetV1's files are a few MB).
MAX_MODEL_BYTES = 256 << 20


# TFLite schema enumerations used here (tflite.BuiltinOperator, TensorType, Padding, ...).
_OP_CONV_2D = 3
_OP_DEPTHWISE_CONV_2D = 4
_OP_AVERAGE_POOL_2D = 1
_OP_RESHAPE = 22
_OP_SOFTMAX = 25
_TYPE_INT32 = 2
_TYPE_UINT8 = 3
_PADDING_SAME = 0
_ACTIVATION_NONE = 0
_ACTIVATION_RELU6 = 3


@dataclass(frozen=True)
class Quant:
    """Per-tensor affine quantization: real = (q - zero_point) * scale."""

    scale: float
    zero_point: int


@dataclass(frozen=True)
class Conv:
    """One quantized convolution in ONNX layout (OIHW weights)."""

    weight: npt.NDArray[np.int32]  # q - zero_point, shape [O, I/group, kH, kW]
    weight_scale: float
    bias: npt.NDArray[np.int32]
    bias_scale: float
    group: int
    strides: tuple[int, int]
    pads: tuple[int, int, int, int]
    relu6: bool
    input_quant: Quant
    output_quant: Quant


@dataclass(frozen=True)
class Network:
    """What the exporter needs from the two TFLite files."""

    width: int
    height: int
    input_quant: Quant
    convs: tuple[Conv, ...]
    pool_kernel: tuple[int, int]
    pool_strides: tuple[int, int]
    pool_quant: Quant
    head: Conv  # background row already dropped


def _read(path: Path) -> bytes:
    return read_regular_file(path, 'Model file', ModelError, MAX_MODEL_BYTES, allow_empty=False)


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file.

    Raises:
        ModelError: The path is missing, not a regular file, unreadable or over the size cap.
    """
    return hashlib.sha256(_read(path)).hexdigest()


class TfliteFile:
    """A parsed TFLite flatbuffer with helpers to read tensors and operators."""

    def __init__(self, path: Path) -> None:
        import tflite

        self.path = path
        self.data = _read(path)
        if len(self.data) < 8 or not tflite.Model.ModelBufferHasIdentifier(self.data, 0):
            raise ModelError(f'Model file {path!s} is not a TFLite flatbuffer')
        with self.reading():
            self.model = tflite.Model.GetRootAsModel(self.data, 0)
            if self.model.SubgraphsLength() != 1:
                raise self.error(f'has {self.model.SubgraphsLength()} subgraphs, expected 1')
            self.graph = self.model.Subgraphs(0)

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Turn whatever the flatbuffer accessors raise on bad data into a ModelError."""
        try:
            yield
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - flatbuffers raises anything on bad data
            raise self.error(f'is a corrupt TFLite file: {exc}') from exc

    def error(self, what: str) -> ModelError:
        return ModelError(f'Model file {self.path!s} {what}')

    def operators(self) -> list[tuple[int, Any]]:
        """Return (builtin operator code, operator) for every operator in order."""
        result = []
        for index in range(self.graph.OperatorsLength()):
            op = self.graph.Operators(index)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            result.append((max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), op))
        return result

    def shape(self, tensor: int) -> tuple[int, ...]:
        return tuple(int(d) for d in self.graph.Tensors(tensor).ShapeAsNumpy())

    def quant(self, tensor: int) -> Quant:
        quantization = self.graph.Tensors(tensor).Quantization()
        if quantization is None or quantization.ScaleLength() != 1:
            raise self.error(f'tensor {tensor} is not quantized per tensor')
        zero_point = int(quantization.ZeroPoint(0)) if quantization.ZeroPointLength() else 0
        return Quant(float(np.float32(quantization.Scale(0))), zero_point)

    def values(self, tensor: int, tensor_type: int) -> npt.NDArray[Any]:
        info = self.graph.Tensors(tensor)
        if info.Type() != tensor_type:
            raise self.error(f'tensor {tensor} has type {info.Type()}, expected {tensor_type}')
        buffer = self.model.Buffers(info.Buffer())
        if buffer.DataLength():
            raw = buffer.DataAsNumpy().tobytes()
        elif buffer.Offset() > 1:
            raw = self.data[buffer.Offset():buffer.Offset() + buffer.Size()]
        else:
            raise self.error(f'tensor {tensor} has no constant data')
        dtype = np.uint8 if tensor_type == _TYPE_UINT8 else np.dtype('<i4')
        shape = self.shape(tensor)
        array = np.frombuffer(raw, dtype=dtype)
        if array.size != int(np.prod(shape)):
            raise self.error(f'tensor {tensor} holds {array.size} values for shape {shape}')
        return array.reshape(shape)


def _same_or_valid_pads(size: tuple[int, int], kernel: tuple[int, int],
                        strides: tuple[int, int], same: bool) -> tuple[int, int, int, int]:
    """Return ONNX pads [top, left, bottom, right]; TF SAME puts the odd pixel bottom/right."""
    begins, ends = [], []
    for extent, k, stride in zip(size, kernel, strides):
        total = 0
        if same:
            out = -(-extent // stride)
            total = max((out - 1) * stride + k - extent, 0)
        begins.append(total // 2)
        ends.append(total - total // 2)
    return (begins[0], begins[1], ends[0], ends[1])


def _conv_options(tfl: TfliteFile, code: int, op: Any) -> tuple[bool, tuple[int, int], int]:
    """Return (SAME padding, strides, fused activation) of a (depthwise) convolution."""
    import tflite

    table = op.BuiltinOptions()
    options = tflite.Conv2DOptions() if code == _OP_CONV_2D else tflite.DepthwiseConv2DOptions()
    if table is None:
        raise tfl.error('has a convolution without options')
    options.Init(table.Bytes, table.Pos)
    if options.DilationHFactor() not in (0, 1) or options.DilationWFactor() not in (0, 1):
        raise tfl.error('has a dilated convolution, which the exporter does not support')
    strides = (options.StrideH(), options.StrideW())
    return options.Padding() == _PADDING_SAME, strides, options.FusedActivationFunction()


def _parse_conv(tfl: TfliteFile, code: int, op: Any) -> Conv:
    if op.InputsLength() != 3:
        raise tfl.error('has a convolution without bias')
    x, w, b = (int(op.Inputs(i)) for i in range(3))
    y = int(op.Outputs(0))
    same, strides, activation = _conv_options(tfl, code, op)
    if activation not in (_ACTIVATION_NONE, _ACTIVATION_RELU6):
        raise tfl.error(f'has fused activation {activation}; only none and ReLU6 are supported')
    weight = tfl.values(w, _TYPE_UINT8)
    weight_quant = tfl.quant(w)
    in_shape = tfl.shape(x)
    if code == _OP_CONV_2D:
        onnx_weight = weight.transpose(0, 3, 1, 2)  # OHWI -> OIHW
        group = 1
    else:
        onnx_weight = weight.transpose(3, 0, 1, 2)  # 1HWC -> C1HW
        group = in_shape[3]
        if onnx_weight.shape[0] != group:
            raise tfl.error('has a depthwise convolution with a depth multiplier')
    kernel = (onnx_weight.shape[2], onnx_weight.shape[3])
    pads = _same_or_valid_pads((in_shape[1], in_shape[2]), kernel, strides, same)
    out_shape = tfl.shape(y)
    for axis in (0, 1):
        expected = (in_shape[1 + axis] + pads[axis] + pads[2 + axis] - kernel[axis]) \
            // strides[axis] + 1
        if expected != out_shape[1 + axis]:
            raise tfl.error(f'has a convolution output shape {out_shape} that does not match '
                            'its padding')
    centered = onnx_weight.astype(np.int32) - weight_quant.zero_point
    return Conv(
        weight=np.ascontiguousarray(centered),
        weight_scale=weight_quant.scale,
        bias=tfl.values(b, _TYPE_INT32).astype(np.int32),
        bias_scale=tfl.quant(b).scale,
        group=group,
        strides=strides,
        pads=pads,
        relu6=activation == _ACTIVATION_RELU6,
        input_quant=tfl.quant(x),
        output_quant=tfl.quant(y),
    )


def _op_name(code: int) -> str:
    import tflite

    names = [name for name, value in vars(tflite.BuiltinOperator).items()
             if value == code and not name.startswith('_')]
    return names[0] if names else str(code)


def parse_network(extractor_path: Path, head_path: Path) -> Network:
    """Read the embedding extractor and the head into one network description."""
    import tflite

    extractor = TfliteFile(extractor_path)
    with extractor.reading():
        graph_input = int(extractor.graph.Inputs(0))
        in_shape = extractor.shape(graph_input)
        if len(in_shape) != 4 or in_shape[0] != 1 or in_shape[3] != 3 \
                or in_shape[1] % 2 or in_shape[2] % 2:
            raise extractor.error(f'has input shape {list(in_shape)}, expected [1, H, W, 3] '
                                  'with even H and W')
        if extractor.graph.Tensors(graph_input).Type() != _TYPE_UINT8:
            raise extractor.error('does not take a uint8 image')
        convs: list[Conv] = []
        pool: tuple[tuple[int, int], tuple[int, int], Quant] | None = None
        previous = graph_input
        for code, op in extractor.operators():
            if pool is not None:
                raise extractor.error(f'has operator {_op_name(code)} after the average pool')
            if int(op.Inputs(0)) != previous:
                raise extractor.error('is not a single chain of operators')
            previous = int(op.Outputs(0))
            if code in (_OP_CONV_2D, _OP_DEPTHWISE_CONV_2D):
                convs.append(_parse_conv(extractor, code, op))
            elif code == _OP_AVERAGE_POOL_2D:
                table = op.BuiltinOptions()
                options = tflite.Pool2DOptions()
                options.Init(table.Bytes, table.Pos)
                pool_in = extractor.shape(int(op.Inputs(0)))
                kernel = (options.FilterHeight(), options.FilterWidth())
                if options.Padding() == _PADDING_SAME or kernel != pool_in[1:3] \
                        or options.FusedActivationFunction() != _ACTIVATION_NONE:
                    raise extractor.error('has an average pool that is not global')
                pool = (kernel, (options.StrideH(), options.StrideW()),
                        extractor.quant(previous))
            else:
                raise extractor.error(f'has unsupported operator {_op_name(code)}')
        if not convs or pool is None:
            raise extractor.error('does not end with convolutions and an average pool')
        channels = extractor.shape(previous)[-1]
        input_quant = extractor.quant(graph_input)
    head = TfliteFile(head_path)
    with head.reading():
        head_conv = _parse_head(head, pool[2], channels)
    return Network(width=in_shape[2], height=in_shape[1], input_quant=input_quant,
                    convs=tuple(convs), pool_kernel=pool[0], pool_strides=pool[1],
                    pool_quant=pool[2], head=head_conv)


def _parse_head(head: TfliteFile, embedding_quant: Quant, channels: int) -> Conv:
    """Read the 1x1 classifier and drop its background class (index 0)."""
    ops = head.operators()
    codes = [code for code, _ in ops]
    if codes != [_OP_CONV_2D, _OP_RESHAPE, _OP_SOFTMAX]:
        names = ', '.join(_op_name(code) for code in codes)
        raise head.error(f'has operators {names}, expected CONV_2D, RESHAPE, SOFTMAX')
    conv = _parse_conv(head, _OP_CONV_2D, ops[0][1])
    if conv.input_quant != embedding_quant:
        raise head.error(f'takes input quantized as {conv.input_quant}, but the extractor '
                         f'produces {embedding_quant}')
    if conv.weight.shape[1:] != (channels, 1, 1) or conv.relu6:
        raise head.error(f'has a head of shape {conv.weight.shape}, expected [classes, '
                         f'{channels}, 1, 1] without activation')
    return Conv(weight=conv.weight[1:], weight_scale=conv.weight_scale, bias=conv.bias[1:],
                 bias_scale=conv.bias_scale, group=1, strides=(1, 1), pads=(0, 0, 0, 0),
                 relu6=False, input_quant=conv.input_quant, output_quant=conv.output_quant)

