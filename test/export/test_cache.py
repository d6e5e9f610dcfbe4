"""The cache of ONNX models exported from the bundled TFLite files."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import onnx
import pytest
from reference import nv12_of
from shared import IMAGES_DIR

from mobilenetv1_ros.core.backends.onnx import OnnxBackend
from mobilenetv1_ros.core.errors import ConfigError, ModelError
from mobilenetv1_ros.export import cache as export_cache
from mobilenetv1_ros.export import cached_onnx_model

#: The modules whose source is part of the cache key (the exporter proper).
EXPORTER_SOURCES = ('tflite.py', 'graph.py', 'builders.py')


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / 'cache'
    monkeypatch.setenv('MOBILENETV1_ROS_CACHE', str(directory))
    return directory


def metadata(path: Path) -> dict[str, str]:
    return {prop.key: prop.value for prop in onnx.load(str(path)).metadata_props}


def test_default_model_is_exported_once_into_the_cache(cache: Path) -> None:
    path = cached_onnx_model('int8')
    assert path.parent == cache
    assert 'int8' in path.name and path.suffix == '.onnx'
    stamp = path.stat().st_mtime_ns
    assert cached_onnx_model('int8') == path
    assert path.stat().st_mtime_ns == stamp
    floats = cached_onnx_model('float32')
    assert floats.parent == cache and 'float32' in floats.name
    assert sorted(p.name for p in cache.iterdir()) == sorted([path.name, floats.name])
    for model, precision in ((path, 'int8'), (floats, 'float32')):
        with OnnxBackend(model, num_threads=1) as backend:
            assert backend.precision == precision
            assert int(backend.infer(nv12_of(IMAGES_DIR / 'bulbul.JPEG')).argmax()) == 16


def test_chroma_upsampling_is_part_of_the_key(cache: Path) -> None:
    default = cached_onnx_model('int8')
    nearest = cached_onnx_model('int8', 'nearest')
    bilinear = cached_onnx_model('int8', 'bilinear')
    assert nearest != bilinear and 'nearest' in nearest.name and 'bilinear' in bilinear.name
    assert default in (nearest, bilinear)
    assert metadata(nearest)['chroma_upsampling'] == 'nearest'
    assert metadata(bilinear)['chroma_upsampling'] == 'bilinear-cosited-top-left'
    assert len(list(cache.iterdir())) == 2


@pytest.mark.parametrize('source', EXPORTER_SOURCES)
def test_changed_exporter_source_gives_a_new_cached_model(cache: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          source: str) -> None:
    first = cached_onnx_model('int8')
    here = Path(export_cache.__file__).parent
    copy = tmp_path / 'exporter'
    copy.mkdir()
    for name in EXPORTER_SOURCES:
        shutil.copy(here / name, copy / name)
    monkeypatch.setattr(export_cache, '__file__', str(copy / 'cache.py'))
    assert cached_onnx_model('int8') == first, 'an unchanged copy keys the same'
    with (copy / source).open('a') as edited:
        edited.write('\n# edited\n')
    second = cached_onnx_model('int8')
    assert second != first and second.parent == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted([first.name, second.name])


def test_racing_exports_leave_one_complete_file(cache: Path) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = list(pool.map(lambda _: cached_onnx_model('int8'), range(4)))
    assert len(set(paths)) == 1
    assert [p.name for p in cache.iterdir()] == [paths[0].name]
    onnx.checker.check_model(onnx.load(str(paths[0])))


def test_unwritable_cache_is_a_model_error(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / 'file'
    blocker.write_text('not a directory')
    monkeypatch.setenv('MOBILENETV1_ROS_CACHE', str(blocker / 'cache'))
    with pytest.raises(ModelError, match='cache'):
        cached_onnx_model('int8')


@pytest.mark.parametrize(('precision', 'chroma', 'match'), [
    ('fp16', 'bilinear', "'fp16'"),
    ('int8', 'linear', "'linear'"),
])
def test_bad_choices_are_named_before_exporting(cache: Path, precision: str, chroma: str,
                                                match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        cached_onnx_model(precision, chroma)
    assert not cache.exists()
