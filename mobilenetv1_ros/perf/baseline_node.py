"""The load tool's baseline: a node that takes the camera's frames and does nothing with them.

It subscribes to `image` the way the classifier node does (sensor_msgs/Image as serialized
bytes, the node's image QoS, the node's executor, the latest frame kept until the next one
arrives) and publishes its frame count in /diagnostics as the classifier does, so that
`mobilenetv1-ros load --baseline` measures it exactly as it measures the node. Its CPU time per
frame is what rclpy and the middleware cost before any work of the node's own: the floor of a
Python node on this machine.

Run as `python -m mobilenetv1_ros.perf.baseline_node --ros-args -p reliability:=reliable
-r image:=/camera/image`.
"""

from __future__ import annotations

import sys

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from sensor_msgs.msg import Image

from mobilenetv1_ros.ros.node import make_executor
from mobilenetv1_ros.ros.qos import image_qos

__all__ = ['BASELINE_NODE_NAME', 'BaselineNode', 'main']

#: Name of the baseline node.
BASELINE_NODE_NAME = 'mobilenetv1_baseline'
#: Seconds between diagnostics messages (the classifier node's period).
_DIAGNOSTICS_PERIOD_S = 1.0
#: The classifier's counters the load tool reads; the baseline classifies nothing.
_IDLE_COUNTERS = ('frames_classified', 'frames_dropped', 'frames_rejected', 'frames_failed')


class BaselineNode(Node):
    """Counts the frames of `image`; keeps the newest one referenced, as the node's slot does."""

    def __init__(self) -> None:
        super().__init__(BASELINE_NODE_NAME)
        reliability = str(self.declare_parameter('reliability', 'reliable').value)
        self.received = 0
        self.latest: bytes | None = None
        self.create_subscription(Image, 'image', self._on_frame, image_qos(reliability),
                                 raw=True)
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_timer(_DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)

    def _on_frame(self, msg: bytes) -> None:
        self.received += 1
        self.latest = msg

    def _publish_diagnostics(self) -> None:
        values = [KeyValue(key='frames_received', value=str(self.received))]
        values += [KeyValue(key=key, value='0') for key in _IDLE_COUNTERS]
        status = DiagnosticStatus(level=DiagnosticStatus.OK,
                                  name=f'{self.get_fully_qualified_name()}: classifier',
                                  message='baseline: frames counted, nothing classified',
                                  hardware_id='baseline', values=values)
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)


def main(args: list[str] | None = None) -> int:
    """Spin the baseline node until SIGINT or SIGTERM."""
    rclpy.init(args=args)
    node = BaselineNode()
    executor = make_executor()
    executor.add_node(node)
    try:
        while rclpy.ok(context=node.context):
            executor.spin_once(timeout_sec=0.5)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
