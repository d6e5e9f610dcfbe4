"""A camera that starts after the node loses no frame while the node matches its reliability.

A node started before its camera listens with a reliable and a best-effort subscription at
once; when the camera appears it keeps the matching one and closes the other only after
handing on what that one still queued (make before break), dropping the frames both
delivered. Two ways a camera starts late are checked against a node in its own process:

- a publisher that sends one frame the moment it sees a subscription, 20 times in a row,
  each time in a new participant, on Fast DDS's default transports (no profile file: large
  frames then travel over UDP, where best effort loses them);
- the bag player started right after the node subscribed, without waiting for subscribers:
  every frame of the sample bag sent after discovery must reach the node.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from shared import REPO_ROOT
from vision_msgs.msg import Classification

from mobilenetv1_ros.bag.player import BagPlayer, PlayOptions
from mobilenetv1_ros.bag.sample import expected_frames, sample_bag
from mobilenetv1_ros.core.stamps import stamp_ns
from mobilenetv1_ros.harness.peer import diagnostic_values
from mobilenetv1_ros.harness.process import NodeProcess, node_command

STARTUP_TIMEOUT = 90.0
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
LATE_CAMERA = Path(__file__).with_name('late_camera.py')


def _default_transports(env: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items()
            if key not in ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')}


def _wait(condition: Any, timeout: float, period: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(period)
    return bool(condition())


def _start_node(topic: str, env: dict[str, str], log: Path) -> NodeProcess:
    return NodeProcess(node_command({'backend': 'onnx', 'publish_overlay': False},
                                    remappings={'image': topic}),
                       log, env, cwd=REPO_ROOT)


def _subscriptions(ros_node: Any, topic: str) -> list[str]:
    return sorted(info.qos_profile.reliability.name.lower()
                  for info in ros_node.get_subscriptions_info_by_topic(topic))


def test_a_camera_publishing_once_on_match_is_always_classified(
        node_env, images_dir, tmp_path, ros_node):
    """A reliable 640x480 bgr8 camera (900 KB frames: over UDP, fragmented) on default transports.

    (A best-effort camera's first frame can be lost whatever the node does: a best-effort
    reader drops data of a writer it has not matched yet, and the writer may match first.)
    """
    reliability, width, height, trials = 'reliable', 640, 480, 20
    topic = '/late_camera'
    env = _default_transports(node_env)
    node = _start_node(topic, env, tmp_path / 'node.log')
    try:
        assert _wait(lambda: _subscriptions(ros_node, topic) == ['best_effort', 'reliable'],
                     STARTUP_TIMEOUT), node.log()
        done = subprocess.run(
            [sys.executable, str(LATE_CAMERA), topic, str(trials), str(width), str(height),
             reliability, str(images_dir / 'cat_720p.jpg')],
            env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120 * trials)
        # Every trial reports its line as it ends: a crash of the helper's own teardown after
        # the last one is no concern of the node's.
        trials_done = [json.loads(line) for line in done.stdout.splitlines()
                       if line.startswith('{')]
        assert len(trials_done) == trials, (done.returncode, done.stderr)
        assert node.running(), node.log()
    finally:
        node.stop(signal.SIGINT)
    lost = [trial['stamp'] for trial in trials_done if trial['top'] is None]
    print(f'{reliability} {width}x{height}: {trials - len(lost)} of {trials} classified')
    assert all(trial['ready'] for trial in trials_done), node.log()
    assert not lost, f'{len(lost)} of {trials} frames lost:\n{node.log()}'
    classified = {trial['stamp']: trial['top'] for trial in trials_done}
    assert all(top in CAT_CLASSES for top in classified.values()), classified
    log = node.log()
    assert f'(Image, {reliability}: matched to the publishers on {topic})' in log
    assert '(Image, reliable and best_effort: no publisher yet' in log


def test_bag_play_started_right_after_the_node_loses_nothing(node_env, tmp_path, ros_node):
    """The sample bag played into a node that has just subscribed, without waiting.

    As `mobilenetv1-ros bag play` without --wait-for-subscribers: a new participant starts,
    creates the publisher and plays at once, so the node discovers the camera during the
    replay and re-matches its reliability while frames arrive. A frame published before the
    publisher has matched any subscription never leaves it (volatile durability), whatever the
    subscriber does: such frames (discovery) are reported, and every later one must reach
    the node.
    """
    topic = '/image_raw'
    bag = sample_bag()
    frames = [frame for frame in expected_frames() if frame['topic'] == topic]
    results: dict[int, int] = {}
    counters: list[dict[str, str]] = []
    unmatched: list[int] = []
    lock = threading.Lock()

    def on_result(msg: Classification) -> None:
        with lock:
            results[stamp_ns(msg.header.stamp)] = int(msg.results[0].class_id)

    def on_diagnostics(msg: DiagnosticArray) -> None:
        with lock:
            counters.extend(diagnostic_values(status) for status in msg.status
                            if status.name.endswith(': classifier'))

    reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    ros_node.create_subscription(Classification, '/classification', on_result, reliable)
    ros_node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, reliable)
    node = _start_node(topic, node_env, tmp_path / 'node.log')
    player = None
    context = rclpy.Context()
    rclpy.init(args=[], context=context)
    executor = SingleThreadedExecutor(context=context)
    try:
        assert _wait(lambda: bool(_subscriptions(ros_node, topic)) and bool(counters),
                     STARTUP_TIMEOUT), node.log()
        camera = rclpy.create_node('late_bag_player', context=context,
                                   start_parameter_services=False)
        executor.add_node(camera)
        threading.Thread(target=executor.spin, daemon=True).start()
        player = BagPlayer(camera, bag, PlayOptions(topics=[topic]))
        publisher = next(iter(player.publishers.values()))[1]

        def on_publish(published: Any) -> None:
            if publisher.get_subscription_count() == 0:
                unmatched.append(published.timestamp)

        player.on_publish = on_publish
        stats = player.play()
        assert stats.total == len(frames)

        def settled() -> bool:
            with lock:
                last = counters[-1] if counters else {}
            return (int(last.get('frames_received', 0)) >= len(frames) - len(unmatched)
                    and int(last.get('frames_classified', 0))
                    + int(last.get('frames_dropped', 0)) >= len(frames) - len(unmatched))

        _wait(settled, 30.0)
        time.sleep(1.5)  # one more diagnostics period
    finally:
        if player is not None:
            player.close()
        executor.shutdown()
        rclpy.try_shutdown(context=context)
        node.stop(signal.SIGINT)
    with lock:
        last = counters[-1] if counters else {}
        classified = dict(results)
    missing = [frame['index'] for frame in frames if frame['stamp_ns'] not in classified]
    report = (f'published {len(frames)} ({len(unmatched)} before the publisher matched), '
              f'classified {len(classified)}, node counters '
              f'{ {k: v for k, v in last.items() if k.startswith("frames_")} }, frames '
              f'without a result {missing}')
    print(report)
    received = int(last.get('frames_received', 0))
    assert received == len(frames) - len(unmatched), f'{report}\n{node.log()}'
    assert int(last['frames_classified']) == len(classified), report
    assert len(classified) + int(last['frames_dropped']) == received, report
    assert int(last['frames_rejected']) == int(last['frames_failed']) == 0, report
    golden = {frame['stamp_ns']: frame['class_id'] for frame in frames}
    assert all(golden[stamp] == top for stamp, top in classified.items()), report
