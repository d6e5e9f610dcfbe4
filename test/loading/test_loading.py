"""Options -> Classifier: 'auto', the BPU model search and the default CPU model.

The BPU cases run against the hobot_dnn test double (test/doubles), which runs the real network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from shared import IMAGES_DIR, PHOTO_CLASSES

from mobilenetv1_ros.core.assets import bpu_model_search
from mobilenetv1_ros.core.backends.bpu import BpuBackend
from mobilenetv1_ros.core.backends import runtime_available
from mobilenetv1_ros.core.backends.onnx import OnnxBackend
from mobilenetv1_ros.core.backends.openvino import OpenVINOBackend
from mobilenetv1_ros.core.errors import (
    BackendUnavailableError,
    ConfigError,
    LabelsError,
    ModelError,
)
from mobilenetv1_ros.core.frames import bgr_frame, read_image
from mobilenetv1_ros.loading import BackendChoice, choose_backend, load_classifier, model_for
from mobilenetv1_ros.options import ClassifierOptions

BPU_NAME = 'mobilenetv1_224x224_nv12.bin'


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / 'cache'
    monkeypatch.setenv('MOBILENETV1_ROS_CACHE', str(directory))
    return directory


@pytest.fixture
def roots(tmp_path: Path) -> list[Path]:
    """Two empty directories to search for the BPU model in."""
    directories = [tmp_path / 'first', tmp_path / 'second']
    for directory in directories:
        directory.mkdir()
    return directories


def recognises_the_photos(options: ClassifierOptions,
                          bpu_model_roots: list[Path] | None = None) -> str:
    """Load a classifier, check it on the bundled photos, return its backend's name."""
    classifier = load_classifier(options, bpu_model_roots=bpu_model_roots)
    try:
        for name, expected in PHOTO_CLASSES.items():
            top = classifier.classify(bgr_frame(read_image(IMAGES_DIR / name))).top
            assert top is not None and top.class_id == expected, name
        return classifier.backend.name
    finally:
        classifier.close()


@pytest.mark.board
def test_auto_picks_bpu_where_hobot_dnn_imports_and_a_model_is_found(
        make_bpu_model: Callable[..., Path], roots: list[Path]) -> None:
    path = make_bpu_model()
    target = roots[1] / BPU_NAME
    path.rename(target)
    choice = choose_backend(ClassifierOptions(), bpu_model_roots=roots)
    assert choice == BackendChoice('bpu', target, choice.reason)
    assert 'hobot_dnn imports' in choice.reason and str(target) in choice.reason
    classifier = load_classifier(ClassifierOptions(), bpu_model_roots=roots)
    try:
        assert isinstance(classifier.backend, BpuBackend)
        assert classifier.backend.model_path == target
    finally:
        classifier.close()
    assert recognises_the_photos(ClassifierOptions(), bpu_model_roots=roots) == 'bpu'


@pytest.mark.board
def test_auto_picks_onnx_where_hobot_dnn_imports_but_no_model_is_found(
        dnn: object, roots: list[Path]) -> None:
    choice = choose_backend(ClassifierOptions(), bpu_model_roots=roots)
    assert (choice.backend, choice.model_path) == ('onnx', None)
    assert 'no BPU model was found' in choice.reason
    for root in roots:
        assert str(root / BPU_NAME) in choice.reason


def test_auto_picks_onnx_without_hobot_dnn(no_bpu_runtime: None, roots: list[Path],
                                           cache: Path) -> None:
    (roots[0] / BPU_NAME).write_bytes(b'a model for a runtime that is missing')
    options = ClassifierOptions(num_threads=1)
    choice = choose_backend(options, bpu_model_roots=roots)
    assert choice == BackendChoice('onnx', None, 'auto: hobot_dnn does not import here')
    assert model_for(choice, options).parent == cache
    assert recognises_the_photos(options, bpu_model_roots=roots) == 'onnx'


