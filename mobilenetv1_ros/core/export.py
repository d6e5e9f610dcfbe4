"""Build NV12-input ONNX models from the bundled quantized MobileNetV1 TFLite files.

The TFLite files are parsed with the pure-Python `tflite` flatbuffer package (no TensorFlow).
The exported graph takes one packed NV12 image (uint8 [1, H*W*3/2]), converts it to uint8 RGB
inside the graph with OpenCV's fixed-point BT.601 limited-range coefficients (chroma upsampled
bilinearly from samples co-sited with the top-left luma pixel of each 2x2 block, which is where
OpenCV's COLOR_BGR2YUV_I420 takes them, so at those pixels the result is OpenCV's
COLOR_YUV2RGB_NV12; or, on request, nearest neighbour as COLOR_YUV2RGB_NV12 does), applies
the TFLite input quantization, runs the 27 convolutions, the average pool and the 1x1 head
without its background class, and outputs softmax probabilities over the 1000 ImageNet classes
(float32 [1, 1000]).

Two precisions: 'float32' (dequantized weights) and 'int8' (QDQ: per-channel symmetric int8
weights, uint8 activations with the trained ranges stored in the TFLite file, so no calibration).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mobilenetv1_ros.core.errors import BackendUnavailableError, ConfigError, ModelError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import numpy.typing as npt
    import onnx

__all__ = [
    'CHROMA_UPSAMPLINGS',
    'EXPORTER_VERSION',
    'INPUT_NAME',
    'OUTPUT_NAME',
    'PRECISIONS',
    'export_onnx',
    'file_sha256',
]

#: Bumped whenever the exported graph changes; part of the cached model's file name.
EXPORTER_VERSION = '4'
#: Precisions export_onnx accepts.
PRECISIONS = ('float32', 'int8')
#: How the graph brings NV12's half-resolution chroma to full resolution, default first:
#: bilinear from samples on the even pixels, or OpenCV's nearest neighbour (COLOR_YUV2RGB_NV12).
CHROMA_UPSAMPLINGS = ('bilinear', 'nearest')
_CHROMA_METADATA = {'bilinear': 'bilinear-cosited-top-left', 'nearest': 'nearest'}
#: Name of the graph input (packed NV12, uint8 [1, H*W*3/2]).
INPUT_NAME = 'nv12'
#: Name of the graph output (softmax probabilities, float32 [1, classes]).
OUTPUT_NAME = 'scores'

_OPSET = 13
_IR_VERSION = 7
_PRODUCER = 'mobilenetv1_ros.core.export'
_FLOAT = 1  # onnx.TensorProto.FLOAT
_UINT8 = 2  # onnx.TensorProto.UINT8
_INT32 = 6  # onnx.TensorProto.INT32

# BT.601 limited-range YUV -> RGB with the standard three-decimal coefficients (rows R, G, B;
# columns Y, U, V), in 20-bit fixed point as OpenCV's COLOR_YUV2RGB_NV12 uses them.
_YUV_TO_RGB = np.array([[1.164, 0.0, 1.596],
                        [1.164, -0.391, -0.813],
                        [1.164, 2.018, 0.0]])
_FIXED_BITS = 20
_LUMA_BLACK = 16
_CHROMA_ZERO = 128

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
class _Quant:
    """Per-tensor affine quantization: real = (q - zero_point) * scale."""

    scale: float
    zero_point: int


@dataclass(frozen=True)
class _Conv:
    """One quantized convolution in ONNX layout (OIHW weights)."""

    weight: npt.NDArray[np.int32]  # q - zero_point, shape [O, I/group, kH, kW]
    weight_scale: float
    bias: npt.NDArray[np.int32]
    bias_scale: float
    group: int
    strides: tuple[int, int]
    pads: tuple[int, int, int, int]
    relu6: bool
    input_quant: _Quant
    output_quant: _Quant


@dataclass(frozen=True)
class _Network:
    """What the exporter needs from the two TFLite files."""

    width: int
    height: int
    input_quant: _Quant
    convs: tuple[_Conv, ...]
    pool_kernel: tuple[int, int]
    pool_strides: tuple[int, int]
    pool_quant: _Quant
    head: _Conv  # background row already dropped


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file.

    Raises:
        ModelError: The file is missing or unreadable.
    """
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ModelError(f'Model file {path!s} cannot be read: {exc.strerror}') from exc


