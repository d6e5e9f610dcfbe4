"""Real DDS on loopback: messages cross a process boundary and come back unchanged.

A second process (the echo node below, started with the run's isolated ROS environment)
subscribes to sensor_msgs/Image, vision_msgs/Classification and vision_msgs/LabelInfo and
republishes every message it receives. This process publishes real data and compares the
deserialized echoes field by field with what it sent.
"""

from __future__ import annotations

import json
from pathlib import Path
import queue
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from vision_msgs.msg import Classification, LabelInfo, ObjectHypothesis, VisionClass

TOPICS = {
    'image': Image,
    'classification': Classification,
    'label_info': LabelInfo,
}
DISCOVERY_TIMEOUT = 20.0
ECHO_TIMEOUT = 20.0

ECHO_NODE = r"""
import sys
import threading

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from vision_msgs.msg import Classification, LabelInfo

TYPES = {'image': Image, 'classification': Classification, 'label_info': LabelInfo}

rclpy.init()
node = rclpy.create_node('dds_smoke_echo')
qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
subscriptions = []
for name, msg_type in TYPES.items():
    publisher = node.create_publisher(msg_type, f'smoke/echo/{name}', qos)
    subscriptions.append(node.create_subscription(
        msg_type, f'smoke/in/{name}', publisher.publish, qos))
executor = SingleThreadedExecutor()
executor.add_node(node)
spinner = threading.Thread(target=executor.spin, daemon=True)
spinner.start()
print('READY', flush=True)
# Run until the test closes stdin (or 120 s pass, should the test die).
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
stop.wait(120.0)
executor.shutdown()
spinner.join(5.0)
node.destroy_node()
rclpy.try_shutdown()
print('BYE', flush=True)
"""


@pytest.fixture
def echo_process(ros_env):
    """The echo node in its own process; stopped by closing its stdin, exit code checked."""
    proc = subprocess.Popen(
        [sys.executable, '-c', ECHO_NODE], env=ros_env, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        try:
            out, err = proc.communicate(input='', timeout=15.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f'echo node did not shut down in 15 s\n{out}\n{err}')
    assert proc.returncode == 0, f'echo node exit code {proc.returncode}\n{out}\n{err}'
    assert 'BYE' in out, f'echo node did not finish its shutdown\n{out}\n{err}'


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f'timed out after {timeout} s waiting for {what}')
        time.sleep(0.05)


def _image(path: Path, stamp_sec: int) -> Image:
    pixels = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert pixels is not None, f'cannot read {path}'
    msg = Image()
    msg.header.stamp.sec = stamp_sec
    msg.header.stamp.nanosec = 123_456_789
    msg.header.frame_id = f'camera_{path.stem}'
    msg.height, msg.width = pixels.shape[:2]
    msg.encoding = 'bgr8'
    msg.is_bigendian = 0
    msg.step = msg.width * 3
    msg.data = pixels.tobytes()
    return msg


def _classification(stamp_sec: int) -> Classification:
    msg = Classification()
    msg.header.stamp.sec = stamp_sec
    msg.header.frame_id = 'camera_cat'
    scores = [0.8125, 0.0625, 1e-300, 0.1 / 3.0, 0.0]
    msg.results = [ObjectHypothesis(class_id=str(class_id), score=score)
                   for class_id, score in zip([285, 281, 282, 287, 999], scores)]
    return msg


def _label_info(labels: list[str]) -> LabelInfo:
    msg = LabelInfo()
    msg.header.frame_id = 'mobilenetv1'
    msg.class_map = [VisionClass(class_id=i, class_name=name) for i, name in enumerate(labels)]
    msg.class_map.append(VisionClass(class_id=VisionClass.UNLABELED, class_name='ünlabeled ✓'))
    msg.threshold = 0.25
    return msg


def _header(msg) -> tuple:
    return (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id)


def test_messages_cross_processes_unchanged(ros_node, echo_process, images_dir, repo_root) -> None:
    labels = json.loads((repo_root / 'models' / 'ImageNet_1k.json').read_text())
    sent = {
        'image': [_image(images_dir / 'cat.bmp', 1), _image(images_dir / 'cat_1080p.jpg', 2)],
        'classification': [_classification(3)],
        'label_info': [_label_info(labels)],
    }
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    received: dict[str, queue.Queue] = {name: queue.Queue() for name in TOPICS}
    publishers = {}
    for name, msg_type in TOPICS.items():
        publishers[name] = ros_node.create_publisher(msg_type, f'smoke/in/{name}', qos)
        ros_node.create_subscription(msg_type, f'smoke/echo/{name}', received[name].put, qos)

    def matched() -> bool:
        if echo_process.poll() is not None:
            pytest.fail(f'echo node exited early: {echo_process.communicate()}')
        return all(
            publishers[name].get_subscription_count() > 0
            and ros_node.count_publishers(f'smoke/echo/{name}') > 0
            for name in TOPICS)

    _wait_until(matched, DISCOVERY_TIMEOUT, 'discovery between the two processes')
    # The echo node's own publishers may not have matched our subscriptions yet: publish in
    # rounds until an echo of every sent message (identified by its header) has arrived.
    expected = {(name, _header(msg)): msg for name, msgs in sent.items() for msg in msgs}
    echoes = {}
    deadline = time.monotonic() + ECHO_TIMEOUT
    while len(echoes) < len(expected):
        assert time.monotonic() < deadline, (
            f'no echo within {ECHO_TIMEOUT} s for {sorted(set(expected) - set(echoes))}')
        for (name, header), msg in expected.items():
            if (name, header) not in echoes:
                publishers[name].publish(msg)
        round_end = time.monotonic() + 1.0
        while len(echoes) < len(expected) and time.monotonic() < round_end:
            for name, inbox in received.items():
                try:
                    back = inbox.get_nowait()
                except queue.Empty:
                    continue
                echoes.setdefault((name, _header(back)), back)
            time.sleep(0.01)
    assert set(echoes) == set(expected)

    for (name, _), out in expected.items():
        back = echoes[name, _header(out)]
        assert back is not out
        if name == 'image':
            assert (back.height, back.width, back.encoding, back.is_bigendian, back.step) == (
                out.height, out.width, out.encoding, out.is_bigendian, out.step)
            assert len(back.data) == out.height * out.step
            assert np.array_equal(np.frombuffer(back.data, np.uint8),
                                  np.frombuffer(out.data, np.uint8))
        elif name == 'classification':
            assert [(h.class_id, h.score) for h in back.results] == [
                (h.class_id, h.score) for h in out.results]
        else:
            assert back.threshold == out.threshold
            assert len(back.class_map) == 1001
            assert [(c.class_id, c.class_name) for c in back.class_map] == [
                (c.class_id, c.class_name) for c in out.class_map]


def test_graph_reports_remote_types_and_hashes(ros_node, echo_process) -> None:
    """The test process sees the echo node's endpoints with the upstream vision_msgs hash."""
    topic = '/smoke/echo/classification'

    def named_publishers() -> list:
        # Endpoints may be discovered before the node names that own them.
        infos = ros_node.get_publishers_info_by_topic(topic)
        return [info for info in infos if info.node_name != '_NODE_NAME_UNKNOWN_']

    _wait_until(named_publishers, DISCOVERY_TIMEOUT, f'the echo node publishing {topic}')
    (info,) = named_publishers()
    assert info.node_name == 'dds_smoke_echo'
    assert info.topic_type == 'vision_msgs/msg/Classification'
    assert str(info.topic_type_hash) == (
        'RIHS01_f74db28d0eaef3afb78f48bf2161cd709a1383a0309d3454383b25be11345143')
