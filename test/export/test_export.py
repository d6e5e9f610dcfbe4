"""Tests of the TFLite -> NV12 ONNX exporter against the real bundled weights."""

from __future__ import annotations

import hashlib
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from reference import NV12_BYTES, SIZE, nv12_of, rgb_of_nv12
from shared import IMAGES_DIR, PHOTO_CLASSES

from mobilenetv1_ros.core.assets import bundled_tflite
from mobilenetv1_ros.core.errors import BackendUnavailableError, ConfigError, ModelError
from mobilenetv1_ros.export import EXPORTER_VERSION, INPUT_NAME, OUTPUT_NAME, export_onnx


def session(path: Path | bytes) -> ort.InferenceSession:
    return ort.InferenceSession(path if isinstance(path, bytes) else str(path),
                                providers=['CPUExecutionProvider'])


@pytest.fixture(scope='session')
def litert_scores():
    """Run the two bundled TFLite files with LiteRT on RGB; return ImageNet-1k probabilities."""
    from ai_edge_litert.interpreter import Interpreter

    extractor_path, head_path = bundled_tflite()
    extractor = Interpreter(model_path=str(extractor_path))
    head = Interpreter(model_path=str(head_path))
    extractor.allocate_tensors()
    head.allocate_tensors()

    def run(rgb: np.ndarray) -> np.ndarray:
        extractor.set_tensor(extractor.get_input_details()[0]['index'], rgb[None])
        extractor.invoke()
        embedding = extractor.get_tensor(extractor.get_output_details()[0]['index'])
        head.set_tensor(head.get_input_details()[0]['index'], embedding)
        head.invoke()
        output = head.get_output_details()[0]
        scale, zero_point = output['quantization']
        quantized = head.get_tensor(output['index'])[0].astype(np.float32)
        return (quantized[1:] - zero_point) * scale

    return run


@pytest.mark.parametrize('precision', ['float32', 'int8'])
def test_export_is_byte_identical(exported: dict[str, Path], tmp_path: Path,
                                  precision: str) -> None:
    again = export_onnx(tmp_path / 'again.onnx', precision)
    assert again.read_bytes() == exported[precision].read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['again.onnx']


def test_precisions_differ(exported: dict[str, Path]) -> None:
    assert exported['float32'].read_bytes() != exported['int8'].read_bytes()
    assert exported['int8'].stat().st_size < exported['float32'].stat().st_size / 3


@pytest.mark.parametrize('precision', ['float32', 'int8'])
def test_graph_contract(exported: dict[str, Path], precision: str) -> None:
    model = onnx.load(str(exported[precision]))
    onnx.checker.check_model(model, full_check=True)
    (graph_input,) = model.graph.input
    (graph_output,) = model.graph.output
    assert graph_input.name == INPUT_NAME == 'nv12'
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_value for d in graph_input.type.tensor_type.shape.dim] == [1, NV12_BYTES]
    assert graph_output.name == OUTPUT_NAME == 'scores'
    assert graph_output.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_value for d in graph_output.type.tensor_type.shape.dim] == [1, 1000]
    assert model.producer_name == 'mobilenetv1_ros.export'
    assert model.producer_version == EXPORTER_VERSION
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    extractor, head = bundled_tflite()
    assert metadata['precision'] == precision
    assert metadata['input_format'] == 'nv12'
    assert metadata['yuv_convention'] == 'bt601-limited'
    assert metadata['chroma_upsampling'] == 'bilinear-cosited-top-left'
    assert (metadata['input_width'], metadata['input_height']) == ('224', '224')
    assert metadata['num_classes'] == '1000'
    assert metadata['exporter_version'] == EXPORTER_VERSION
    assert metadata['source_extractor'] == extractor.name
    assert metadata['source_head'] == head.name
    assert metadata['source_extractor_sha256'] == hashlib.sha256(
        extractor.read_bytes()).hexdigest()
    assert metadata['source_head_sha256'] == hashlib.sha256(head.read_bytes()).hexdigest()


def with_outputs(path: Path, outputs: dict[str, int]) -> ort.InferenceSession:
    """Open a model with some of its intermediate tensors added as graph outputs."""
    model = onnx.load(str(path))
    for name, elem_type in outputs.items():
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, elem_type, None))
    return session(model.SerializeToString())


def sample_frames() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [np.zeros(NV12_BYTES, np.uint8), np.full(NV12_BYTES, 255, np.uint8),
            *rng.integers(0, 256, (4, NV12_BYTES), dtype=np.uint8),
            *(nv12_of(IMAGES_DIR / name) for name in sorted(PHOTO_CLASSES))]


