"""`mobilenetv1-ros doctor` run for real: with nothing on the graph, with camera-like publishers.

Each test runs the command in its own process on this run's loopback-only ROS domain; the
publishers live in this process (their own rclpy Context) and send real frames.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
from shared import DOUBLES_DIR, REPO_ROOT

from mobilenetv1_ros.core.assets import BOARD_MODEL_DIRS_ENV, bpu_model_search

PREFIX = '/doctor_test'


def _doctor(env, *args, python_code=None, timeout=120):
    if python_code is None:
        command = [sys.executable, '-m', 'mobilenetv1_ros', 'doctor', '--json', *args]
    else:
        command = [sys.executable, '-c', python_code, 'doctor', '--json', *args]
    done = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout)
    assert done.stdout.strip(), done.stderr
    report = json.loads(done.stdout)
    return done.returncode, {check['name']: check for check in report['checks']}, report


@pytest.fixture(scope='module')
def env(node_env):
    environment = dict(node_env)
    environment.pop(BOARD_MODEL_DIRS_ENV, None)
    return environment


def test_with_nothing_publishing_the_cpu_path_is_ready_and_no_camera_is_seen(env):
    code, checks, report = _doctor(env, '--timeout', '1.5')
    assert code == 0
    assert checks['rclpy']['ok']
    assert checks['rclpy']['data']['rmw'].startswith('rmw_')
    assert f'ROS_DOMAIN_ID {env["ROS_DOMAIN_ID"]}' in checks['rclpy']['detail']
    assert 'distro unknown' not in checks['rclpy']['detail']
    for package in ('sensor_msgs', 'vision_msgs', 'diagnostic_msgs'):
        assert checks[package]['ok'], checks[package]
    assert not checks['hobot_dnn']['ok']
    assert 'backend:=onnx' in checks['hobot_dnn']['detail']
    assert not checks['bpu model']['ok']
    tried = ', '.join(str(path) for path in bpu_model_search())
    assert checks['bpu model']['detail'] == f'not found (looked for {tried})'
    assert '/opt/hobot/model/x5/basic/mobilenetv1_224x224_nv12.bin' in tried
    assert checks['onnxruntime']['ok'] and checks['cpu model']['ok']
    assert 'onnx (int8' in checks['cpu model']['detail']
    assert 'camera topics' in checks, checks
    assert not checks['camera topics']['ok']
    assert 'no Image/CompressedImage topic seen' in checks['camera topics']['detail']
    assert not [name for name in checks if name.startswith('topic ')], checks
    assert report['usable_backends'] == ['onnx']


class _Camera:
    """Publishers like a camera driver's, each sending real frames at its own rate."""

    def __init__(self, images_dir):
        import rclpy
        from rclpy.context import Context
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CompressedImage, Image

        self.context = Context()
        rclpy.init(args=[], context=self.context)
        self.node = rclpy.create_node('doctor_test_camera', context=self.context,
                                      start_parameter_services=False)
        photo = cv2.resize(cv2.imread(str(images_dir / 'cat.bmp')), (320, 240))
        raw = Image(encoding='bgr8', width=320, height=240, step=960)
        raw.data = photo.tobytes()
        ok, jpeg = cv2.imencode('.jpg', photo)
        assert ok
        compressed = CompressedImage(format='jpeg', data=jpeg.tobytes())
        bayer = Image(encoding='bayer_rggb8', width=320, height=240, step=320)
        bayer.data = np.zeros(320 * 240, np.uint8).tobytes()
        best_effort = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
        reliable = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        create = self.node.create_publisher
        self.streams = [
            (create(Image, f'{PREFIX}/image_raw', best_effort), raw, 10.0),
            (create(CompressedImage, f'{PREFIX}/image_raw/compressed', reliable), compressed,
             10.0),
            (create(Image, f'{PREFIX}/bayer', latched), bayer, 5.0),
        ]
        self.silent = create(Image, f'{PREFIX}/silent', reliable)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        start = time.monotonic()
        sent = [0] * len(self.streams)
        while not self._stop.wait(0.005):
            elapsed = time.monotonic() - start
            for index, (publisher, msg, rate) in enumerate(self.streams):
                if sent[index] <= elapsed * rate:
                    msg.header.stamp = self.node.get_clock().now().to_msg()
                    publisher.publish(msg)
                    sent[index] += 1

    def close(self):
        self._stop.set()
        self._thread.join(5.0)
        self.node.destroy_node()
        self.context.try_shutdown()


