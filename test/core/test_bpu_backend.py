"""BpuBackend against the hobot_dnn test double, which runs the real MobileNetV1 underneath."""

from __future__ import annotations

import importlib.util
import sys
import threading

import cv2
import numpy as np
import pytest
from shared import IMAGES_DIR
from shared import PHOTO_CLASSES as EXPECTED

from mobilenetv1_ros.core.backends import (
    Backend,
    available_backends,
    create_backend,
    nv12_size,
    runtime_available,
)
from mobilenetv1_ros.core.backends.bpu import BpuBackend, import_pyeasy_dnn
from mobilenetv1_ros.core.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    ImageError,
    ModelError,
)
from mobilenetv1_ros.core.preprocess import Preprocessor
from special_files import SPECIAL_KINDS, finishes, special_file

#: The BPU backend is the board's (`board`: test/conftest.py).
pytestmark = pytest.mark.board

# Fixtures from test/conftest.py: dnn (the hobot_dnn double on sys.path), no_bpu_runtime,
# make_bpu_model (a model file for the double).


@pytest.fixture(scope='module')
def frames() -> dict[str, np.ndarray]:
    """The package's preprocessing: center crop 0.875, 224, NV12."""
    preprocess = Preprocessor(224, 224, crop='center_crop')
    return {name: preprocess.from_bgr(cv2.imread(str(IMAGES_DIR / name))) for name in EXPECTED}


# Import paths and availability

def test_import_prefers_board_package(dnn):
    assert import_pyeasy_dnn().__name__ == 'hobot_dnn.pyeasy_dnn'


def test_import_falls_back_to_pypi_wheel_package(dnn, monkeypatch):
    monkeypatch.setitem(sys.modules, 'hobot_dnn', None)
    assert import_pyeasy_dnn().__name__ == 'hobot_dnn_rdkx5.pyeasy_dnn'


def test_registry_knows_whether_the_runtime_imports(dnn, make_bpu_model):
    assert runtime_available('bpu')
    assert available_backends()['bpu'] is True
    backend = create_backend('bpu', make_bpu_model(), num_threads=2, providers=['ignored'])
    assert isinstance(backend, BpuBackend) and backend.name == 'bpu'


def test_registry_without_the_runtime(no_bpu_runtime, tmp_path):
    assert not runtime_available('bpu')
    # onnx is usable wherever onnxruntime is installed, openvino wherever OpenVINO is (neither
    # in the board lane, as on the board).
    onnx = importlib.util.find_spec('onnxruntime') is not None
    openvino = importlib.util.find_spec('openvino') is not None
    assert available_backends() == {'bpu': False, 'onnx': onnx, 'openvino': openvino}
    with pytest.raises(BackendUnavailableError, match='backend:=onnx'):
        create_backend('bpu', tmp_path / 'model.bin')


def test_missing_runtime_says_how_to_use_the_cpu(no_bpu_runtime, tmp_path):
    with pytest.raises(BackendUnavailableError, match='hobot_dnn') as caught:
        import_pyeasy_dnn()
    assert 'backend:=onnx' in str(caught.value)
    assert '--backend onnx' in str(caught.value)
    with pytest.raises(BackendUnavailableError, match='backend:=onnx'):
        BpuBackend(tmp_path / 'model.bin')


# Real classification through NV12

VARIANTS = {
    'int32-scaled-NCHW': {'output_type': 'int32'},
    'float32-NCHW': {'output_type': 'float32'},
    'int32-scaled-NHWC': {'output_type': 'int32', 'output_layout': 'NHWC'},
    'int16-scaled-NCHW': {'output_type': 'int16'},
    'int32-scaled-logits': {'output_type': 'int32', 'output_values': 'logits'},
    'float32-logits-NHWC': {'output_type': 'float32', 'output_values': 'logits',
                            'output_layout': 'NHWC'},
    'NV12_SEPARATE-input': {'input_type': 'NV12_SEPARATE'},
    'NHWC-input': {'input_layout': 'NHWC'},
}


