"""The load tool's baseline: a node that takes the camera's frames and does nothing with them.

It subscribes to `image` the way the classifier node does (sensor_msgs/Image as serialized
bytes, the node's image QoS, the node's executor, the latest frame kept until the next one
arrives) and publishes its frame count in /diagnostics as the classifier does, so that
`mobilenetv1-ros load --baseline` measures it exactly as it measures the node. Its CPU time per
frame is what rclpy and the middleware cost before any work of the node's own: the floor of a
Python node on this machine.

With `input:=hbmem` it takes the board camera's shared-memory images instead: the HbmMsg type
that `hbmem_type` names (no auto: the baseline is told), as serialized bytes like the node.

Run as `python -m mobilenetv1_ros.perf.baseline_node --ros-args -p reliability:=reliable
-r image:=/camera/image` (add `-p input:=hbmem -p hbmem_type:=HbmMsg1080P` for hbmem).
"""

from __future__ import annotations

import sys

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from sensor_msgs.msg import Image

from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.ros.allocator import keep_frames_in_heap
from mobilenetv1_ros.ros.hbmem import hbm_message_class
from mobilenetv1_ros.ros.node import make_executor
from mobilenetv1_ros.ros.params import HBM_TYPES
from mobilenetv1_ros.ros.qos import image_qos

__all__ = ['BASELINE_INPUTS', 'BASELINE_NODE_NAME', 'BaselineNode', 'input_type', 'main']

#: Name of the baseline node.
BASELINE_NODE_NAME = 'mobilenetv1_baseline'
#: Seconds between diagnostics messages (the classifier node's period).
_DIAGNOSTICS_PERIOD_S = 1.0
#: The classifier's counters the load tool reads; the baseline classifies nothing.
_IDLE_COUNTERS = ('frames_classified', 'frames_dropped', 'frames_rejected', 'frames_failed')
#: Values of the input parameter: the node's inputs that carry raw pixels.
BASELINE_INPUTS = ('raw', 'hbmem')


def input_type(mode: str, hbm_type: str) -> type:
    """Return the message class the baseline takes for an input mode.

    Raises:
        ConfigError: `mode` is not one of BASELINE_INPUTS, or hbm_type is not an HbmMsg type
            that imports (with hbmem).
    """
    if mode not in BASELINE_INPUTS:
        raise ConfigError(f'Baseline input {mode!r} is not one of: {", ".join(BASELINE_INPUTS)}')
    return Image if mode == 'raw' else hbm_message_class(hbm_type)


class BaselineNode(Node):
    """Counts the frames of `image`; keeps the newest one referenced, as the node's slot does."""

    def __init__(self) -> None:
        super().__init__(BASELINE_NODE_NAME)
        reliability = str(self.declare_parameter('reliability', 'reliable').value)
        mode = str(self.declare_parameter('input', 'raw').value)
        hbm_type = str(self.declare_parameter('hbmem_type', HBM_TYPES[0]).value)
        self.received = 0
        self.latest: bytes | None = None
        self.create_subscription(input_type(mode, hbm_type), 'image', self._on_frame,
                                 image_qos(reliability), raw=True)
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
    """Spin the baseline node until SIGINT or SIGTERM; exit 2 on a bad parameter."""
    keep_frames_in_heap()  # as the node does: the same allocator behaviour measured
    rclpy.init(args=args)
    try:
        node = BaselineNode()
    except ConfigError as error:
        print(f'{BASELINE_NODE_NAME}: {error}', file=sys.stderr)
        rclpy.try_shutdown()
        return 2
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
