"""`mobilenetv1-ros doctor` sees TROS's shared-memory camera topic (/hbmem_img) and its type.

A publisher in this process sends real hbm_img_msgs messages (the project's compatible
interface package in the pip environment, the board's own on a TROS install) the way mipi_cam
does in its default io_method shared_mem: best effort, nv12 in the first data_size bytes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest
from shared import REPO_ROOT

pytest.importorskip('rclpy', reason='rclpy is not installed (pip environment: scripts/setup.sh)')
hbm = pytest.importorskip('hbm_img_msgs.msg', reason='hbm_img_msgs is not built (setup.sh)')

PREFIX = '/doctor_hbm'


def _message(kind: type, encoding: bytes, width: int, height: int) -> object:
    msg = kind()
    msg.encoding = np.frombuffer(encoding.ljust(12, b'\0'), np.uint8)
    msg.width, msg.height, msg.step = width, height, width
    msg.data_size = width * height * 3 // 2
    data = np.zeros(kind.MAX_SIZE, np.uint8)
    data[:msg.data_size] = np.arange(msg.data_size, dtype=np.uint64) % 251
    msg.data = data
    return msg


class _SharedMemoryCamera:
    """Publishers like mipi_cam's in shared_mem mode (best effort), at 10 Hz each."""

    def __init__(self) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.qos import qos_profile_sensor_data

        self.context = Context()
        rclpy.init(args=[], context=self.context)
        self.node = rclpy.create_node('doctor_hbm_camera', context=self.context,
                                      start_parameter_services=False)
        create = self.node.create_publisher
        self.streams = [
            (create(hbm.HbmMsg1080P, f'{PREFIX}/hbmem_img', qos_profile_sensor_data),
             _message(hbm.HbmMsg1080P, b'nv12', 960, 544)),
            (create(hbm.HbmMsg480P, f'{PREFIX}/hbmem_bayer', qos_profile_sensor_data),
             _message(hbm.HbmMsg480P, b'bayer_rggb8', 640, 480)),
        ]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        index = 0
        while not self._stop.wait(0.1):
            stamp = self.node.get_clock().now().to_msg()
            for publisher, msg in self.streams:
                msg.index, msg.time_stamp = index, stamp
                publisher.publish(msg)
            index += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self.node.destroy_node()
        self.context.try_shutdown()


@pytest.fixture()
def camera():
    camera = _SharedMemoryCamera()
    yield camera
    camera.close()


def test_hbmem_topics_are_listed_with_type_encoding_size_and_qos(node_env, camera):
    done = subprocess.run([sys.executable, '-m', 'mobilenetv1_ros', 'doctor', '--json',
                           '--timeout', '4'], env=node_env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.strip(), done.stderr
    checks = {check['name']: check for check in json.loads(done.stdout)['checks']}
    image = checks[f'topic {PREFIX}/hbmem_img']
    assert image['ok'], image
    assert image['data']['type'] == 'hbm_img_msgs/msg/HbmMsg1080P'
    assert image['data']['encoding'] == 'nv12'
    assert (image['data']['width'], image['data']['height']) == (960, 544)
    assert image['data']['data_size'] == 960 * 544 * 3 // 2
    assert image['data']['qos'] == ['best_effort/volatile']
    assert image['detail'].startswith('nv12 960x544 (shared memory, 783360 bytes)')
    assert 'input:=hbmem' in image['hint']
    bayer = checks[f'topic {PREFIX}/hbmem_bayer']
    assert not bayer['ok'] and bayer['data']['type'] == 'hbm_img_msgs/msg/HbmMsg480P'
    assert bayer['data']['encoding'] == 'bayer_rggb8'
    assert 'nv12' in bayer['hint']
