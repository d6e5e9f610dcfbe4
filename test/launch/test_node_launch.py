"""launch/classify.launch.py run for real, where the launch and launch_ros packages import.

They are not on PyPI, so in the pip environment this module is skipped (the reason is printed);
test/launch/test_launch_static.py checks the launch file there without running it.

dds_profile is run with the values that keep DDS on loopback: auto (which keeps the tests'
loopback profile from the environment), a path (a copy of scripts/fastdds_loopback.xml), none
(the RMW defaults under ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) and a bad value. large_frames
(UDP on every interface) is left to test/launch/test_dds_profile.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from shared import REPO_ROOT

try:
    import launch  # noqa: F401
    import launch_ros  # noqa: F401
    import rclpy  # noqa: F401
except ImportError as exc:
    print(f'test_node_launch skipped: the launch file cannot run here ({exc}); '
          'test/launch/test_launch_static.py checks it statically', file=sys.stderr)
    pytest.skip(f'launch/launch_ros/rclpy are not importable ({exc})', allow_module_level=True)

from mobilenetv1_ros.core.frames import read_image
from mobilenetv1_ros.harness.frames import photo_frame
from mobilenetv1_ros.harness.peer import ClassifierPeer
from mobilenetv1_ros.ros.dds_profile import PROFILE_ENV, profile_variable
from mobilenetv1_ros.ros.params import NODE_NAME

LAUNCH_FILE = REPO_ROOT / 'launch' / 'classify.launch.py'
STARTUP_TIMEOUT = 60.0
LOOPBACK_PROFILE = REPO_ROOT / 'scripts' / 'fastdds_loopback.xml'

RUN_LAUNCH = r"""
import sys

from launch import LaunchService
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource

path, *arguments = sys.argv[1:]
service = LaunchService()
service.include_launch_description(IncludeLaunchDescription(
    PythonLaunchDescriptionSource(path),
    launch_arguments=[tuple(argument.split(':=', 1)) for argument in arguments]))
sys.exit(service.run())
"""


def _children(pid: int) -> list[int]:
    """Every descendant of a process, from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            fields = stat.read_text().rsplit(')', 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _environ(pid: int) -> dict[str, str]:
    """A process's environment, from /proc."""
    raw = Path(f'/proc/{pid}/environ').read_bytes().decode(errors='replace')
    return dict(item.split('=', 1) for item in raw.split('\0') if '=' in item)


def _node_environ(launch_pid: int) -> dict[str, str]:
    """The environment of the classifier process the launch process started."""
    for pid in _children(launch_pid):
        try:
            command = Path(f'/proc/{pid}/cmdline').read_bytes()
            if b'classifier' in command or b'mobilenetv1_ros.node' in command:
                return _environ(pid)
        except OSError:
            continue
    raise AssertionError(f'no classifier process under the launch process {launch_pid}')


def _launch(arguments: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open('wb') as out:
        return subprocess.Popen([sys.executable, '-c', RUN_LAUNCH, str(LAUNCH_FILE), *arguments],
                                env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> int:
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: to the launch process group
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def _profile_case(case: str, ros_env: dict[str, str], tmp_path: Path) -> tuple[
        str, dict[str, str], dict[str, str]]:
    """The dds_profile value, the launch environment, and the profile variables the node gets."""
    env = {**ros_env, 'MOBILENETV1_ROS_CACHE': str(tmp_path / 'model-cache')}
    if case == 'path':
        mine = tmp_path / 'my_profile.xml'
        shutil.copy(LOOPBACK_PROFILE, mine)
        named = {name: str(mine) for name in PROFILE_ENV if env.get(name)}
        return str(mine), env, {profile_variable(env): str(mine), **named}
    if case == 'none':
        for name in PROFILE_ENV:
            env.pop(name, None)
        return 'none', env, {}
    named = {name: env[name] for name in PROFILE_ENV if env.get(name)}
    assert named, 'the tests run with a loopback profile in the environment'
    return 'auto', env, named


@pytest.mark.parametrize('case', ['auto', 'path', 'none'])
def test_dds_profile_reaches_the_node_process(ros_env, tmp_path, case):
    value, env, expected = _profile_case(case, ros_env, tmp_path)
    log_path = tmp_path / 'launch.log'
    with ClassifierPeer('/launch_test/dds', node_namespace='/dds') as peer:
        process = _launch(['image_topic:=/launch_test/dds', 'namespace:=dds', 'backend:=onnx',
                           f'dds_profile:={value}'], env, log_path)
        try:
            assert peer.wait_for_node(STARTUP_TIMEOUT), log_path.read_text()
            node_env = _node_environ(process.pid)
        finally:
            code = _stop(process)
    output = log_path.read_text()
    assert code == 0, output
    assert {name: node_env[name] for name in PROFILE_ENV if name in node_env} == expected
    assert f'dds_profile {value}:' in output, output


@pytest.mark.parametrize('value', ['large-frames', '/no/such/profile.xml'])
def test_a_bad_dds_profile_stops_the_launch_naming_it(ros_env, tmp_path, value):
    log_path = tmp_path / 'launch.log'
    process = _launch([f'dds_profile:={value}'], ros_env, log_path)
    try:
        code = process.wait(60)
    finally:
        if process.poll() is None:
            _stop(process)
    output = log_path.read_text()
    assert code != 0, output
    assert repr(value) in output, output
    assert 'process started' not in output, output


def test_launch_file_starts_the_node_with_its_arguments(ros_env, tmp_path, images_dir):
    cache = tmp_path / 'model-cache'
    arguments = ['image_topic:=/launch_test/camera', 'namespace:=launched', 'backend:=onnx',
                 'log_level:=info']
    log_path = tmp_path / 'launch.log'
    with ClassifierPeer('/launch_test/camera', node_namespace='/launched') as peer, \
            log_path.open('wb') as log:
        process = subprocess.Popen(
            [sys.executable, '-c', RUN_LAUNCH, str(LAUNCH_FILE), *arguments],
            env={**ros_env, 'MOBILENETV1_ROS_CACHE': str(cache)}, cwd=REPO_ROOT, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        try:
            assert peer.wait_for_node(STARTUP_TIMEOUT), log_path.read_text()
            assert peer.wait_for(lambda: peer.node_reliability() == ['reliable'], 10.0)
            assert peer.wait_for_node(10.0)
            node = NODE_NAME  # relative to the peer's view of the node namespace
            # backend from the launch argument, the rest from the installed params file
            assert peer.get_parameters(node, ['backend', 'top_k', 'crop']) == \
                ['onnx', 5, 'center_crop']
            stamp = peer.publish(photo_frame(read_image(images_dir / 'bulbul.JPEG'), 'nv12'))
            result = peer.wait_result(stamp, 10.0)
            assert result is not None and result.results[0].class_id == '16'
        finally:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: to the launch process group
            try:
                code = process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
    output = log_path.read_text()
    assert code == 0, output
    assert 'Traceback' not in output
    assert 'process has finished cleanly' in output, output
    assert 'escalating' not in output, output
