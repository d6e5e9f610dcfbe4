"""Session-wide test setup: a private, loopback-only ROS 2 environment and common fixtures.

It also registers the `board` marker (see BOARD_MARKER) that scripts/board_lane.sh selects.

This module runs before any test module is imported, so the ROS variables below are in place
before anything loads rclpy. When pytest runs under scripts/test.sh they are already set and
only the discovery range is enforced; when pytest runs directly, a free ROS_DOMAIN_ID (1..100,
reserved with the same lock files as scripts/test.sh) and a temporary ROS_HOME are chosen here.
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path
import re
import shutil
import sys
import tempfile
import threading
from typing import Any, Iterator

import pytest

from mobilenetv1_ros.loopback import reserve_domain_id

__all__ = ['BOARD_ABSENT', 'BOARD_LANE_ENV', 'BOARD_MARKER', 'ROS_ENV_KEYS', 'images_dir',
           'repo_root', 'ros_env', 'ros_node']

REPO_ROOT = Path(__file__).resolve().parents[1]

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
#: backend's (onnx, onnxruntime), the exporter's (tflite) and the bag tools' (rosbags).
BOARD_ABSENT = ('onnx', 'onnxruntime', 'tflite', 'rosbags')
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
        if missing and missing[-1].split('.')[0] in BOARD_ABSENT:
            report.outcome = 'skipped'
            report.longrepr = (str(path), 0,
                               f'needs {missing[-1]}, which the board lane leaves out')


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
        Path(__file__).resolve().parents[1] / 'scripts' / 'fastdds_loopback.xml')
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
def images_dir(repo_root: Path) -> Path:
    """Directory of the real test photos (test/resources/images)."""
    return repo_root / 'test' / 'resources' / 'images'


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