@pytest.mark.board
def test_auto_follows_the_model_file_it_is_given(no_bpu_runtime: None, tmp_path: Path) -> None:
    bpu = choose_backend(ClassifierOptions(model_path=str(tmp_path / 'zoo.BIN')))
    assert (bpu.backend, bpu.model_path) == ('bpu', tmp_path / 'zoo.BIN')
    onnx = choose_backend(ClassifierOptions(model_path=str(tmp_path / 'mine.onnx')))
    assert (onnx.backend, onnx.model_path) == ('onnx', tmp_path / 'mine.onnx')
    with pytest.raises(BackendUnavailableError, match='backend:=onnx'):
        load_classifier(ClassifierOptions(model_path=str(tmp_path / 'zoo.bin')))


@pytest.mark.board
def test_bpu_with_an_empty_model_path_searches_in_order(
        make_bpu_model: Callable[..., Path], roots: list[Path]) -> None:
    for root in roots:
        make_bpu_model(f'{root.name}.bin').rename(root / BPU_NAME)
    options = ClassifierOptions(backend='bpu')
    choice = choose_backend(options, bpu_model_roots=roots)
    assert (choice.backend, choice.model_path) == ('bpu', roots[0] / BPU_NAME)
    assert model_for(choice, options) == roots[0] / BPU_NAME
    assert recognises_the_photos(options, bpu_model_roots=roots) == 'bpu'