class _TfliteFile:
    """A parsed TFLite flatbuffer with helpers to read tensors and operators."""

    def __init__(self, path: Path) -> None:
        import tflite

        self.path = path
        try:
            self.data = path.read_bytes()
        except FileNotFoundError:
            raise ModelError(f'Model file {path!s} does not exist') from None
        except OSError as exc:
            raise ModelError(f'Model file {path!s} cannot be read: {exc.strerror}') from exc
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

    def quant(self, tensor: int) -> _Quant:
        quantization = self.graph.Tensors(tensor).Quantization()
        if quantization is None or quantization.ScaleLength() != 1:
            raise self.error(f'tensor {tensor} is not quantized per tensor')
        zero_point = int(quantization.ZeroPoint(0)) if quantization.ZeroPointLength() else 0
        return _Quant(float(np.float32(quantization.Scale(0))), zero_point)

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


def _conv_options(tfl: _TfliteFile, code: int, op: Any) -> tuple[bool, tuple[int, int], int]:
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


def _parse_conv(tfl: _TfliteFile, code: int, op: Any) -> _Conv:
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
    return _Conv(
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


def _parse(extractor_path: Path, head_path: Path) -> _Network:
    """Read the embedding extractor and the head into one network description."""
    import tflite

    extractor = _TfliteFile(extractor_path)
    with extractor.reading():
        graph_input = int(extractor.graph.Inputs(0))
        in_shape = extractor.shape(graph_input)
        if len(in_shape) != 4 or in_shape[0] != 1 or in_shape[3] != 3 \
                or in_shape[1] % 2 or in_shape[2] % 2:
            raise extractor.error(f'has input shape {list(in_shape)}, expected [1, H, W, 3] '
                                  'with even H and W')
        if extractor.graph.Tensors(graph_input).Type() != _TYPE_UINT8:
            raise extractor.error('does not take a uint8 image')
        convs: list[_Conv] = []
        pool: tuple[tuple[int, int], tuple[int, int], _Quant] | None = None
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
    head = _TfliteFile(head_path)
    with head.reading():
        head_conv = _parse_head(head, pool[2], channels)
    return _Network(width=in_shape[2], height=in_shape[1], input_quant=input_quant,
                    convs=tuple(convs), pool_kernel=pool[0], pool_strides=pool[1],
                    pool_quant=pool[2], head=head_conv)


def _parse_head(head: _TfliteFile, embedding_quant: _Quant, channels: int) -> _Conv:
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
    return _Conv(weight=conv.weight[1:], weight_scale=conv.weight_scale, bias=conv.bias[1:],
                 bias_scale=conv.bias_scale, group=1, strides=(1, 1), pads=(0, 0, 0, 0),
                 relu6=False, input_quant=conv.input_quant, output_quant=conv.output_quant)


class _GraphBuilder:
    """Collects nodes and initializers under fixed names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, name: str, value: npt.ArrayLike, dtype: npt.DTypeLike) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(self, op_type: str, inputs: Sequence[str], output: str | Sequence[str],
             name: str | None = None, **attributes: Any) -> str:
        """Add a node named after its (first) output; return that output's name."""
        from onnx import helper

        outputs = [output] if isinstance(output, str) else list(output)
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs,
                                           name=name or outputs[0], **attributes))
        return outputs[0]