def test_the_default_double_is_the_zoo_model(make_bpu_model, dnn, frames):
    """Properties as the board reports mobilenetv1_224x224_nv12.bin: the double's default."""
    (model,) = dnn.load([str(make_bpu_model())])
    (tensor,) = model.inputs
    assert (tensor.properties.tensor_type, tensor.properties.layout) == ('NV12', 'NCHW')
    assert tuple(tensor.properties.shape) == (1, 3, 224, 224)
    (output,) = model.outputs
    assert (output.properties.tensor_type, output.properties.layout) == ('float32', 'NCHW')
    assert tuple(output.properties.shape) == (1, 1000, 1, 1)
    assert output.properties.scale_data.size == 0
    (result,) = model.forward(np.ascontiguousarray(frames['bulbul.JPEG'], dtype=np.uint8))
    assert result.buffer.dtype == np.float32 and result.buffer.shape == (1, 1000, 1, 1)
    assert abs(float(result.buffer.sum()) - 1.0) < 0.01, 'probabilities'
    assert int(np.argmax(result.buffer)) == EXPECTED['bulbul.JPEG']


@pytest.mark.parametrize('variant', VARIANTS)
def test_classifies_real_photos(make_bpu_model, frames, variant):
    backend = BpuBackend(make_bpu_model(**VARIANTS[variant]))
    assert isinstance(backend, Backend)
    assert (backend.input_width, backend.input_height, backend.num_classes) == (224, 224, 1000)
    for name, expected in EXPECTED.items():
        scores = backend.infer(frames[name])
        assert scores.dtype == np.float32
        assert scores.shape == (1000,)
        assert int(np.argmax(scores)) == expected, name


def test_quantized_and_float_outputs_agree(make_bpu_model, frames, dnn):
    quantized = BpuBackend(make_bpu_model('int32.bin', output_type='int32'))
    floating = BpuBackend(make_bpu_model('f32.bin', output_type='float32'))
    assert quantized.describe() != floating.describe()
    scale = dnn.STATE.models[0].outputs[0].properties.scale_data
    assert scale.size == 1000
    assert np.unique(scale).size > 1, 'the double must use distinct per-channel scales'
    for name in EXPECTED:
        from_int = quantized.infer(frames[name])
        from_float = floating.infer(frames[name])
        assert np.argmax(from_int) == np.argmax(from_float)
        np.testing.assert_allclose(from_int, from_float, rtol=1e-6, atol=float(scale.max()))
        assert 0.9 < from_float.sum() < 1.01, 'probabilities'


def test_logits_and_probabilities_rank_alike(make_bpu_model, frames):
    logits = BpuBackend(make_bpu_model('logits.bin', output_type='int32', output_values='logits'))
    probabilities = BpuBackend(make_bpu_model('p.bin', output_type='float32'))
    for name in EXPECTED:
        raw = logits.infer(frames[name])
        assert raw.min() < 0 < raw.max(), 'logits are not probabilities'
        assert np.argmax(raw) == np.argmax(probabilities.infer(frames[name]))


def test_integer_output_without_scale_is_used_as_is(make_bpu_model, frames, dnn):
    backend = BpuBackend(make_bpu_model(output_type='int32', output_values='logits',
                                    output_scaled=False))
    raw = backend.infer(frames['parrot.jpg'])
    assert np.array_equal(raw, np.rint(raw)), 'integer logits, not scaled'
    assert int(np.argmax(raw)) == EXPECTED['parrot.jpg']


@pytest.mark.parametrize(('layout', 'shape'), [('NCHW', (1, 3, 128, 160)),
                                                ('NHWC', (1, 128, 160, 3))])
def test_input_size_read_per_layout(make_bpu_model, frames, layout, shape):
    backend = BpuBackend(make_bpu_model(input_layout=layout, input_shape=shape))
    assert (backend.input_width, backend.input_height) == (160, 128)
    frame = Preprocessor(160, 128).from_bgr(cv2.imread(str(IMAGES_DIR / 'parrot.jpg')))
    assert frame.size == nv12_size(160, 128)
    assert int(np.argmax(backend.infer(frame))) == EXPECTED['parrot.jpg']
    with pytest.raises(ImageError, match=str(nv12_size(160, 128))):
        backend.infer(frames['parrot.jpg'])


# Unsuitable models and failures

@pytest.mark.parametrize('tensor_type', ['RGB', 'BGR', 'Y', 'YUV444', 'float32', 'uint8'])
def test_non_nv12_model_is_refused(make_bpu_model, tensor_type):
    path = make_bpu_model('rgb_model.bin', input_type=tensor_type)
    with pytest.raises(ModelError, match=f"rgb_model.bin takes '{tensor_type}' input"):
        BpuBackend(path)


