"""Session-wide test setup: a private, loopback-only ROS 2 environment and common fixtures.

It also registers the `board` marker (see BOARD_MARKER) that scripts/board_lane.sh selects.

This module runs before any test module is imported, so the ROS variables below are in place
before anything loads rclpy. When pytest runs under scripts/test.sh they are already set and
only the discovery range is enforced; when pytest runs directly, a free ROS_DOMAIN_ID (1..100,
reserved with the same lock files as scripts/test.sh) and a temporary ROS_HOME are chosen here.

Layout: one directory per layer of the package (core, export, loading, ros, bag, harness, perf,
procfs, cli, launch), test_architecture.py (import rules), test_types.py (mypy), test_lint.py
(ruff).
Repository paths and the photos' classes are in shared.py (importable, unlike conftest files);
the fixtures below serve every directory; test/ros and test/bag/live skip without rclpy.
"""

from __future__ import annotations

import atexit
import importlib
import os
from pathlib import Path
import re
import shutil
import sys
import tempfile
import threading
from types import ModuleType
from typing import Any, Callable, Iterator

import pytest
from shared import DOUBLES_DIR, IMAGES_DIR, KNOWN_PHOTOS, MISLABELED_PHOTO, REPO_ROOT

from mobilenetv1_ros.harness.loopback import reserve_domain_id

__all__ = ['BOARD_ABSENT', 'BOARD_LANE_ENV', 'BOARD_MARKER', 'ROS_ENV_KEYS', 'dnn', 'exported',
           'images_dir', 'make_bpu_model', 'no_bpu_runtime', 'node_env', 'photo_list', 'repo_root',
           'ros_env', 'ros_node']

#: Environment variables that isolate a DDS process; passed on by the `ros_env` fixture.
ROS_ENV_KEYS = (
    'ROS_DOMAIN_ID',
    'ROS_AUTOMATIC_DISCOVERY_RANGE',
    'ROS_LOCALHOST_ONLY',
    'ROS_HOME',
    'ROS_LOG_DIR',
    'AMENT_PREFIX_PATH',
)

#: Marker of the tests that hold on the board's own stack and must pass there: Python 3.10,
#: numpy < 1.22 API, OpenCV 4.5.4, no onnx/onnxruntime/tflite/rosbags, the BPU through the
#: hobot_dnn double (test/doubles). scripts/board_lane.sh runs exactly these (`-m board`).
BOARD_MARKER = 'board'
#: Set to 1 by scripts/board_lane.sh; there a `board` test that skips is a failure.
BOARD_LANE_ENV = 'MOBILENETV1_ROS_BOARD_LANE'
#: Packages the board lane leaves out on purpose, as the board has none of them: the CPU
#: backends' (onnx, onnxruntime, openvino), the exporter's (tflite) and the bag tools' (rosbags).
BOARD_ABSENT = ('onnx', 'onnxruntime', 'openvino', 'tflite', 'rosbags')
#: ROS 2 itself, which the board has from apt but the lane does not install: files without
#: board tests that need it at import are skipped there, as for BOARD_ABSENT.
BOARD_LANE_NO_ROS = re.compile(r'^(rclpy|rosidl_\w+|ament_\w+|rcl_\w+|\w+_msgs|\w+_interfaces)$')
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")


def pytest_configure(config: pytest.Config) -> None:
    """Register the board marker (one place: the lane selects it, --strict-markers checks it)."""
    config.addinivalue_line(
        'markers', f'{BOARD_MARKER}: runs on the RDK X5 stack (Python 3.10, numpy 1.21 API, '
        'OpenCV 4.5.4, no CPU-backend or bag packages, BPU via test/doubles); selected by '
        'scripts/board_lane.sh')
    if os.environ.get(BOARD_LANE_ENV) == '1':
        # A plugin, not a conftest hook: it must also see directories whose conftest.py fails.
        config.pluginmanager.register(_BoardLaneCollection(), 'board-lane-collection')