@pytest.mark.board
def test_bpu_searches_the_board_dirs_from_the_environment(
        make_bpu_model: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    board = tmp_path / 'board'
    board.mkdir()
    make_bpu_model().rename(board / BPU_NAME)
    monkeypatch.setenv('MOBILENETV1_ROS_BOARD_MODEL_DIRS', str(board))
    in_share = [path for path in bpu_model_search()[:-1] if path.is_file()]
    if in_share:
        pytest.skip(f'a share directory holds the BPU model ({in_share[0]}); it comes first')
    assert choose_backend(ClassifierOptions(backend='bpu')).model_path == board / BPU_NAME
    assert choose_backend(ClassifierOptions()).model_path == board / BPU_NAME


@pytest.mark.board
def test_bpu_without_a_model_names_every_path_tried(dnn: object, roots: list[Path]) -> None:
    with pytest.raises(ModelError) as caught:
        choose_backend(ClassifierOptions(backend='bpu'), bpu_model_roots=roots)
    for root in roots:
        assert str(root / BPU_NAME) in str(caught.value)
    with pytest.raises(ModelError, match='No BPU model found'):
        load_classifier(ClassifierOptions(backend='bpu'), bpu_model_roots=roots)


@pytest.mark.board
def test_bpu_with_a_named_model_does_not_search(make_bpu_model: Callable[..., Path],
                                                roots: list[Path]) -> None:
    path = make_bpu_model('elsewhere.bin')
    choice = choose_backend(ClassifierOptions(backend='bpu', model_path=str(path)),
                            bpu_model_roots=roots)
    assert choice == BackendChoice('bpu', path, 'backend bpu requested')


def test_onnx_with_an_empty_model_path_exports_the_default(cache: Path) -> None:
    options = ClassifierOptions(backend='onnx', num_threads=1)
    assert choose_backend(options) == BackendChoice('onnx', None, 'backend onnx requested')
    classifier = load_classifier(options)
    try:
        assert isinstance(classifier.backend, OnnxBackend)
        assert classifier.backend.model_path.parent == cache
        assert classifier.backend.precision == 'int8'
    finally:
        classifier.close()


@pytest.mark.parametrize(('precision', 'chroma'), [('float32', 'bilinear'),
                                                   ('int8', 'nearest')])
def test_precision_and_chroma_select_the_exported_model(cache: Path, precision: str,
                                                        chroma: str) -> None:
    options = ClassifierOptions(backend='onnx', precision=precision, chroma=chroma,
                                num_threads=1)
    path = model_for(choose_backend(options), options)
    assert path.parent == cache and precision in path.name and chroma in path.name
    assert recognises_the_photos(options) == 'onnx'


@pytest.mark.parametrize('precision', ['int8', 'float32'])
def test_openvino_runs_the_cached_model_onnx_runs(cache: Path, precision: str) -> None:
    options = ClassifierOptions(backend='openvino', precision=precision, num_threads=1)
    choice = choose_backend(options)
    assert choice == BackendChoice('openvino', None, 'backend openvino requested')
    onnx = ClassifierOptions(backend='onnx', precision=precision)
    model = model_for(choose_backend(onnx), onnx)
    assert model.parent == cache and precision in model.name
    classifier = load_classifier(options)
    try:
        assert isinstance(classifier.backend, OpenVINOBackend)
        assert classifier.backend.model_path == model
        assert '1 threads' in classifier.backend.describe()
    finally:
        classifier.close()
    assert recognises_the_photos(options) == 'openvino'


def test_openvino_takes_a_named_onnx_model(exported: dict[str, Path]) -> None:
    options = ClassifierOptions(backend='openvino', model_path=str(exported['float32']),
                                backend_options={'allow_spinning': True})
    assert choose_backend(options) == BackendChoice('openvino', exported['float32'],
                                                    'backend openvino requested')
    assert recognises_the_photos(options) == 'openvino'


def test_auto_never_picks_openvino(no_bpu_runtime: None, tmp_path: Path) -> None:
    assert runtime_available('openvino'), 'OpenVINO does not import: the test proves nothing'
    assert choose_backend(ClassifierOptions()).backend == 'onnx'
    named = ClassifierOptions(model_path=str(tmp_path / 'model.onnx'))
    assert choose_backend(named).backend == 'onnx'


def test_a_named_onnx_model_is_used_as_is(exported: dict[str, Path]) -> None:
    options = ClassifierOptions(backend='onnx', model_path=str(exported['float32']),
                                precision='int8', num_threads=1)
    classifier = load_classifier(options)
    try:
        assert classifier.backend.model_path == exported['float32']
        assert classifier.backend.precision == 'float32'
    finally:
        classifier.close()


def test_options_reach_the_pipeline(exported: dict[str, Path]) -> None:
    options = ClassifierOptions(backend='onnx', model_path=str(exported['int8']),
                                crop='letterbox', interpolation='area', top_k=3,
                                score_threshold=0.01, output_activation='none', num_threads=1,
                                backend_options={'allow_spinning': True})
    classifier = load_classifier(options)
    try:
        assert (classifier.preprocessor.crop.value, classifier.preprocessor.interpolation) == \
            ('letterbox', 'area')
        assert (classifier.top_k, classifier.score_threshold) == (3, 0.01)
        assert classifier.output_activation == 'none'
        assert 'spinning' in classifier.backend.describe()
        assert '1 threads' in classifier.backend.describe()
    finally:
        classifier.close()


@pytest.mark.board
@pytest.mark.parametrize(('options', 'error', 'match'), [
    (ClassifierOptions(backend='tpu'), ConfigError, "'tpu'"),
    (ClassifierOptions(precision='fp16'), ConfigError, "'fp16'"),
    (ClassifierOptions(chroma='linear'), ConfigError, "'linear'"),
    (ClassifierOptions(top_k=0), ConfigError, 'top_k'),
])
def test_bad_options_fail_before_anything_loads(options: ClassifierOptions,
                                                error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        load_classifier(options)


def test_bad_labels_are_named(exported: dict[str, Path],
                                                        tmp_path: Path) -> None:
    labels = tmp_path / 'labels.txt'
    labels.write_text('only\nthree\nnames\n')
    options = ClassifierOptions(backend='onnx', model_path=str(exported['int8']),
                                labels_path=str(labels), num_threads=1)
    with pytest.raises(LabelsError, match=str(labels)):
        load_classifier(options)
