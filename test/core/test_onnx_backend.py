"""The ONNX Runtime backend with the real exported weights."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from reference import NV12_BYTES, SIZE, nv12_of
from shared import IMAGES_DIR, PHOTO_CLASSES

from mobilenetv1_ros.core.backends import Backend, create_backend
from mobilenetv1_ros.core.backends.onnx import OnnxBackend
from mobilenetv1_ros.core.errors import (BackendError, BackendUnavailableError, ConfigError,
                                         ModelError)
from special_files import SPECIAL_KINDS, finishes, special_file


@pytest.fixture(scope='session')
def backends(exported: dict[str, Path]) -> dict[str, OnnxBackend]:
    return {precision: OnnxBackend(str(path), num_threads=2)
            for precision, path in exported.items()}


def write_model(path: Path, input_type: int, input_shape: list[int],
                metadata: dict[str, str] | None = None) -> Path:
    """Write a small valid ONNX model: input -> Cast -> Flatten -> float output."""
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node('Cast', ['x'], ['c'], to=onnx.TensorProto.FLOAT),
         onnx.helper.make_node('Flatten', ['c'], ['y'])],
        'small', [onnx.helper.make_tensor_value_info('x', input_type, input_shape)],
        [onnx.helper.make_tensor_value_info('y', onnx.TensorProto.FLOAT, None)])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid('', 13)],
                                   ir_version=7)
    if metadata:
        onnx.helper.set_model_props(model, metadata)
    onnx.save(model, str(path))
    return path


def test_backend_contract(backends: dict[str, OnnxBackend], exported: dict[str, Path]) -> None:
    for precision, backend in backends.items():
        assert isinstance(backend, Backend)
        assert backend.name == 'onnx'
        assert backend.model_path == exported[precision]
        assert (backend.input_width, backend.input_height) == (224, 224)
        assert backend.num_classes == 1000
        assert backend.precision == precision
        assert backend.describe() == (f'onnx ({precision}, 2 threads, CPUExecutionProvider): '
                                      f'{exported[precision]}')


@pytest.mark.parametrize('precision', ['int8', 'float32'])
@pytest.mark.parametrize('name', sorted(PHOTO_CLASSES))
def test_bundled_photos_are_recognised(backends: dict[str, OnnxBackend], precision: str,
                                       name: str) -> None:
    scores = backends[precision].infer(nv12_of(IMAGES_DIR / name))
    assert scores.dtype == np.float32
    assert scores.shape == (1000,)
    assert scores.sum() == pytest.approx(1.0, abs=1e-4)
    assert int(scores.argmax()) == PHOTO_CLASSES[name]
    assert scores.max() > 0.5


def test_infer_accepts_any_shape_of_the_right_size(backends: dict[str, OnnxBackend]) -> None:
    nv12 = nv12_of(IMAGES_DIR / 'parrot.jpg')
    backend = backends['int8']
    flat = backend.infer(nv12)
    np.testing.assert_array_equal(backend.infer(nv12.reshape(SIZE * 3 // 2, SIZE)), flat)
    strided = np.zeros(NV12_BYTES * 2, np.uint8)
    strided[::2] = nv12
    np.testing.assert_array_equal(backend.infer(strided[::2]), flat)


def test_closed_backend_fails(exported: dict[str, Path]) -> None:
    with OnnxBackend(str(exported['int8']), num_threads=1) as backend:
        backend.infer(np.zeros(NV12_BYTES, np.uint8))
    with pytest.raises(BackendError, match='closed'):
        backend.infer(np.zeros(NV12_BYTES, np.uint8))


def test_missing_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match='absent.onnx'):
        OnnxBackend(str(tmp_path / 'absent.onnx'))


@pytest.mark.parametrize('kind', sorted(SPECIAL_KINDS))
def test_special_files_are_refused_at_once_saying_what_they_are(tmp_path: Path,
                                                                kind: str) -> None:
    # ONNX Runtime itself blocks for ever opening a FIFO and reports a directory or
    # /dev/zero as 'Protobuf parsing failed'.
    with special_file(kind, tmp_path) as path:
        outcome = finishes(lambda: OnnxBackend(str(path)))
    assert isinstance(outcome.error, ModelError), outcome
    assert str(outcome.error) == f'Model file {path}{_link_note(path)} is ' \
                                 f'{SPECIAL_KINDS[kind].removeprefix("is ")}, not a regular file'


def _link_note(path: Path) -> str:
    return f' (a symbolic link to {path.resolve()})' if path.is_symlink() else ''


def test_an_empty_model_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / 'empty.onnx'
    path.touch()
    with pytest.raises(ModelError, match=f'^Model file {path} is empty$'):
        OnnxBackend(str(path))


def test_a_symbolic_link_to_the_model_is_followed(tmp_path: Path,
                                                  exported: dict[str, Path]) -> None:
    link = tmp_path / 'model.onnx'
    link.symlink_to(exported['int8'])
    with OnnxBackend(str(link)) as backend:
        assert backend.model_path == link
        assert int(np.argmax(backend.infer(nv12_of(IMAGES_DIR / 'bulbul.JPEG')))) == \
            PHOTO_CLASSES['bulbul.JPEG']


def test_corrupt_model_is_named(tmp_path: Path) -> None:
    path = tmp_path / 'corrupt.onnx'
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 5000, np.uint8).tobytes())
    with pytest.raises(ModelError, match='corrupt.onnx'):
        OnnxBackend(str(path))


@pytest.mark.parametrize('input_type, input_shape, metadata', [
    (onnx.TensorProto.FLOAT, [1, 3, 224, 224], None),
    (onnx.TensorProto.UINT8, [1, 224, 224, 3], None),
    (onnx.TensorProto.FLOAT, [1, NV12_BYTES], None),
    (onnx.TensorProto.UINT8, [1, 1000], None),
    (onnx.TensorProto.UINT8, ['batch', NV12_BYTES], None),
    (onnx.TensorProto.UINT8, [1, NV12_BYTES], {'input_format': 'rgb'}),
    (onnx.TensorProto.UINT8, [1, NV12_BYTES],
     {'input_format': 'nv12', 'input_width': '320', 'input_height': '240'}),
])
def test_non_nv12_models_are_refused(tmp_path: Path, input_type: int, input_shape: list,
                                     metadata: dict[str, str] | None) -> None:
    path = write_model(tmp_path / 'other.onnx', input_type, input_shape, metadata)
    with pytest.raises(ModelError, match='other.onnx'):
        OnnxBackend(str(path))


def test_nv12_model_without_metadata_is_read_as_square(tmp_path: Path) -> None:
    path = write_model(tmp_path / 'plain.onnx', onnx.TensorProto.UINT8, [1, 96 * 96 * 3 // 2])
    backend = OnnxBackend(str(path))
    assert (backend.input_width, backend.input_height, backend.num_classes) == (96, 96, 13824)
    assert backend.precision == 'unknown'
    assert backend.infer(np.full(13824, 7, np.uint8)).tolist() == [7.0] * 13824


def session_config(backend: OnnxBackend, key: str) -> str:
    return backend._session.get_session_options().get_session_config_entry(key)


def test_spinning_is_off_unless_asked_for(exported: dict[str, Path],
                                         backends: dict[str, OnnxBackend]) -> None:
    key = 'session.intra_op.allow_spinning'
    assert backends['int8'].allow_spinning is False
    assert session_config(backends['int8'], key) == '0'
    spinning = OnnxBackend(str(exported['int8']), num_threads=2, allow_spinning=True)
    assert spinning.allow_spinning is True
    assert session_config(spinning, key) == '1'
    assert spinning.describe() == ('onnx (int8, 2 threads, spinning, CPUExecutionProvider): '
                                   f'{exported["int8"]}')
    nv12 = nv12_of(IMAGES_DIR / 'cat.bmp')
    np.testing.assert_array_equal(spinning.infer(nv12), backends['int8'].infer(nv12))


@pytest.mark.parametrize('options, match', [
    ({'allow_spinning': 1}, '1'),
    ({'allow_spinning': 'no'}, "'no'"),
    ({'num_threads': -1}, '-1'),
    ({'num_threads': 1.5}, '1.5'),
    ({'providers': ['NoSuchExecutionProvider']}, 'NoSuchExecutionProvider'),
])
def test_bad_options(exported: dict[str, Path], options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        OnnxBackend(str(exported['int8']), **options)


def test_registry_creates_onnx_backend_and_ignores_foreign_options(
        exported: dict[str, Path]) -> None:
    backend = create_backend('onnx', str(exported['float32']), num_threads=1,
                             bpu_core=2, providers=['CPUExecutionProvider'])
    assert isinstance(backend, OnnxBackend)
    assert backend.describe() == ('onnx (float32, 1 threads, CPUExecutionProvider): '
                                  f'{exported["float32"]}')
    default_threads = OnnxBackend(str(exported['int8']))
    assert 'default threads' in default_threads.describe()


@pytest.mark.parametrize('name', ['auto', 'tpu', 'ONNX'])
def test_registry_refuses_names_it_does_not_hold(exported: dict[str, Path], name: str) -> None:
    # 'auto' is resolved by mobilenetv1_ros.loading, never by the registry.
    with pytest.raises(ConfigError, match=repr(name)):
        create_backend(name, exported['int8'])


def test_missing_onnxruntime_is_reported(exported: dict[str, Path],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(BackendUnavailableError, match='onnxruntime'):
        OnnxBackend(str(exported['int8']))