@pytest.mark.parametrize('tensor_type', ['uint8', 'float16', 'int64'])
def test_unreadable_output_type_is_refused(make_bpu_model, tensor_type):
    path = make_bpu_model('odd_output.bin', output_type=tensor_type)
    with pytest.raises(ModelError, match=f"odd_output.bin has a '{tensor_type}' output"):
        BpuBackend(path)


def test_output_that_is_not_a_vector_is_refused(make_bpu_model):
    with pytest.raises(ModelError, match=r'scalar.bin has output shape \(1, 1, 1, 1\)'):
        BpuBackend(make_bpu_model('scalar.bin', output_shape=(1, 1, 1, 1)))


def test_missing_model_file_is_named_before_loading(dnn, tmp_path):
    path = tmp_path / 'absent_model.bin'
    with pytest.raises(ModelError, match=f'Model file {path} does not exist'):
        BpuBackend(path)
    assert dnn.STATE.load_calls == []


@pytest.mark.parametrize('kind', sorted(SPECIAL_KINDS))
def test_special_files_never_reach_the_runtime(dnn, tmp_path, kind):
    def create():
        try:
            BpuBackend(path)
        finally:
            assert dnn.STATE.load_calls == [], 'the runtime was asked to load it'

    with special_file(kind, tmp_path) as path:
        outcome = finishes(create)
    assert isinstance(outcome.error, ModelError), outcome
    assert str(outcome.error).startswith(f'Model file {path}')
    assert f'{SPECIAL_KINDS[kind]}, not a regular file' in str(outcome.error)


def test_an_empty_model_file_never_reaches_the_runtime(dnn, tmp_path):
    path = tmp_path / 'empty.bin'
    path.touch()
    with pytest.raises(ModelError, match=f'^Model file {path} is empty$'):
        BpuBackend(path)
    assert dnn.STATE.load_calls == []


def test_a_symbolic_link_to_the_model_is_followed(make_bpu_model, frames, dnn, tmp_path):
    link = tmp_path / 'linked.bin'
    link.symlink_to(make_bpu_model())
    backend = BpuBackend(link)
    assert dnn.STATE.load_calls == [[str(link)]]
    assert int(np.argmax(backend.infer(frames['bulbul.JPEG']))) == EXPECTED['bulbul.JPEG']


def test_corrupt_model_file_is_named(dnn, tmp_path):
    path = tmp_path / 'corrupt_model.bin'
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ModelError, match='corrupt_model.bin could not be loaded') as caught:
        BpuBackend(path)
    assert 'hbDNNInitializeFromFiles failed' in str(caught.value)
    assert isinstance(caught.value.__cause__, SystemError)
    assert dnn.STATE.load_calls == [[str(path)]], 'a list of str paths, as the runtime wants'


@pytest.mark.parametrize('mode', ['system_error', 'runtime_error', 'none'])
def test_load_failure_modes_become_model_error(make_bpu_model, dnn, mode):
    path = make_bpu_model('refused.bin')
    dnn.STATE.load_failure = mode
    with pytest.raises(ModelError, match='refused.bin could not be loaded'):
        BpuBackend(path)


@pytest.mark.parametrize('mode', ['system_error', 'runtime_error', 'none'])
def test_forward_failure_becomes_backend_error(make_bpu_model, frames, dnn, mode):
    path = make_bpu_model('failing.bin')
    backend = BpuBackend(path)
    dnn.STATE.forward_failure = mode
    with pytest.raises(BackendError, match=f'model file {path} failed'):
        backend.infer(frames['cat.bmp'])
    dnn.STATE.forward_failure = None
    assert int(np.argmax(backend.infer(frames['cat.bmp']))) == EXPECTED['cat.bmp']


def test_wrong_size_or_dtype_is_an_image_error(make_bpu_model, frames):
    backend = BpuBackend(make_bpu_model())
    frame = frames['cat.bmp']
    with pytest.raises(ImageError, match='75263 bytes.*75264 bytes'):
        backend.infer(frame[:-1])
    with pytest.raises(ImageError, match='75265 bytes'):
        backend.infer(np.concatenate([frame, frame[:1]]))
    with pytest.raises(ImageError, match='dtype float32'):
        backend.infer(frame.astype(np.float32))
    with pytest.raises(ImageError, match='0 bytes'):
        backend.infer(np.zeros(0, dtype=np.uint8))


@pytest.mark.parametrize(('core_id', 'priority'), [(-1, 0), (0, 256), (0, -1)])
def test_bad_core_or_priority_is_a_config_error(make_bpu_model, core_id, priority):
    with pytest.raises(ConfigError):
        BpuBackend(make_bpu_model(), core_id=core_id, priority=priority)


