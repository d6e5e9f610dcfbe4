"""Float32 and int8 (QDQ) ONNX models of MobileNetV1 with NV12 input, written to a file.

The graph applies the TFLite input quantization to the RGB from export.graph, runs the 27
convolutions, the average pool and the 1x1 head without its background class, and outputs
softmax probabilities over the 1000 ImageNet classes (float32 [1, 1000]). Two precisions:
'float32' (dequantized weights) and 'int8' (QDQ: per-channel symmetric int8 weights, uint8
activations with the trained ranges stored in the TFLite file, so no calibration).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mobilenetv1_ros.core.assets import bundled_tflite
from mobilenetv1_ros.core.errors import BackendUnavailableError, ConfigError, ModelError
from mobilenetv1_ros.export.graph import (
    CHROMA_METADATA,
    CHROMA_UPSAMPLINGS,
    INPUT_NAME,
    GraphBuilder,
    input_graph,
)
from mobilenetv1_ros.export.tflite import Conv, Network, Quant, file_sha256, parse_network

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt
    import onnx

__all__ = ['EXPORTER_VERSION', 'OUTPUT_NAME', 'PRECISIONS', 'export_onnx']

#: Bumped whenever the exported graph changes; part of the cached model's file name.
EXPORTER_VERSION = '4'
#: Precisions export_onnx accepts.
PRECISIONS = ('float32', 'int8')
#: Name of the graph output (softmax probabilities, float32 [1, classes]).
OUTPUT_NAME = 'scores'

_OPSET = 13
_IR_VERSION = 7
_PRODUCER = 'mobilenetv1_ros.export'
_FLOAT = 1  # onnx.TensorProto.FLOAT


def _conv_attributes(conv: Conv) -> dict[str, Any]:
    return {'group': conv.group, 'strides': list(conv.strides), 'pads': list(conv.pads),
            'kernel_shape': list(conv.weight.shape[2:])}


def _build_float(net: Network, chroma_upsampling: str) -> GraphBuilder:
    b = GraphBuilder()
    x = input_graph(b, net, chroma_upsampling)
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


def _int8_weights(conv: Conv) -> _Int8Weights:
    """Per output channel symmetric int8 weights, scales, int32 bias and bias scales.

    Channels whose centered uint8 weights fit in [-127, 127] keep the TFLite scale and values
    exactly, so their integer accumulators equal TFLite's. The few wider ones (one or two per
    layer) are rescaled to fit. Keeping them exact would take nonzero weight zero points,
    which send onnxruntime's int8 convolutions (the depthwise ones above all) down much slower
    paths, for no accuracy gain (docs/accuracy.md).
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


def _build_int8(net: Network, chroma_upsampling: str) -> GraphBuilder:
    b = GraphBuilder()

    def quantize(x: str, quant: Quant, name: str) -> str:
        scale = b.const(f'{name}.scale', quant.scale, np.float32)
        zero_point = b.const(f'{name}.zero_point', quant.zero_point, np.uint8)
        x = b.node('QuantizeLinear', [x, scale, zero_point], f'{name}/quantized')
        return b.node('DequantizeLinear', [x, scale, zero_point], f'{name}/dequantized')

    x = input_graph(b, net, chroma_upsampling)
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


def _model(net: Network, precision: str, chroma_upsampling: str,
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
        'chroma_upsampling': CHROMA_METADATA[chroma_upsampling],
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
        bundled_extractor, bundled_head = bundled_tflite()
        extractor = bundled_extractor if extractor is None else extractor
        head = bundled_head if head is None else head
    extractor, head, output = Path(extractor), Path(head), Path(output)
    net = parse_network(extractor, head)
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
