"""A camera that starts after the node, run as its own process (with its own DDS settings).

`python late_camera.py TOPIC TRIALS WIDTH HEIGHT RELIABILITY PHOTO`: TRIALS times, wait until the
node listens to TOPIC with no publisher (both reliabilities, as a freshly started node does),
then start a new participant whose camera publishes ONE bgr8 frame as soon as it sees a
subscription, wait for that frame's result on /classification and end the participant.
Prints one JSON line per trial as it ends: {"stamp": ..., "top": class or null, "ready": bool}.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import cv2
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header
from vision_msgs.msg import Classification

from mobilenetv1_ros.core.stamps import stamp_ns
from mobilenetv1_ros.ros.convert import image_msg, stamp_from_ns

READY_TIMEOUT_S = 30.0
MATCH_TIMEOUT_S = 30.0
RESULT_TIMEOUT_S = 20.0


def _listening_fresh(node: rclpy.node.Node, topic: str) -> bool:
    kinds = sorted(info.qos_profile.reliability.name
                   for info in node.get_subscriptions_info_by_topic(topic))
    return kinds == ['BEST_EFFORT', 'RELIABLE'] and not node.get_publishers_info_by_topic(topic)


def main() -> int:
    topic, trials, width, height, reliability, photo = sys.argv[1:7]
    bgr = cv2.resize(cv2.imread(photo, cv2.IMREAD_COLOR), (int(width), int(height)),
                     interpolation=cv2.INTER_AREA)
    policy = {'reliable': ReliabilityPolicy.RELIABLE,
              'best_effort': ReliabilityPolicy.BEST_EFFORT}[reliability]
    monitor_context = Context()
    rclpy.init(args=[], context=monitor_context)
    monitor = rclpy.create_node('late_camera_monitor', context=monitor_context)
    results: dict[int, int] = {}
    arrived = threading.Condition()

    def on_result(msg: Classification) -> None:
        with arrived:
            results[stamp_ns(msg.header.stamp)] = int(msg.results[0].class_id)
            arrived.notify_all()

    monitor.create_subscription(Classification, '/classification', on_result,
                                QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    executor = SingleThreadedExecutor(context=monitor_context)
    executor.add_node(monitor)
    threading.Thread(target=executor.spin, daemon=True).start()
    for trial in range(int(trials)):
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _listening_fresh(monitor, topic) and time.monotonic() < deadline:
            time.sleep(0.05)
        ready = _listening_fresh(monitor, topic)
        context = Context()
        rclpy.init(args=[], context=context)
        camera = rclpy.create_node(f'late_camera_{trial}', context=context,
                                   start_parameter_services=False)
        publisher = camera.create_publisher(type(image_msg(bgr, 'bgr8')), topic,
                                            QoSProfile(depth=5, reliability=policy))
        deadline = time.monotonic() + MATCH_TIMEOUT_S
        while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        stamp = (trial + 1) * 10**9 + 123
        publisher.publish(image_msg(bgr, 'bgr8', Header(stamp=stamp_from_ns(stamp),
                                                        frame_id='late_camera')))
        with arrived:
            arrived.wait_for(lambda sent=stamp: sent in results, RESULT_TIMEOUT_S)
        print(json.dumps({'stamp': stamp, 'top': results.get(stamp), 'ready': ready}),
              flush=True)
        camera.destroy_node()
        rclpy.shutdown(context=context)
    executor.shutdown()
    monitor.destroy_node()
    rclpy.shutdown(context=monitor_context)
    return 0


if __name__ == '__main__':
    sys.exit(main())