def test_core_and_priority_reach_forward(make_bpu_model, frames, dnn):
    backend = BpuBackend(make_bpu_model(), core_id=0, priority=7, num_threads=3)
    backend.infer(frames['cat.bmp'])
    stats = dnn.STATE.models[0].double_stats
    assert (stats['core_id'], stats['priority']) == (0, 7)


# The runtime's traps, and that the backend avoids them

def test_trap_non_array_input_reruns_the_previous_input(make_bpu_model, frames, dnn, capsys):
    from hobot_dnn import pyeasy_dnn

    model = pyeasy_dnn.load(str(make_bpu_model()))[0]
    cat = model.forward(frames['cat.bmp'])[0].buffer
    again = model.forward(frames['parrot.jpg'].tobytes())[0].buffer
    assert 'arg_obj is NOT a container.' in capsys.readouterr().out
    assert np.array_equal(again, cat), 'bytes are ignored: the previous frame runs again'


def test_trap_non_contiguous_and_short_arrays_are_read_as_raw_memory(make_bpu_model, frames):
    from hobot_dnn import pyeasy_dnn

    model = pyeasy_dnn.load(str(make_bpu_model(output_type='float32')))[0]
    parrot = frames['parrot.jpg']
    reference = model.forward(parrot)[0].buffer
    assert int(np.argmax(reference)) == EXPECTED['parrot.jpg']
    spread = np.zeros(2 * parrot.size, dtype=np.uint8)
    spread[::2] = parrot
    view = spread[::2]
    assert np.array_equal(view, parrot) and not view.flags.c_contiguous
    assert not np.allclose(model.forward(view)[0].buffer, reference, atol=0.05)
    model.forward(frames['cat.bmp'])
    head = model.forward(parrot[:parrot.size // 2])[0].buffer
    assert not np.allclose(head, reference, atol=0.05), 'the tail of the cat stays in place'


def test_backend_feeds_views_and_bytes_correctly(make_bpu_model, frames):
    backend = BpuBackend(make_bpu_model(output_type='float32'))
    parrot = frames['parrot.jpg']
    reference = backend.infer(parrot)
    spread = np.zeros(2 * parrot.size, dtype=np.uint8)
    spread[::2] = parrot
    wide = np.zeros((336, 256), dtype=np.uint8)
    wide[:, :224] = parrot.reshape(336, 224)
    for frame in (spread[::2], wide[:, :224], parrot.reshape(336, 224)):
        backend.infer(frames['cat.bmp'])
        np.testing.assert_array_equal(backend.infer(frame), reference)
    for data in (parrot.tobytes(), bytearray(parrot.tobytes()), memoryview(parrot.tobytes())):
        backend.infer(frames['cat.bmp'])
        np.testing.assert_array_equal(backend.infer(data), reference)


def test_loads_once_and_reads_properties_once(make_bpu_model, frames, dnn):
    backend = BpuBackend(make_bpu_model())
    model = dnn.STATE.models[0]
    accesses = dict(model.double_stats)
    for name in EXPECTED:
        backend.infer(frames[name])
    assert len(dnn.STATE.load_calls) == 1
    assert model.double_stats['forward'] == accesses['forward'] + len(EXPECTED)
    assert model.double_stats['inputs'] == accesses['inputs']
    assert model.double_stats['outputs'] == accesses['outputs']
    assert dnn.STATE.leaked_pointers == 0, 'alignedShape/validShape leak on the board'


def test_concurrent_infer_is_consistent(make_bpu_model, frames):
    backend = BpuBackend(make_bpu_model())
    names = list(EXPECTED)
    reference = {name: backend.infer(frames[name]) for name in names}
    failures: list[str] = []

    def work(offset: int) -> None:
        for step in range(9):
            name = names[(offset + step) % len(names)]
            if not np.array_equal(backend.infer(frames[name]), reference[name]):
                failures.append(name)

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# Description, close

def test_describe_and_close(make_bpu_model, frames):
    path = make_bpu_model('described.bin')
    backend = BpuBackend(path)
    line = backend.describe()
    for part in ('bpu', str(path), "'mobilenetv1_224x224_nv12'", 'NV12 224x224',
                 '1000 float32 out as is'):
        assert part in line
    assert '\n' not in line
    backend.close()
    with pytest.raises(BackendError, match='closed'):
        backend.infer(frames['cat.bmp'])
    backend.close()