class _BoardLaneCollection:
    """In the board lane, skip (not fail) test files that import a package it leaves out.

    Any other collection error, e.g. an OpenCV constant or a numpy function the board lacks
    used at import time, still fails the lane; so does a file with `board` tests in it that
    does not import or skips as a whole.
    """

    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Iterator[None]:
        outcome = yield
        report = outcome.get_result()
        if report.passed:
            return
        path = Path(collector.path)
        if path.is_file() and f'mark.{BOARD_MARKER}' in path.read_text(encoding='utf-8'):
            if report.skipped:
                report.outcome = 'failed'
                report.longrepr = (f'{path} has board tests but skipped as a whole: '
                                   f'{report.longrepr}')
            return
        missing = _MISSING_MODULE.findall(str(report.longrepr)) if report.failed else []
        top = missing[-1].split('.')[0] if missing else ''
        if top in BOARD_ABSENT:
            report.outcome = 'skipped'
            report.longrepr = (str(path), 0,
                               f'needs {missing[-1]}, which the board lane leaves out')
        elif top and BOARD_LANE_NO_ROS.match(top):
            report.outcome = 'skipped'
            report.longrepr = (str(path), 0, f'needs {missing[-1]}: ROS 2 is not installed '
                               'in the board lane (the board has it from apt)')


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In the board lane, turn a skipped `board` test into a failure that names the reason.

    A board test that skips there would hide exactly what the lane exists to show (a package
    the board lacks, an import that stopped being lazy).
    """
    outcome = yield
    report = outcome.get_result()
    if (os.environ.get(BOARD_LANE_ENV) == '1' and report.skipped
            and not hasattr(report, 'wasxfail') and item.get_closest_marker(BOARD_MARKER)):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = 'failed'
        report.longrepr = f'board test skipped in the board lane: {reason}'


def _isolate_ros() -> None:
    """Confine DDS to localhost with a domain id and ROS_HOME of this run."""
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ['ROS_LOCALHOST_ONLY'] = '1'
    os.environ.pop('ROS_STATIC_PEERS', None)
    os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(
        REPO_ROOT / 'scripts' / 'fastdds_loopback.xml')
    if not os.environ.get('ROS_DOMAIN_ID'):
        os.environ['ROS_DOMAIN_ID'] = str(reserve_domain_id())
    if not os.environ.get('ROS_HOME'):
        ros_home = tempfile.mkdtemp(prefix='mobilenetv1_ros-pytest-ros-home.')
        atexit.register(shutil.rmtree, ros_home, ignore_errors=True)
        os.environ['ROS_HOME'] = ros_home
    os.environ.setdefault('ROS_LOG_DIR', str(Path(os.environ['ROS_HOME']) / 'log'))
    venv_index = Path(sys.prefix) / 'share' / 'ament_index'
    if not os.environ.get('AMENT_PREFIX_PATH') and venv_index.is_dir():
        os.environ['AMENT_PREFIX_PATH'] = sys.prefix


_isolate_ros()


@pytest.fixture(scope='session')
def repo_root() -> Path:
    """Root directory of the repository."""
    return REPO_ROOT


@pytest.fixture(scope='session')
def images_dir() -> Path:
    """Directory of the bundled photos (images/)."""
    return IMAGES_DIR


@pytest.fixture(scope='session')
def ros_env() -> dict[str, str]:
    """Environment for subprocesses that use DDS: this run's isolated ROS settings.

    Returns a full copy of the environment (PATH etc. included); pass it as `env=` to
    subprocess calls and add to it as needed.
    """
    env = dict(os.environ)
    missing = [key for key in ROS_ENV_KEYS[:4] if not env.get(key)]
    assert not missing, f'ROS isolation variables {missing} are not set'
    return env


@pytest.fixture(scope='session')
def node_env(ros_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """`ros_env` for processes that run the package (a node, a command) from the work tree.

    Adds a model cache shared by the whole session (the default CPU model is exported into it
    once) and puts the work tree first on PYTHONPATH.
    """
    cache = tmp_path_factory.getbasetemp() / 'model-cache'
    cache.mkdir(exist_ok=True)
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get('PYTHONPATH')]))
    return {**ros_env, 'MOBILENETV1_ROS_CACHE': str(cache), 'PYTHONPATH': path}


@pytest.fixture()
def ros_node(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A node of the test process in its own context, spun by a background thread."""
    rclpy = pytest.importorskip('rclpy')
    from rclpy.executors import SingleThreadedExecutor

    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node(f'test_{request.node.name}'.translate(_NODE_NAME_TABLE)[:60],
                             context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        yield node
    finally:
        executor.shutdown()
        spinner.join(5.0)
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    assert not spinner.is_alive(), 'executor thread did not stop'


_NODE_NAME_TABLE = {ord(c): '_' for c in '[]-.:/ ,=+'}


@pytest.fixture(scope='session')
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both precisions of the NV12 ONNX model, exported once per test session."""
    from mobilenetv1_ros.export import export_onnx

    directory = tmp_path_factory.mktemp('export')
    return {precision: export_onnx(directory / f'{precision}.onnx', precision)
            for precision in ('float32', 'int8')}


@pytest.fixture
def photo_list(tmp_path: Path) -> Path:
    """An evaluation list file of KNOWN_PHOTOS and MISLABELED_PHOTO, images in images/ beside it.

    Lines use the './' prefix, spaces and a comma, as list files in the wild do.
    """
    images = tmp_path / 'images'
    images.mkdir()
    for name in [*KNOWN_PHOTOS, MISLABELED_PHOTO[0]]:
        shutil.copy(IMAGES_DIR / name, images / name)
    lines = ['# name class', *(f'./{name} {index}' for name, index in KNOWN_PHOTOS.items()), '',
             f'{MISLABELED_PHOTO[0]},{MISLABELED_PHOTO[1]}']
    path = tmp_path / 'val.txt'
    path.write_text('\n'.join(lines) + '\n')
    return path


#: Top-level packages of the BPU runtime and of its test double.
_BPU_RUNTIME_MODULES = ('hobot_dnn', 'hobot_dnn_rdkx5', 'hobot_dnn_double')


def _forget_bpu_runtime() -> None:
    for name in list(sys.modules):
        if name.split('.')[0] in _BPU_RUNTIME_MODULES:
            del sys.modules[name]


@pytest.fixture
def no_bpu_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make sure neither pyeasy_dnn import path works, even on a board."""
    _forget_bpu_runtime()
    for package in _BPU_RUNTIME_MODULES[:2]:
        monkeypatch.setitem(sys.modules, package, None)
    yield
    _forget_bpu_runtime()


@pytest.fixture
def dnn(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """Put the hobot_dnn test double on sys.path; return its implementation module.

    Processes spawned by the test inherit sys.path, so they import the double too.
    """
    _forget_bpu_runtime()
    monkeypatch.syspath_prepend(str(DOUBLES_DIR))
    double = importlib.import_module('hobot_dnn_double')
    double.STATE.reset()
    yield double
    double.STATE.reset()
    _forget_bpu_runtime()


@pytest.fixture
def make_bpu_model(dnn: ModuleType, tmp_path: Path) -> Callable[..., Path]:
    """Write a model file for the double; keyword arguments as dnn.write_model_file."""
    def make(name: str = 'mobilenetv1_224x224_nv12.bin', **options: Any) -> Path:
        return dnn.write_model_file(tmp_path / name, **options)
    return make