@pytest.mark.parametrize('precision', ['float32', 'int8'])
def test_yuv_to_rgb_is_the_reference_conversion(exported: dict[str, Path],
                                                precision: str) -> None:
    """The in-graph conversion gives the reference bytes, then (x - 128) / 128."""
    rgb_session = with_outputs(exported[precision], {
        'preprocess/rgb/quantized': onnx.TensorProto.UINT8,
        'preprocess/rgb': onnx.TensorProto.FLOAT})
    for nv12 in sample_frames():
        levels, normalised = rgb_session.run(['preprocess/rgb/quantized', 'preprocess/rgb'],
                                             {'nv12': nv12[None]})
        np.testing.assert_array_equal(levels[0].transpose(1, 2, 0), rgb_of_nv12(nv12))
        np.testing.assert_array_equal(normalised, (levels.astype(np.float32) - 128) / 128)


def test_co_sited_pixels_are_opencv_and_the_others_interpolate(
        exported: dict[str, Path]) -> None:
    """Where a chroma sample sits, the RGB is cv2's; between samples it lies between theirs."""
    rgb_session = with_outputs(exported['int8'],
                               {'preprocess/rgb/quantized': onnx.TensorProto.UINT8})
    for nv12 in sample_frames():
        (levels,) = rgb_session.run(['preprocess/rgb/quantized'], {'nv12': nv12[None]})
        ours = levels[0].transpose(1, 2, 0).astype(np.int32)
        nearest = cv2.cvtColor(nv12.reshape(SIZE * 3 // 2, SIZE),
                               cv2.COLOR_YUV2RGB_NV12).astype(np.int32)
        np.testing.assert_array_equal(ours[::2, ::2], nearest[::2, ::2])
    # A flat luma plane and one chroma step between columns 2k and 2k + 2: the column between
    # them takes the midpoint, not either side.
    nv12 = np.full(NV12_BYTES, 128, np.uint8)
    nv12[:SIZE * SIZE] = 120
    chroma = nv12[SIZE * SIZE:].reshape(SIZE // 2, SIZE // 2, 2)
    chroma[:, SIZE // 4:, 1] = 200
    (levels,) = rgb_session.run(['preprocess/rgb/quantized'], {'nv12': nv12[None]})
    red = levels[0, 0, 0, SIZE // 2 - 2:SIZE // 2 + 1].astype(np.int32)
    assert red[0] < red[1] < red[2]
    assert abs(2 * int(red[1]) - int(red[0]) - int(red[2])) <= 1


def test_nearest_chroma_export_is_opencv_everywhere(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """`export --chroma nearest` converts exactly as cv2's COLOR_YUV2RGB_NV12 at every pixel."""
    from mobilenetv1_ros.cli import main

    path = tmp_path / 'nearest.onnx'
    assert main(['export', '--chroma', 'nearest', '-o', str(path)]) == 0
    assert capsys.readouterr().out.strip() == str(path)
    metadata = {prop.key: prop.value for prop in onnx.load(str(path)).metadata_props}
    assert metadata['chroma_upsampling'] == 'nearest'
    rgb_session = with_outputs(path, {'preprocess/rgb/quantized': onnx.TensorProto.UINT8})
    for nv12 in sample_frames():
        (levels,) = rgb_session.run(['preprocess/rgb/quantized'], {'nv12': nv12[None]})
        expected = cv2.cvtColor(nv12.reshape(SIZE * 3 // 2, SIZE), cv2.COLOR_YUV2RGB_NV12)
        np.testing.assert_array_equal(levels[0].transpose(1, 2, 0), expected)


@pytest.mark.parametrize('chroma', ['linear', 'Bilinear', ''])
def test_bad_chroma_upsampling_is_named(tmp_path: Path, chroma: str) -> None:
    with pytest.raises(ConfigError, match=repr(chroma)):
        export_onnx(tmp_path / 'out.onnx', 'int8', chroma_upsampling=chroma)
    assert not (tmp_path / 'out.onnx').exists()


def test_int8_first_convolution_is_bit_exact_with_litert(exported: dict[str, Path]) -> None:
    """Channels keeping the TFLite weights give LiteRT's uint8 output bytes exactly."""
    from ai_edge_litert.interpreter import Interpreter

    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'Warning: Enabling `experimental_preserve_all_tensors`')
        extractor = Interpreter(model_path=str(bundled_tflite()[0]),
                                experimental_preserve_all_tensors=True)
    extractor.allocate_tensors()
    (first,) = [t['index'] for t in extractor.get_tensor_details()
                if t['name'].startswith('MobilenetV1/MobilenetV1/Conv2d_0/Relu6')]
    scales = next(onnx.numpy_helper.to_array(tensor) for tensor
                  in onnx.load(str(exported['int8'])).graph.initializer
                  if tensor.name == 'conv00.weight.scale')
    kept = scales == scales.min()
    assert 28 <= kept.sum() < len(scales)
    ours = with_outputs(exported['int8'], {'conv00/quantized': onnx.TensorProto.UINT8})
    for name in sorted(PHOTO_CLASSES):
        nv12 = nv12_of(IMAGES_DIR / name)
        rgb = rgb_of_nv12(nv12)
        extractor.set_tensor(extractor.get_input_details()[0]['index'], rgb[None])
        extractor.invoke()
        expected = extractor.get_tensor(first)[0].transpose(2, 0, 1).astype(np.int32)
        (actual,) = ours.run(['conv00/quantized'], {'nv12': nv12[None]})
        actual = actual[0].astype(np.int32)
        np.testing.assert_array_equal(actual[kept], expected[kept])
        assert np.abs(actual[~kept] - expected[~kept]).max() <= 2


@pytest.mark.parametrize('name', sorted(PHOTO_CLASSES))
def test_float_model_agrees_with_litert(exported: dict[str, Path], litert_scores,
                                        name: str) -> None:
    nv12 = nv12_of(IMAGES_DIR / name)
    reference = litert_scores(rgb_of_nv12(nv12))
    (scores,) = session(exported['float32']).run(None, {'nv12': nv12[None]})
    assert scores.shape == (1, 1000)
    assert scores[0].argmax() == reference.argmax() == PHOTO_CLASSES[name]
    assert np.abs(scores[0] - reference).max() < 0.01


@pytest.mark.parametrize('name', sorted(PHOTO_CLASSES))
def test_int8_model_agrees_with_float(exported: dict[str, Path], name: str) -> None:
    nv12 = nv12_of(IMAGES_DIR / name)[None]
    (floats,) = session(exported['float32']).run(None, {'nv12': nv12})
    (ints,) = session(exported['int8']).run(None, {'nv12': nv12})
    assert ints[0].argmax() == floats[0].argmax() == PHOTO_CLASSES[name]
    assert np.abs(ints[0] - floats[0]).max() < 0.05
    assert ints.dtype == np.float32
    assert ints.sum() == pytest.approx(1.0, abs=1e-4)


def test_int8_model_runs_integer_kernels(exported: dict[str, Path], tmp_path: Path) -> None:
    """After onnxruntime's graph optimisation every convolution is a QLinearConv."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = str(tmp_path / 'optimized.onnx')
    ort.InferenceSession(str(exported['int8']), options, providers=['CPUExecutionProvider'])
    ops = [node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node]
    assert ops.count('QLinearConv') == 27
    assert 'Conv' not in ops and 'FusedConv' not in ops
    assert 'MatMulInteger' in ops
    assert 'Gemm' not in ops


def test_missing_tflite_is_named(tmp_path: Path) -> None:
    missing = tmp_path / 'nowhere.tflite'
    with pytest.raises(ModelError, match='nowhere.tflite'):
        export_onnx(tmp_path / 'out.onnx', 'float32', extractor=missing)
    with pytest.raises(ModelError, match='nowhere.tflite'):
        export_onnx(tmp_path / 'out.onnx', 'int8', head=missing)
    assert not (tmp_path / 'out.onnx').exists()


@pytest.mark.parametrize('role', ['extractor', 'head'])
@pytest.mark.parametrize('damage', ['garbage', 'truncated', 'labels'])
def test_corrupt_tflite_is_named(tmp_path: Path, role: str, damage: str) -> None:
    extractor, head = bundled_tflite()
    original = extractor if role == 'extractor' else head
    bad = tmp_path / 'bad.tflite'
    if damage == 'garbage':
        bad.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, np.uint8).tobytes())
    elif damage == 'truncated':
        bad.write_bytes(original.read_bytes()[:200_000])
    else:
        bad.write_bytes((extractor.parent / 'ImageNet_1k.json').read_bytes())
    with pytest.raises(ModelError, match='bad.tflite'):
        export_onnx(tmp_path / 'out.onnx', 'int8', **{role: bad})
    assert not (tmp_path / 'out.onnx').exists()


def test_swapped_tflite_files_are_refused(tmp_path: Path) -> None:
    extractor, head = bundled_tflite()
    with pytest.raises(ModelError, match=head.name):
        export_onnx(tmp_path / 'out.onnx', 'float32', extractor=head, head=extractor)


@pytest.mark.parametrize('precision', ['fp16', 'INT8', '', 'uint8'])
def test_bad_precision(tmp_path: Path, precision: str) -> None:
    with pytest.raises(ConfigError, match=repr(precision)):
        export_onnx(tmp_path / 'out.onnx', precision)


def test_unwritable_output_is_named(tmp_path: Path) -> None:
    target = tmp_path / 'taken'
    target.mkdir()
    (target / 'keep').write_text('x')
    with pytest.raises(ModelError, match='taken'):
        export_onnx(target, 'int8')
    assert sorted(p.name for p in target.iterdir()) == ['keep']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['taken']


@pytest.mark.parametrize('module', ['onnx', 'tflite'])
def test_export_without_its_packages_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(BackendUnavailableError, match=module):
        export_onnx(tmp_path / 'out.onnx', 'int8')
