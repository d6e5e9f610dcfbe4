"""The NV12 -> RGB preprocessing inside the exported graph, and the graph builder.

The graph takes one packed NV12 image (uint8 [1, H*W*3/2]) and converts it to uint8 RGB with
OpenCV's fixed-point BT.601 limited-range coefficients: chroma upsampled either nearest
neighbour, as COLOR_YUV2RGB_NV12 does, or bilinearly from samples co-sited with the top-left
luma pixel of each 2x2 block (where COLOR_BGR2YUV_I420 takes them; at those pixels the result
equals COLOR_YUV2RGB_NV12).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt
    import onnx

    from mobilenetv1_ros.export.tflite import Network

__all__ = ['CHROMA_METADATA', 'CHROMA_UPSAMPLINGS', 'INPUT_NAME', 'GraphBuilder', 'input_graph']

#: How the graph brings NV12's half-resolution chroma to full resolution, default first:
#: OpenCV's nearest neighbour (COLOR_YUV2RGB_NV12, the conversion the board model's calibration
#: and the BPU double use), or bilinear from samples on the even pixels.
CHROMA_UPSAMPLINGS = ('nearest', 'bilinear')
CHROMA_METADATA = {'bilinear': 'bilinear-cosited-top-left', 'nearest': 'nearest'}
#: Name of the graph input (packed NV12, uint8 [1, H*W*3/2]).
INPUT_NAME = 'nv12'

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


class GraphBuilder:
    """Collects nodes and initializers under fixed names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, name: str, value: npt.ArrayLike, dtype: npt.DTypeLike) -> str:
        """Add an initializer of the given dtype; return its name."""
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


def _preprocess(builder: GraphBuilder, net: Network, chroma_upsampling: str) -> str:
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


def _upsample_cosited(b: GraphBuilder, half: str, rows: int, cols: int) -> str:
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


def input_graph(builder: GraphBuilder, net: Network, chroma_upsampling: str) -> str:
    """Add the preprocessing and the TFLite input dequantization; return the float tensor."""
    q = net.input_quant
    return builder.node('DequantizeLinear', [
        _preprocess(builder, net, chroma_upsampling),
        builder.const('preprocess/rgb.scale', q.scale, np.float32),
        builder.const('preprocess/rgb.zero_point', q.zero_point, np.uint8)], 'preprocess/rgb')

