"""The opt-in OpenVINO backend with the real exported weights, next to ONNX Runtime.

Real weights, real photos, the real runtime: scripts/setup.sh installs the pinned OpenVINO
(scripts/requirements-peers.txt) into .venv, so these tests fail, naming the install command,
where it is missing. The board lane leaves them out, as it does the onnx backend's (the board
has neither runtime: test/conftest.py BOARD_ABSENT).
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path
from typing import Iterator

import numpy as np
import onnx
import pytest
from reference import NV12_BYTES, SIZE, nv12_of
from shared import IMAGES_DIR, KNOWN_PHOTOS, LABELS_FILE, REPO_ROOT

from mobilenetv1_ros.core.backends import (Backend, available_backends, create_backend,
                                           runtime_available)
from mobilenetv1_ros.core.backends.onnx import OnnxBackend
from mobilenetv1_ros.core.backends.openvino import (OPENVINO_REQUIREMENT, OpenVINOBackend,
                                                    import_openvino, install_command)
from mobilenetv1_ros.core.errors import (BackendError, BackendUnavailableError, ConfigError,
                                         ModelError)
from mobilenetv1_ros.core.frames import bgr_frame, read_image
from mobilenetv1_ros.core.labels import load_labels
from mobilenetv1_ros.core.pipeline import Classifier
from special_files import SPECIAL_KINDS, finishes, special_file

#: Largest difference of any class probability between OpenVINO and ONNX Runtime on the same
#: graph and the same NV12 input (as test/perf/test_openvino_peer.py): the int8 graph's kernels
#: round differently between the runtimes; float32 differs in summation order only.
TOLERANCE = {'int8': 1e-2, 'float32': 1e-4}


@pytest.fixture(scope='module')
def backends(exported: dict[str, Path]) -> Iterator[dict[str, OpenVINOBackend]]:
    created = {precision: OpenVINOBackend(path, num_threads=2)
               for precision, path in exported.items()}
    yield created
    for backend in created.values():
        backend.close()


def test_the_pinned_openvino_is_installed_where_the_tests_run() -> None:
    """setup.sh installs exactly the release the requirements file and the error name."""
    pinned = [line.strip() for line in
              (REPO_ROOT / 'scripts' / 'requirements-peers.txt').read_text().splitlines()
              if line.strip() and not line.startswith('#')]
    assert pinned == [OPENVINO_REQUIREMENT]
    try:
        installed = metadata.version('openvino')
    except metadata.PackageNotFoundError:
        pytest.fail(f'OpenVINO is not installed; install it with: {install_command()}')
    assert f'openvino=={installed}' == OPENVINO_REQUIREMENT


def test_backend_contract(backends: dict[str, OpenVINOBackend],
                          exported: dict[str, Path]) -> None:
    version = metadata.version('openvino')
    for precision, backend in backends.items():
        assert isinstance(backend, Backend)
        assert backend.name == 'openvino'
        assert backend.model_path == exported[precision]
        assert (backend.input_width, backend.input_height, backend.num_classes) == (224, 224,
                                                                                     1000)
        assert backend.describe() == (f'openvino {version} (CPU, f32 hint, 2 threads, '
                                      f'unpinned): {exported[precision]}')


@pytest.mark.parametrize('precision', ['int8', 'float32'])
def test_the_classifier_on_openvino_recognises_the_photos_as_onnxruntime_does(
        exported: dict[str, Path], precision: str) -> None:
    labels = load_labels(LABELS_FILE, 1000)
    ours = Classifier(OpenVINOBackend(exported[precision], num_threads=1), labels)
    reference = Classifier(OnnxBackend(exported[precision], num_threads=1), labels)
    try:
        worst = 0.0
        for name, expected in KNOWN_PHOTOS.items():
            frame = bgr_frame(read_image(IMAGES_DIR / name))
            result = ours.classify(frame)
            assert result.top is not None and result.top.class_id == expected, name
            assert result.probabilities.shape == (1000,)
            assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-3)
            assert result.times.infer_ms > 0.0
            expected_probabilities = reference.classify(frame).probabilities
            worst = max(worst, float(np.abs(result.probabilities
                                            - expected_probabilities).max()))
        assert 0.0 < worst <= TOLERANCE[precision], worst
    finally:
        ours.close()
        reference.close()


def test_scores_are_a_fresh_float32_vector_for_any_shape_of_the_right_size(
        backends: dict[str, OpenVINOBackend]) -> None:
    backend = backends['int8']
    nv12 = nv12_of(IMAGES_DIR / 'parrot.jpg')
    flat = backend.infer(nv12)
    assert flat.dtype == np.float32 and flat.shape == (1000,)
    assert int(flat.argmax()) == KNOWN_PHOTOS['parrot.jpg']
    np.testing.assert_array_equal(backend.infer(nv12.reshape(SIZE * 3 // 2, SIZE)), flat)
    strided = np.zeros(NV12_BYTES * 2, np.uint8)
    strided[::2] = nv12
    np.testing.assert_array_equal(backend.infer(strided[::2]), flat)
    other = backend.infer(nv12_of(IMAGES_DIR / 'cat.bmp'))
    assert int(flat.argmax()) == KNOWN_PHOTOS['parrot.jpg'], 'a later infer changed the scores'
    assert int(other.argmax()) == KNOWN_PHOTOS['cat.bmp']


def test_closed_backend_fails(exported: dict[str, Path]) -> None:
    with OpenVINOBackend(exported['int8'], num_threads=1) as backend:
        backend.infer(np.zeros(NV12_BYTES, np.uint8))
    with pytest.raises(BackendError, match=f'OpenVINO backend for {exported["int8"]} is closed'):
        backend.infer(np.zeros(NV12_BYTES, np.uint8))


def test_missing_model_is_named(tmp_path: Path) -> None:
    path = tmp_path / 'absent.onnx'
    with pytest.raises(ModelError, match=f'^Model file {path} does not exist$'):
        OpenVINOBackend(path)


def test_an_empty_model_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / 'empty.onnx'
    path.touch()
    with pytest.raises(ModelError, match=f'^Model file {path} is empty$'):
        OpenVINOBackend(path)


@pytest.mark.parametrize('kind', sorted(SPECIAL_KINDS))
def test_special_files_are_refused_at_once_saying_what_they_are(tmp_path: Path,
                                                                kind: str) -> None:
    with special_file(kind, tmp_path) as path:
        outcome = finishes(lambda: OpenVINOBackend(path))
    assert isinstance(outcome.error, ModelError), outcome
    assert f'Model file {path}' in str(outcome.error)
    assert SPECIAL_KINDS[kind].removeprefix('is ') in str(outcome.error)


@pytest.mark.parametrize('content', [b'not a model', bytes(range(256)) * 20])
def test_a_file_that_is_not_a_model_is_named(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / 'broken.onnx'
    path.write_bytes(content)
    with pytest.raises(ModelError, match=f'^Model file {path} cannot be compiled by OpenVINO'):
        OpenVINOBackend(path)


def _small_model(path: Path, input_type: int, input_shape: list[int | str]) -> Path:
    """Write a valid ONNX model that is no NV12 classifier: input -> Cast -> Flatten."""
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node('Cast', ['x'], ['c'], to=onnx.TensorProto.FLOAT),
         onnx.helper.make_node('Flatten', ['c'], ['y'])],
        'small', [onnx.helper.make_tensor_value_info('x', input_type, input_shape)],
        [onnx.helper.make_tensor_value_info('y', onnx.TensorProto.FLOAT, None)])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid('', 13)],
                                   ir_version=7)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize('input_type, input_shape', [
    (onnx.TensorProto.FLOAT, [1, 3, 224, 224]),
    (onnx.TensorProto.UINT8, [1, 224, 224, 3]),
    (onnx.TensorProto.FLOAT, [1, NV12_BYTES]),
    (onnx.TensorProto.UINT8, [1, 1000]),
    (onnx.TensorProto.UINT8, ['batch', NV12_BYTES]),
])
def test_models_that_take_no_nv12_image_are_refused(tmp_path: Path, input_type: int,
                                                    input_shape: list[int | str]) -> None:
    path = _small_model(tmp_path / 'other.onnx', input_type, input_shape)
    with pytest.raises(ModelError, match=f'^Model file {path} takes '):
        OpenVINOBackend(path)


def test_an_nv12_model_is_read_as_a_square_image(tmp_path: Path) -> None:
    path = _small_model(tmp_path / 'plain.onnx', onnx.TensorProto.UINT8, [1, 96 * 96 * 3 // 2])
    with OpenVINOBackend(path) as backend:
        assert (backend.input_width, backend.input_height, backend.num_classes) == (96, 96,
                                                                                     13824)
        assert backend.infer(np.full(13824, 7, np.uint8)).tolist() == [7.0] * 13824


@pytest.mark.parametrize('num_threads', [-1, 1.5, '2', True])
def test_a_bad_thread_count_is_named(exported: dict[str, Path], num_threads: object) -> None:
    with pytest.raises(ConfigError, match=f'^Thread count {num_threads!r} is not an integer'):
        OpenVINOBackend(exported['int8'], num_threads=num_threads)  # type: ignore[arg-type]


def test_registry_creates_the_openvino_backend_and_ignores_foreign_options(
        exported: dict[str, Path]) -> None:
    assert runtime_available('openvino')
    assert available_backends()['openvino'] is True
    backend = create_backend('openvino', exported['float32'], num_threads=1, bpu_core=2,
                             providers=['CPUExecutionProvider'], allow_spinning=True)
    try:
        assert isinstance(backend, OpenVINOBackend)
        assert '1 threads' in backend.describe() and str(exported['float32']) in backend.describe()
    finally:
        backend.close()
    with OpenVINOBackend(exported['int8']) as default_threads:
        assert 'default threads' in default_threads.describe()


def test_missing_openvino_names_the_install_command(exported: dict[str, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, 'openvino', None)
    command = f'{sys.executable} -m pip install {OPENVINO_REQUIREMENT}'
    assert install_command() == command
    with pytest.raises(BackendUnavailableError, match='install it with: ') as caught:
        import_openvino()
    assert command in str(caught.value) and "'openvino'" in str(caught.value)
    with pytest.raises(BackendUnavailableError, match='install it with: ') as caught:
        create_backend('openvino', exported['int8'])
    assert command in str(caught.value)
    assert not runtime_available('openvino')
    assert available_backends()['openvino'] is False
