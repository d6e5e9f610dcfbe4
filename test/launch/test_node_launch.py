"""launch/classify.launch.py run for real, where the launch and launch_ros packages import.

They are not on PyPI, so in the pip environment this module is skipped (the reason is printed);
test/launch/test_launch_static.py checks the launch file there without running it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

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
from mobilenetv1_ros.ros.params import NODE_NAME

LAUNCH_FILE = REPO_ROOT / 'launch' / 'classify.launch.py'
STARTUP_TIMEOUT = 60.0

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