def _preprocess(builder: _GraphBuilder, net: _Network, chroma_upsampling: str) -> str:
    """Add NV12 -> RGB (uint8 NCHW, the TFLite model's input); return its tensor name.

    With the coefficients in 20-bit fixed point (OpenCV's): chroma = cu * (u - 128) +
    cv * (v - 128) in int32 at chroma resolution, converted to float32 and upsampled bilinearly
    with sample (i, j) on pixel (2i, 2j); rgb = clamp(round((cy * max(y - 16, 0) + chroma) /
    2^20)), half to even. Each step is one IEEE float32 operation per value, so a float32
    reference that does the same steps reproduces the bytes; at the co-sited pixels they are
    OpenCV's COLOR_YUV2RGB_NV12 (the float rounding, below 2^-15 of a level, decides only
    values that close to a half).
    """
    h, w = net.height, net.width
    b = builder
    fixed = np.round(_YUV_TO_RGB * (1 << _FIXED_BITS)).astype(np.int32)
    b.node('Split', [INPUT_NAME, b.const('preprocess/split_sizes', [h * w, h * w // 2],
                                         np.int64)],
           ['preprocess/y_flat', 'preprocess/uv_flat'], 'preprocess/split', axis=1)
    y = b.node('Reshape', ['preprocess/y_flat',
                           b.const('preprocess/y_shape', [1, 1, h, w], np.int64)],
               'preprocess/y_u8')
    luma = b.node('DequantizeLinear', [y, b.const('preprocess/luma_weight', fixed[0, 0],
                                                  np.float32),
                                       b.const('preprocess/black', _LUMA_BLACK, np.uint8)],
                  'preprocess/luma_signed')
    # Luma below video black decodes as black.
    luma = b.node('Relu', [luma], 'preprocess/luma')
    uv = b.node('Reshape', ['preprocess/uv_flat',
                            b.const('preprocess/uv_shape', [1, h * w // 4, 2], np.int64)],
                'preprocess/uv_interleaved')
    uv = b.node('Transpose', [uv], 'preprocess/uv_u8', perm=[0, 2, 1])
    uv = b.node('Cast', [uv], 'preprocess/uv_i32', to=_INT32)
    chroma = b.node('MatMul', [b.const('preprocess/chroma_weight', fixed[:, 1:], np.int32), uv],
                    'preprocess/chroma_product')
    # The chroma zero as a constant: sum over u, v of coefficient x 128.
    chroma = b.node('Sub', [chroma, b.const('preprocess/chroma_zero',
                                            _CHROMA_ZERO * fixed[:, 1:].sum(axis=1)[:, None],
                                            np.int32)], 'preprocess/chroma_flat')
    chroma = b.node('Cast', [chroma], 'preprocess/chroma_float', to=_FLOAT)
    chroma = b.node('Reshape', [chroma, b.const('preprocess/chroma_shape',
                                                [1, 3, h // 2, w // 2], np.int64)],
                    'preprocess/chroma_half')
    if chroma_upsampling == 'nearest':
        chroma = b.node('Resize', [chroma, b.const('preprocess/resize_roi', [], np.float32),
                                   b.const('preprocess/resize_scales', [1, 1, 2, 2], np.float32)],
                        'preprocess/chroma', mode='nearest',
                        coordinate_transformation_mode='asymmetric', nearest_mode='floor')
    else:
        chroma = _upsample_cosited(b, chroma, h // 2, w // 2)
    x = b.node('Add', [luma, chroma], 'preprocess/rgb_fixed')
    return b.node('QuantizeLinear', [
        x, b.const('preprocess/fixed_one', 1 << _FIXED_BITS, np.float32),
        b.const('preprocess/rgb_zero', 0, np.uint8)], 'preprocess/rgb/quantized')


def _upsample_cosited(b: _GraphBuilder, half: str, rows: int, cols: int) -> str:
    """Return the bilinear 2x upsampling of a float [1, C, rows, cols] tensor.

    Sample (i, j) lands on pixel (2i, 2j); odd pixels average their two or four neighbours,
    and the last row and column repeat. One pass per axis: the odd phase is computed at input
    resolution and stacked with the even phase (the input) on a new axis right after the
    upsampled one, so that a reshape interleaves them.
    """
    half_weight = b.const('preprocess/up/half', 0.5, np.float32)

    def phases(x: str, axis: int, size: int, name: str) -> str:
        # The next sample along the axis, the last one repeated: rows by a gather of whole
        # rows; columns (where a gather copies single values) by an edge pad and a slice.
        if axis == 3:
            pads = b.const(f'{name}/pads', [0, 0, 0, 0, 0, 0, 0, 1], np.int64)
            padded = b.node('Pad', [x, pads], f'{name}/padded', mode='edge')
            following = b.node('Slice', [padded, b.const(f'{name}/next_start', [1], np.int64),
                                         b.const(f'{name}/next_end', [size + 1], np.int64),
                                         b.const(f'{name}/next_axis', [axis], np.int64)],
                               f'{name}/next')
        else:
            following = b.node('Gather', [x, b.const(f'{name}/next_index',
                                                     [*range(1, size), size - 1], np.int64)],
                               f'{name}/next', axis=axis)
        odd = b.node('Mul', [b.node('Add', [x, following], f'{name}/sum'), half_weight],
                     f'{name}/odd')
        phase_axis = b.const(f'{name}/phase_axis', [axis + 1], np.int64)
        return b.node('Concat', [b.node('Unsqueeze', [x, phase_axis], f'{name}/even_phase'),
                                 b.node('Unsqueeze', [odd, phase_axis], f'{name}/odd_phase')],
                      f'{name}/phases', axis=axis + 1)

    # Columns at input rows (half the work): [1, C, rows, cols, 2] is [1, C, rows, 2 * cols].
    x = phases(half, 3, cols, 'preprocess/up/cols')
    x = b.node('Reshape', [x, b.const('preprocess/up/cols_shape', [1, -1, rows, 2 * cols],
                                      np.int64)], 'preprocess/up/cols_interleaved')
    # Rows: [1, C, rows, 2, 2 * cols] is [1, C, 2 * rows, 2 * cols].
    x = phases(x, 2, rows, 'preprocess/up/rows')
    return b.node('Reshape', [x, b.const('preprocess/up/full_shape', [1, -1, 2 * rows, 2 * cols],
                                         np.int64)], 'preprocess/chroma')


def _input(builder: _GraphBuilder, net: _Network, chroma_upsampling: str) -> str:
    """Add the preprocessing and the TFLite input dequantization; return the float tensor."""
    q = net.input_quant
    return builder.node('DequantizeLinear', [
        _preprocess(builder, net, chroma_upsampling),
        builder.const('preprocess/rgb.scale', q.scale, np.float32),
        builder.const('preprocess/rgb.zero_point', q.zero_point, np.uint8)], 'preprocess/rgb')


def _conv_attributes(conv: _Conv) -> dict[str, Any]:
    return {'group': conv.group, 'strides': list(conv.strides), 'pads': list(conv.pads),
            'kernel_shape': list(conv.weight.shape[2:])}


def _build_float(net: _Network, chroma_upsampling: str) -> _GraphBuilder:
    b = _GraphBuilder()
    x = _input(b, net, chroma_upsampling)
    zero = b.const('relu6/min', 0.0, np.float32)
    six = b.const('relu6/max', 6.0, np.float32)
    for index, conv in enumerate(net.convs):
        name = f'conv{index:02d}'
        weight = b.const(f'{name}.weight', conv.weight * conv.weight_scale, np.float32)
        bias = b.const(f'{name}.bias', conv.bias * np.float64(conv.bias_scale), np.float32)
        x = b.node('Conv', [x, weight, bias], f'{name}/conv', **_conv_attributes(conv))
        if conv.relu6:
            x = b.node('Clip', [x, zero, six], f'{name}/relu6')
    x = b.node('AveragePool', [x], 'pool', kernel_shape=list(net.pool_kernel),
               strides=list(net.pool_strides))
    x = b.node('Reshape', [x, b.const('flatten_shape', [1, -1], np.int64)], 'embedding')
    head = net.head
    weight = b.const('head.weight', head.weight[:, :, 0, 0] * head.weight_scale, np.float32)
    bias = b.const('head.bias', head.bias * np.float64(head.bias_scale), np.float32)
    x = b.node('Gemm', [x, weight, bias], 'logits', transB=1)
    b.node('Softmax', [x], OUTPUT_NAME, axis=1)
    return b


@dataclass(frozen=True)
class _Int8Weights:
    """Per output channel symmetric int8 weights: real = weight * scale."""

    weight: npt.NDArray[np.int8]
    scale: npt.NDArray[np.float32]
    bias: npt.NDArray[np.int32]
    bias_scale: npt.NDArray[np.float32]


def _int8_weights(conv: _Conv) -> _Int8Weights:
    """Per output channel symmetric int8 weights, scales, int32 bias and bias scales.

    Channels whose centered uint8 weights fit in [-127, 127] keep the TFLite scale and values
    exactly, so their integer accumulators equal TFLite's. The few wider ones (one or two per
    layer) are rescaled to fit. Keeping them exact would take nonzero weight zero points,
    which onnxruntime's int8 convolutions run far slower (per-channel ones send its depthwise
    convolutions to a path over 50x slower; one zero point per layer still costs about 40%),
    for no measured accuracy gain.
    """
    channels = conv.weight.shape[0]
    flat = conv.weight.reshape(channels, -1)
    peak = np.abs(flat).max(axis=1)
    wide = peak > 127
    ratio = np.where(wide, peak / 127.0, 1.0)
    weight = np.where(wide[:, None], np.round(flat / ratio[:, None]), flat)
    scale = (np.float64(conv.weight_scale) * ratio).astype(np.float32)
    bias_scale = (np.float32(conv.input_quant.scale) * scale).astype(np.float32)
    real_bias = conv.bias * np.float64(conv.bias_scale)
    bias = np.where(wide, np.round(real_bias / bias_scale), conv.bias)
    return _Int8Weights(weight=weight.astype(np.int8).reshape(conv.weight.shape), scale=scale,
                        bias=bias.astype(np.int32), bias_scale=bias_scale)


def _build_int8(net: _Network, chroma_upsampling: str) -> _GraphBuilder:
    b = _GraphBuilder()

    def quantize(x: str, quant: _Quant, name: str) -> str:
        scale = b.const(f'{name}.scale', quant.scale, np.float32)
        zero_point = b.const(f'{name}.zero_point', quant.zero_point, np.uint8)
        x = b.node('QuantizeLinear', [x, scale, zero_point], f'{name}/quantized')
        return b.node('DequantizeLinear', [x, scale, zero_point], f'{name}/dequantized')

    x = _input(b, net, chroma_upsampling)
    for index, conv in enumerate(net.convs):
        name = f'conv{index:02d}'
        weights = _int8_weights(conv)
        channels = weights.weight.shape[0]
        weight_dq = b.node('DequantizeLinear', [
            b.const(f'{name}.weight', weights.weight, np.int8),
            b.const(f'{name}.weight.scale', weights.scale, np.float32),
            b.const(f'{name}.weight.zero_point', np.zeros(channels), np.int8)],
            f'{name}.weight/dequantized', axis=0)
        bias_dq = b.node('DequantizeLinear', [
            b.const(f'{name}.bias', weights.bias, np.int32),
            b.const(f'{name}.bias.scale', weights.bias_scale, np.float32),
            b.const(f'{name}.bias.zero_point', np.zeros_like(weights.bias), np.int32)],
            f'{name}.bias/dequantized', axis=0)
        x = b.node('Conv', [x, weight_dq, bias_dq], f'{name}/conv', **_conv_attributes(conv))
        out = conv.output_quant
        # Quantizing to a [0, <=6] range clamps exactly like the fused ReLU6 of TFLite.
        if conv.relu6 and not (out.zero_point == 0 and 255 * out.scale <= 6.0 + 1e-6):
            x = b.node('Clip', [x, b.const(f'{name}/relu6.min', 0.0, np.float32),
                                b.const(f'{name}/relu6.max', 6.0, np.float32)],
                       f'{name}/relu6')
        x = quantize(x, out, name)
    x = b.node('AveragePool', [x], 'pool', kernel_shape=list(net.pool_kernel),
               strides=list(net.pool_strides))
    pool_scale = b.const('pool.scale', net.pool_quant.scale, np.float32)
    pool_zero_point = b.const('pool.zero_point', net.pool_quant.zero_point, np.uint8)
    x = b.node('QuantizeLinear', [x, pool_scale, pool_zero_point], 'pool/quantized')
    x = b.node('Reshape', [x, b.const('flatten_shape', [1, -1], np.int64)], 'embedding/quantized')
    # The head as an integer matmul rescaled to float logits (a fused kernel in onnxruntime);
    # QDQ around MatMul would either quantize the logits or run a float matmul.
    head = _int8_weights(net.head)
    x = b.node('MatMulInteger', [x, b.const('head.weight', head.weight[:, :, 0, 0].T, np.int8),
                                 pool_zero_point], 'head/matmul')
    x = b.node('Cast', [x], 'head/matmul_float', to=_FLOAT)
    x = b.node('Mul', [x, b.const('head.scale', head.bias_scale, np.float32)], 'head/scaled')
    x = b.node('Add', [x, b.const('head.bias', head.bias * head.bias_scale.astype(np.float64),
                                  np.float32)], 'logits')
    b.node('Softmax', [x], OUTPUT_NAME, axis=1)
    return b


def _model(net: _Network, precision: str, chroma_upsampling: str,
           sources: Sequence[tuple[str, Path]]) -> onnx.ModelProto:
    from onnx import TensorProto, helper

    build = _build_float if precision == 'float32' else _build_int8
    builder = build(net, chroma_upsampling)
    classes = net.head.weight.shape[0]
    size = net.width * net.height * 3 // 2
    graph = helper.make_graph(
        builder.nodes, f'mobilenetv1_{net.width}x{net.height}_nv12_{precision}',
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, [1, size])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [1, classes])],
        initializer=builder.initializers,
        doc_string='MobileNetV1 ImageNet classifier: packed NV12 (BT.601 limited range) in, '
                   'softmax probabilities over 1000 classes out.')
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', _OPSET)],
                              ir_version=_IR_VERSION, producer_name=_PRODUCER,
                              producer_version=EXPORTER_VERSION)
    metadata = {
        'exporter_version': EXPORTER_VERSION,
        'precision': precision,
        'input_format': 'nv12',
        'yuv_convention': 'bt601-limited',
        'chroma_upsampling': _CHROMA_METADATA[chroma_upsampling],
        'input_width': str(net.width),
        'input_height': str(net.height),
        'num_classes': str(classes),
        'output': 'softmax',
        'activation_ranges': 'tflite-trained' if precision == 'int8' else 'none',
    }
    for role, path in sources:
        metadata[f'source_{role}'] = path.name
        metadata[f'source_{role}_sha256'] = file_sha256(path)
    helper.set_model_props(model, metadata)
    return model


def _bundled() -> tuple[Path, Path]:
    from mobilenetv1_ros.core.models import bundled_tflite

    return bundled_tflite()


def export_onnx(output: Path, precision: str = 'int8', extractor: Path | None = None,
                head: Path | None = None, chroma_upsampling: str = 'bilinear') -> Path:
    """Export the NV12-input MobileNetV1 ONNX model.

    The file is written to a temporary name beside `output` and renamed into place, so a
    reader never sees a partial file. The same inputs always give a byte-identical file.

    Args:
        output: Path of the ONNX file to write (its directory is created).
        precision: 'float32' or 'int8'.
        extractor: Embedding extractor TFLite file; None selects the bundled one.
        head: Classifier head TFLite file; None selects the bundled one.
        chroma_upsampling: One of CHROMA_UPSAMPLINGS.

    Returns:
        The output path.

    Raises:
        ConfigError: The precision or the chroma upsampling is not one the exporter knows.
        BackendUnavailableError: The onnx or tflite package cannot be imported.
        ModelError: A TFLite file is missing, corrupt or not the expected network, or the
            output cannot be written.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f'Precision {precision!r} is not one of: {", ".join(PRECISIONS)}')
    if chroma_upsampling not in CHROMA_UPSAMPLINGS:
        raise ConfigError(f'Chroma upsampling {chroma_upsampling!r} is not one of: '
                          f'{", ".join(CHROMA_UPSAMPLINGS)}')
    for module in ('onnx', 'tflite'):
        try:
            __import__(module)
        except ImportError as exc:
            raise BackendUnavailableError(f'Exporting the ONNX model needs {module!r}, which '
                                          f'cannot be imported: {exc}') from exc
    if extractor is None or head is None:
        bundled_extractor, bundled_head = _bundled()
        extractor = bundled_extractor if extractor is None else extractor
        head = bundled_head if head is None else head
    extractor, head, output = Path(extractor), Path(head), Path(output)
    net = _parse(extractor, head)
    data = _model(net, precision, chroma_upsampling, [('extractor', extractor), ('head', head)]) \
        .SerializeToString()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f'.{output.name}.', suffix='.tmp',
                                         dir=output.parent)
        try:
            with os.fdopen(fd, 'wb') as stream:
                stream.write(data)
            os.chmod(temporary, 0o644)
            os.replace(temporary, output)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ModelError(f'ONNX model {output!s} cannot be written: {exc}') from exc
    return output
