"""Where the package's files are: share directories, bundled weights, photos, the BPU search."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from shared import IMAGES_DIR, PHOTO_CLASSES, REPO_ROOT

from mobilenetv1_ros.core import assets
from mobilenetv1_ros.core.errors import ModelError


BPU_NAME = 'mobilenetv1_224x224_nv12.bin'


@pytest.fixture
def no_board_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(assets.BOARD_MODEL_DIRS_ENV, raising=False)


def _ament_prefix(prefix: Path) -> Path:
    """Make `prefix` an ament prefix that holds this package; return its share directory."""
    marker = prefix / 'share' / 'ament_index' / 'resource_index' / 'packages'
    marker.mkdir(parents=True)
    (marker / assets.PACKAGE).write_text('')
    share = prefix / 'share' / assets.PACKAGE
    share.mkdir()
    return share


@pytest.mark.board
def test_labels_match_the_photos() -> None:
    labels = json.loads(assets.default_labels_path().read_text())
    assert len(labels) == 1000
    assert 'bulbul' in labels[16].lower()
    assert 'egyptian cat' in labels[285].lower()
    assert 'macaw' in labels[88].lower()


@pytest.mark.board
def test_cache_dir_fallbacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / 'explicit'))
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert assets.cache_dir() == tmp_path / 'explicit'
    monkeypatch.delenv(assets.CACHE_ENV)
    assert assets.cache_dir() == tmp_path / 'xdg' / 'mobilenetv1_ros'
    monkeypatch.delenv('XDG_CACHE_HOME')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert assets.cache_dir() == tmp_path / 'home' / '.cache' / 'mobilenetv1_ros'
    assert assets.CACHE_ENV == 'MOBILENETV1_ROS_CACHE'


@pytest.mark.board
def test_bundled_files_are_found() -> None:
    extractor, head = assets.bundled_tflite()
    assert extractor.is_file() and head.is_file()
    assert extractor.parent == assets.share_dir() / 'models'
    assert assets.default_labels_path().is_file()
    assert assets.BPU_MODEL_NAME == BPU_NAME


@pytest.mark.board
def test_bundled_photos_are_package_data() -> None:
    assert assets.photos_dir() == assets.share_dir() / 'images'
    installed = Path(sys.prefix) / 'share' / assets.PACKAGE
    if not (installed / 'models').is_dir():
        pytest.skip(f'the package is not installed under {sys.prefix} (scripts/setup.sh does)')
    for name in [*PHOTO_CLASSES, 'cat_720p.jpg', 'PROVENANCE.md']:
        assert (installed / 'images' / name).read_bytes() == (IMAGES_DIR / name).read_bytes()


@pytest.mark.board
def test_share_dir_of_a_checkout_is_the_source_tree(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    _ament_prefix(tmp_path)
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path))
    assert assets.share_dir() == REPO_ROOT
    assert assets.share_dirs()[0] == REPO_ROOT
    monkeypatch.delenv('AMENT_PREFIX_PATH')
    assert assets.share_dir() == REPO_ROOT


def test_share_dir_of_an_installed_package(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    pytest.importorskip('ament_index_python')
    monkeypatch.setattr(assets, 'BUNDLED_EXTRACTOR', 'not-in-this-checkout.tflite')
    share = _ament_prefix(tmp_path)
    (share / 'models').mkdir()
    (share / 'models' / 'not-in-this-checkout.tflite').write_bytes(b'weights')
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path))
    assert assets.share_dir() == share
    assert assets.share_dirs()[:2] == [REPO_ROOT, share]
    assert assets.bundled_tflite()[0] == share / 'models' / 'not-in-this-checkout.tflite'


def test_share_dirs_list_only_directories_with_models(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    pytest.importorskip('ament_index_python')
    _ament_prefix(tmp_path)  # a share directory without models/
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path))
    dirs = assets.share_dirs()
    assert tmp_path / 'share' / assets.PACKAGE not in dirs
    assert all((directory / 'models').is_dir() for directory in dirs)
    assert len(set(dirs)) == len(dirs)


@pytest.mark.board
def test_default_bpu_search_is_share_dirs_then_the_board(no_board_override: None) -> None:
    expected = [share / 'models' / BPU_NAME for share in assets.share_dirs()]
    expected.append(Path('/opt/hobot/model/x5/basic') / BPU_NAME)
    assert assets.bpu_model_search() == expected
    assert expected[0] == REPO_ROOT / 'models' / BPU_NAME


@pytest.mark.board
def test_board_dirs_come_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    first, second = tmp_path / 'a', tmp_path / 'b'
    monkeypatch.setenv('MOBILENETV1_ROS_BOARD_MODEL_DIRS', os.pathsep.join([str(first),
                                                                           str(second), '']))
    shares = [share / 'models' / BPU_NAME for share in assets.share_dirs()]
    assert assets.bpu_model_search() == [*shares, first / BPU_NAME, second / BPU_NAME]


@pytest.mark.board
def test_find_bpu_model_takes_the_first_file_in_order(tmp_path: Path) -> None:
    roots = [tmp_path / 'empty', tmp_path / 'second', tmp_path / 'third']
    for root in roots:
        root.mkdir()
    (roots[0] / BPU_NAME).mkdir()  # a directory of that name is not a model
    for root in roots[1:]:
        (root / BPU_NAME).write_bytes(b'model')
    search = assets.find_bpu_model(roots)
    assert search.tried == tuple(root / BPU_NAME for root in roots)
    assert search.found == roots[1] / BPU_NAME
    assert search.require('BPU model') == roots[1] / BPU_NAME
    assert assets.bpu_model_search(roots, name='other.bin') == [r / 'other.bin' for r in roots]


@pytest.mark.board
def test_a_failed_search_names_every_path_tried(tmp_path: Path) -> None:
    roots = [tmp_path / 'x', tmp_path / 'y']
    search = assets.find_bpu_model(roots)
    assert search.found is None
    with pytest.raises(ModelError) as caught:
        search.require('BPU model')
    message = str(caught.value)
    assert message.startswith('No BPU model found')
    for root in roots:
        assert str(root / BPU_NAME) in message
    assert 'model_path' in message and '--model' in message