@pytest.fixture()
def camera(images_dir):
    camera = _Camera(images_dir)
    yield camera
    camera.close()


def test_camera_topics_are_listed_with_encoding_size_rate_and_qos(env, camera):
    code, checks, _ = _doctor(env, '--timeout', '4')
    assert code == 0
    assert 'camera topics' not in checks
    raw = checks[f'topic {PREFIX}/image_raw']
    assert raw['ok'], raw
    assert raw['data']['encoding'] == 'bgr8'
    assert (raw['data']['width'], raw['data']['height']) == (320, 240)
    assert raw['data']['qos'] == ['best_effort/volatile']
    assert 6.0 <= raw['data']['rate_hz'] <= 14.0, raw
    assert raw['detail'].startswith('bgr8 320x240, ')
    compressed = checks[f'topic {PREFIX}/image_raw/compressed']
    assert compressed['ok'] and compressed['data']['format'] == 'jpeg'
    assert compressed['data']['qos'] == ['reliable/volatile']
    assert 6.0 <= compressed['data']['rate_hz'] <= 14.0, compressed
    bayer = checks[f'topic {PREFIX}/bayer']
    assert not bayer['ok'] and not bayer['data']['supported']
    assert bayer['data']['qos'] == ['reliable/transient_local']
    assert 'not an encoding the node reads' in bayer['detail']
    assert 'nv12' in bayer['hint']
    silent = checks[f'topic {PREFIX}/silent']
    assert not silent['ok'] and 'no frame in' in silent['detail']
    assert silent['data']['publishers'] == 1


def test_the_bpu_path_is_checked_by_loading_the_model(env, tmp_path, make_bpu_model):
    model = make_bpu_model()
    corrupt = tmp_path / 'corrupt.bin'
    corrupt.write_bytes(b'\x00not a model' * 100)
    board = {**env, 'PYTHONPATH': os.pathsep.join([str(DOUBLES_DIR), env['PYTHONPATH']])}

    code, checks, report = _doctor(board, '--no-topics', '--model', str(model))
    assert code == 0
    assert checks['hobot_dnn']['ok']
    assert checks['bpu model']['ok']
    assert checks['bpu model']['detail'].startswith(f'bpu: {model}')
    assert 'NV12 224x224 in, 1000' in checks['bpu model']['detail']
    assert report['usable_backends'] == ['bpu', 'onnx']
    assert 'camera topics' not in checks

    code, checks, report = _doctor(board, '--no-topics', '--model', str(corrupt))
    assert not checks['bpu model']['ok']
    assert str(corrupt) in checks['bpu model']['detail']
    assert report['usable_backends'] == ['onnx']

    # Without --model, the search finds it in the board's model directories.
    if any(path.is_file() for path in bpu_model_search()[:-1]):
        return  # a share directory holds a BPU model, which comes first
    code, checks, report = _doctor({**board, BOARD_MODEL_DIRS_ENV: str(model.parent)},
                                   '--no-topics')
    assert checks['bpu model']['ok'], checks['bpu model']
    assert checks['bpu model']['detail'].startswith(f'bpu: {model}')
    assert report['usable_backends'] == ['bpu', 'onnx']


def test_without_rclpy_the_report_says_how_to_get_it(env):
    hide_rclpy = ('import sys; sys.modules["rclpy"] = None; '
                  'from mobilenetv1_ros.cli import main; sys.exit(main(sys.argv[1:]))')
    code, checks, report = _doctor(env, python_code=hide_rclpy)
    assert code == 0
    assert not checks['rclpy']['ok']
    assert 'rclpy does not import' in checks['rclpy']['detail']
    assert 'setup.bash' in checks['rclpy']['hint']
    assert 'camera topics' not in checks
    assert report['usable_backends'] == ['onnx']
