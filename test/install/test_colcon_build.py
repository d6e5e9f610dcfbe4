"""A real `colcon build` of the package in a temporary workspace, plain and --symlink-install.

colcon comes from PyPI (colcon-common-extensions, scripts/requirements-pip-env.txt) and builds the
package as on a ROS install: ament_python, setup.py run by this environment's setuptools. The
installed package is then used the way a user does, after sourcing install/setup.bash: its
console script classifies a bundled photo, and it finds its model, labels and photos, and a BPU
model placed in the source tree's models/ (found under --symlink-install, where the Python
package resolves to the source tree; a plain install copies only what setup.py lists).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from shared import CONFIG_DIR, IMAGES_DIR, MODELS_DIR, PHOTO_CLASSES, REPO_ROOT

from mobilenetv1_ros.core.assets import (
    BOARD_MODEL_DIRS_ENV,
    BPU_MODEL_NAME,
    BUNDLED_EXTRACTOR,
    BUNDLED_HEAD,
    LABELS_NAME,
)

PACKAGE = 'mobilenetv1_ros'
COLCON = Path(sys.executable).with_name('colcon')
#: What the package's source tree holds besides tests: exactly what colcon builds from.
SOURCES = ('setup.py', 'setup.cfg', 'package.xml', 'resource', PACKAGE, 'launch', 'config',
           'models', 'images')
#: Run in the sourced install: where the package and its files are, and the BPU model search.
PROBE = """
import json, mobilenetv1_ros
from mobilenetv1_ros.core import assets
extractor, head = assets.bundled_tflite()
search = assets.find_bpu_model()
print(json.dumps({'module': mobilenetv1_ros.__file__, 'share': str(assets.share_dir()),
                  'labels': str(assets.default_labels_path()), 'extractor': str(extractor),
                  'head': str(head), 'photos': str(assets.photos_dir()),
                  'tried': [str(p) for p in search.tried],
                  'found': str(search.found) if search.found else None}))
"""

pytestmark = pytest.mark.skipif(not COLCON.is_file(),
                                reason=f'{COLCON} is missing (scripts/setup.sh installs colcon)')


def _in_install(workspace: Path, env: dict[str, str], command: str,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a shell command after sourcing the workspace's install/setup.bash."""
    return subprocess.run(['bash', '-c', f'source install/setup.bash && {command}'],
                          cwd=workspace, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def user_env(node_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A user's shell: the work tree NOT on PYTHONPATH, no board model directory to find."""
    env = dict(node_env)
    env['PYTHONPATH'] = os.pathsep.join(
        part for part in env.get('PYTHONPATH', '').split(os.pathsep)
        if part and Path(part).resolve() != REPO_ROOT.resolve())
    env['PATH'] = os.pathsep.join([str(COLCON.parent), env.get('PATH', '')])
    (tmp_path / 'no-board-models').mkdir()
    env[BOARD_MODEL_DIRS_ENV] = str(tmp_path / 'no-board-models')
    return env


@pytest.mark.parametrize('symlink', [False, True], ids=['plain', 'symlink-install'])
def test_colcon_build_installs_the_package_and_it_finds_its_files(
        tmp_path: Path, user_env: dict[str, str], symlink: bool) -> None:
    source = tmp_path / 'ws' / 'src' / PACKAGE
    source.mkdir(parents=True)
    for name in SOURCES:
        copy = shutil.copytree if (REPO_ROOT / name).is_dir() else shutil.copy2
        copy(REPO_ROOT / name, source / name, **({'ignore': shutil.ignore_patterns(
            '__pycache__', '*.pyc')} if (REPO_ROOT / name).is_dir() else {}))
    workspace = tmp_path / 'ws'
    build = subprocess.run([str(COLCON), 'build', '--event-handlers', 'console_direct-',
                            *(['--symlink-install'] if symlink else [])],
                           cwd=workspace, env=user_env, capture_output=True, text=True,
                           timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr

    prefix = workspace / 'install' / PACKAGE
    share = prefix / 'share' / PACKAGE
    assert (share / 'launch' / 'classify.launch.py').is_file()
    assert (share / 'package.xml').is_file()
    # Every config file, the Fast DDS profile included.
    config = sorted(path.name for path in CONFIG_DIR.iterdir() if path.is_file())
    assert {'classifier.yaml', 'fastdds_large_frames.xml'} <= set(config)
    assert sorted(path.name for path in (share / 'config').iterdir()) == config
    for name in config:
        assert (share / 'config' / name).read_bytes() == (CONFIG_DIR / name).read_bytes()
    for name in (BUNDLED_EXTRACTOR, BUNDLED_HEAD, LABELS_NAME):
        assert (share / 'models' / name).read_bytes() == (MODELS_DIR / name).read_bytes()
    assert sorted(path.name for path in (share / 'images').iterdir()) == sorted(
        path.name for path in IMAGES_DIR.iterdir() if path.is_file())
    for name in ('classifier', 'mobilenetv1-ros'):
        assert os.access(prefix / 'lib' / PACKAGE / name, os.X_OK), name
    if symlink:
        assert (share / 'config' / 'classifier.yaml').is_symlink()
        assert (share / 'config' / 'classifier.yaml').resolve() == source / 'config' / \
            'classifier.yaml'

    # The installed console script classifies a bundled photo from the install.
    photo = share / 'images' / 'bulbul.JPEG'
    done = _in_install(workspace, user_env, f'{prefix}/lib/{PACKAGE}/mobilenetv1-ros classify '
                       f'--backend onnx --threads 1 --json {photo}')
    assert done.returncode == 0, done.stderr
    (record,) = json.loads(done.stdout)['results']
    assert record['predictions'][0]['class_id'] == PHOTO_CLASSES['bulbul.JPEG']

    # Where the installed package finds its files, and a BPU model left in the source tree.
    (source / 'models' / BPU_MODEL_NAME).write_bytes(b'stand-in for the zoo model')
    probe = tmp_path / 'probe.py'
    probe.write_text(PROBE)
    done = _in_install(workspace, user_env, f'{sys.executable} {probe}')
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    home = source if symlink else share
    module = Path(found['module'])
    assert module.resolve().is_relative_to(source if symlink else prefix), module
    assert Path(found['share']) == home
    assert Path(found['labels']) == home / 'models' / LABELS_NAME
    assert (Path(found['extractor']), Path(found['head'])) == (
        home / 'models' / BUNDLED_EXTRACTOR, home / 'models' / BUNDLED_HEAD)
    assert Path(found['photos']) == home / 'images'
    tried = [Path(path) for path in found['tried']]
    assert share / 'models' / BPU_MODEL_NAME in tried
    assert tried[-1] == Path(user_env[BOARD_MODEL_DIRS_ENV]) / BPU_MODEL_NAME
    if symlink:
        # The source tree comes first: a model dropped into src/.../models is found.
        assert tried[0] == source / 'models' / BPU_MODEL_NAME
        assert Path(found['found']) == source / 'models' / BPU_MODEL_NAME
    else:
        # A plain install copies only what setup.py lists; the .bin is not one of them.
        assert source / 'models' / BPU_MODEL_NAME not in tried
        assert found['found'] is None
