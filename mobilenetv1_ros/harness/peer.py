"""A peer of the classifier node for tests, the demo and the tools: camera in, results out.

`ClassifierPeer` plays the camera (publishes frames on the node's input topic) and the robot
(records every classification, label_info, vision_info, overlay and diagnostics message, with
its arrival time). It runs in its own rclpy Context and executor thread, so it can live next to
anything else in the process.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rcl_interfaces.srv import (
    DescribeParameters,
    GetParameters,
    ListParameters,
    SetParameters,
)
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor

try:
    from rclpy.event_handler import PublisherEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import PublisherEventCallbacks
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Classification, LabelInfo, VisionInfo

from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.core.stamps import stamp_ns
from mobilenetv1_ros.ros.convert import frame_msg, stamp_from_ns
from mobilenetv1_ros.ros.qos import LATCHED_QOS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from rclpy.publisher import Publisher
    from rclpy.subscription import Subscription

    from mobilenetv1_ros.core.frames import Frame

__all__ = [
    'ClassifierPeer',
    'Received',
    'diagnostic_values',
    'publish_every',
]

M = TypeVar('M')



def diagnostic_values(status: DiagnosticStatus) -> dict[str, str]:
    """Return a DiagnosticStatus' key/values as a dict."""
    return {value.key: value.value for value in status.values}


@dataclasses.dataclass(frozen=True)
class Received(Generic[M]):
    """A message and when it arrived (time.monotonic() and ROS wall-clock nanoseconds)."""

    msg: M
    monotonic: float
    wall_ns: int


class ClassifierPeer:
    """Camera and consumer of a classifier node, over real DDS.

    Args:
        image_topic: The node's input topic (absolute), e.g. '/image_raw'.
        node_namespace: Namespace of the node; its outputs are looked for there.
        compressed: Publish CompressedImage on `<image_topic>/compressed` instead of Image.
        reliability: 'reliable' or 'best_effort' camera publisher.
        depth: Publisher history depth.
        name: Name of the peer's node.
        image_type: The camera publisher's message type on `image_topic` instead of Image (e.g.
            an hbm_img_msgs HbmMsg class: harness.hbm_camera publishes its serialized frames);
            `publish` then refuses frames, `publish_msg` takes that type or its bytes.

    Attributes:
        image_topic: The topic the camera publishes on.
        image_type: The message type it publishes.
    """

    def __init__(self, image_topic: str = '/image_raw', *, node_namespace: str = '/',
                 compressed: bool = False, reliability: str = 'reliable', depth: int = 5,
                 name: str = 'classifier_peer', image_type: type | None = None) -> None:
        self.context = Context()
        rclpy.init(args=[], context=self.context)
        self.node = rclpy.create_node(name, context=self.context,
                                      start_parameter_services=False)
        self._condition = threading.Condition()
        self.results: dict[int, Received[Classification]] = {}
        self.label_info: list[Received[LabelInfo]] = []
        self.vision_info: list[Received[VisionInfo]] = []
        self.overlays: list[Received[Image]] = []
        self.diagnostics: list[Received[DiagnosticStatus]] = []
        self._outputs = node_namespace.rstrip('/')
        self.image_topic = f'{image_topic.rstrip("/")}/compressed' if compressed else image_topic
        self.image_type: type = image_type or (CompressedImage if compressed else Image)
        self._depth = depth
        self.publisher = self._camera(reliability)
        self._record(Classification, 'classification', self._on_result,
                     QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self._record(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                     QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
        self._overlay_subscription: Subscription | None = None
        self._last_frame: Frame | None = None
        self._last_msg: Image | CompressedImage | None = None
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name=f'{name}_spin', daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- plumbing

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 - the context was shut down under the executor
            pass

    def topic(self, relative: str) -> str:
        """Return a node output topic (relative to the node's namespace) as an absolute name."""
        return relative if relative.startswith('/') else f'{self._outputs}/{relative}'

    def _record(self, msg_type: type, topic: str, callback: Callable[[Any], None],
                qos: QoSProfile) -> Subscription:
        return self.node.create_subscription(msg_type, self.topic(topic), callback, qos)

    def _append(self, target: list[Received[Any]], msg: Any) -> None:
        with self._condition:
            target.append(self._received(msg))
            self._condition.notify_all()

    def _received(self, msg: M) -> Received[M]:
        return Received(msg, time.monotonic(), self.node.get_clock().now().nanoseconds)

    def _on_result(self, msg: Classification) -> None:
        with self._condition:
            self.results[stamp_ns(msg.header.stamp)] = self._received(msg)
            self._condition.notify_all()

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        with self._condition:
            for status in msg.status:
                if status.name.endswith(': classifier'):
                    self.diagnostics.append(self._received(status))
            self._condition.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until predicate() holds (checked whenever a message arrives); return it."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.1))
            return True

    # ---------------------------------------------------------------- camera

    def _camera(self, reliability: str) -> Publisher:
        policy = {'reliable': ReliabilityPolicy.RELIABLE,
                  'best_effort': ReliabilityPolicy.BEST_EFFORT}[reliability]
        # A camera whose reliability the node does not match yet is expected here: no warning.
        quiet = PublisherEventCallbacks(incompatible_qos=lambda _: None)
        return self.node.create_publisher(self.image_type, self.image_topic,
                                          QoSProfile(depth=self._depth, reliability=policy),
                                          event_callbacks=quiet)

    def replace_camera(self, reliability: str) -> None:
        """Replace the camera publisher by one of another reliability."""
        self.node.destroy_publisher(self.publisher)
        self.publisher = self._camera(reliability)

    def wait_for_node(self, timeout: float = 30.0) -> bool:
        """Wait until the node subscribes to the input topic (i.e. it is active)."""
        return self.wait_for(lambda: self.publisher.get_subscription_count() > 0, timeout)

    def node_reliability(self) -> list[str]:
        """Reliability of every subscription on the input topic, e.g. ['reliable']."""
        return [info.qos_profile.reliability.name.lower()
                for info in self.node.get_subscriptions_info_by_topic(self.image_topic)]

    def now_ns(self) -> int:
        """Return the current ROS time of the peer in nanoseconds."""
        return self.node.get_clock().now().nanoseconds

    def publish(self, frame: Frame, stamp: int | None = None,
                frame_id: str = 'camera') -> int:
        """Publish a frame with the given (default: current) stamp; return the stamp in ns.

        The message of the last frame is reused when the same frame is published again.

        Raises:
            ConfigError: The camera publishes another type than Image or CompressedImage.
        """
        if self.image_type not in (Image, CompressedImage):
            raise ConfigError(f'The camera publishes {self.image_type.__name__}, not frames')
        stamp = self.now_ns() if stamp is None else stamp
        if frame is not self._last_frame:
            self._last_frame, self._last_msg = frame, frame_msg(frame)
        msg = self._last_msg
        assert msg is not None
        msg.header = Header(stamp=stamp_from_ns(stamp), frame_id=frame_id)
        self.publisher.publish(msg)
        return stamp

    def publish_msg(self, msg: Any) -> None:
        """Publish a prepared message of the camera's type, or its serialized bytes, as it is."""
        self.publisher.publish(msg)

    def wait_result(self, stamp: int, timeout: float = 10.0) -> Classification | None:
        """Wait for the result of the frame with this stamp."""
        if not self.wait_for(lambda: stamp in self.results, timeout):
            return None
        return self.results[stamp].msg

    # ---------------------------------------------------------------- optional outputs

    def subscribe_info(self) -> None:
        """Subscribe to label_info and vision_info (transient local: the last one arrives)."""
        self._record(LabelInfo, 'label_info', lambda msg: self._append(self.label_info, msg),
                     LATCHED_QOS)
        self._record(VisionInfo, 'vision_info', lambda msg: self._append(self.vision_info, msg),
                     LATCHED_QOS)

    def subscribe_overlay(self) -> None:
        """Start receiving the overlay images."""
        if self._overlay_subscription is None:
            self._overlay_subscription = self._record(
                Image, 'overlay', lambda msg: self._append(self.overlays, msg),
                QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))

    def unsubscribe_overlay(self) -> None:
        """Stop receiving the overlay images."""
        if self._overlay_subscription is not None:
            self.node.destroy_subscription(self._overlay_subscription)
            self._overlay_subscription = None

    def overlay_matched(self) -> bool:
        """Whether the node's overlay publisher is seen on the graph."""
        return bool(self.node.get_publishers_info_by_topic(self.topic('overlay')))

    def latest_diagnostics(self) -> dict[str, str]:
        """Key/values of the last diagnostics status received (empty before the first)."""
        with self._condition:
            return diagnostic_values(self.diagnostics[-1].msg) if self.diagnostics else {}

    def wait_diagnostics(self, predicate: Callable[[dict[str, str]], bool],
                         timeout: float = 10.0) -> dict[str, str] | None:
        """Wait for a diagnostics status whose values satisfy predicate; return its values."""
        found: list[dict[str, str]] = []

        def check() -> bool:
            if self.diagnostics:
                values = diagnostic_values(self.diagnostics[-1].msg)
                if predicate(values):
                    found.append(values)
                    return True
            return False

        return found[0] if self.wait_for(check, timeout) else None

    # ---------------------------------------------------------------- services

    def call(self, srv_type: Any, name: str, request: Any, timeout: float = 10.0) -> Any:
        """Call a service of the node (name relative to its namespace); None on timeout."""
        client: Any = self.node.create_client(srv_type, self.topic(name))
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                return None
            future = client.call_async(request)
            done = threading.Event()
            future.add_done_callback(lambda _: done.set())
            if not done.wait(timeout):
                return None
            return future.result()
        finally:
            self.node.destroy_client(client)

    def get_parameters(self, node: str, names: Sequence[str]) -> list[Any]:
        """Return the Python values of parameters of `node` (e.g. 'mobilenetv1_classifier')."""
        response = self.call(GetParameters, f'{node}/get_parameters',
                             GetParameters.Request(names=list(names)))
        if response is None:
            raise TimeoutError(f'{node}/get_parameters did not answer')
        return [parameter_value_to_python(value) for value in response.values]

    def set_parameters(self, node: str, **values: Any) -> list[SetParametersResult]:
        """Set parameters of `node`; return one result per parameter."""
        request = SetParameters.Request(parameters=[
            Parameter(name, value=value).to_parameter_msg() for name, value in values.items()])
        response = self.call(SetParameters, f'{node}/set_parameters', request)
        if response is None:
            raise TimeoutError(f'{node}/set_parameters did not answer')
        return list(response.results)

    def describe_parameters(self, node: str, names: Sequence[str]) -> list[ParameterDescriptor]:
        """Return the descriptors of parameters of `node`."""
        response = self.call(DescribeParameters, f'{node}/describe_parameters',
                             DescribeParameters.Request(names=list(names)))
        if response is None:
            raise TimeoutError(f'{node}/describe_parameters did not answer')
        return list(response.descriptors)

    def list_parameters(self, node: str) -> list[str]:
        """Return the names of every parameter `node` declares."""
        response = self.call(ListParameters, f'{node}/list_parameters',
                             ListParameters.Request())
        if response is None:
            raise TimeoutError(f'{node}/list_parameters did not answer')
        return list(response.result.names)

    def lifecycle_state(self, node: str) -> str:
        """Return the lifecycle state label of `node` ('unconfigured', 'active', ...)."""
        response = self.call(GetState, f'{node}/get_state', GetState.Request())
        if response is None:
            raise TimeoutError(f'{node}/get_state did not answer')
        return str(response.current_state.label)

    def change_state(self, node: str, transition: str) -> bool:
        """Trigger a lifecycle transition by label ('configure', 'activate', ...)."""
        request = ChangeState.Request()
        request.transition.label = transition
        response = self.call(ChangeState, f'{node}/change_state', request, timeout=60.0)
        if response is None:
            raise TimeoutError(f'{node}/change_state did not answer')
        return bool(response.success)

    def close(self) -> None:
        """Stop the executor, destroy the node and shut the context down."""
        self.executor.shutdown()
        self._thread.join(5.0)
        self.node.destroy_node()
        self.context.try_shutdown()

    def __enter__(self) -> ClassifierPeer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def publish_every(peer: ClassifierPeer, frames: Iterable[Frame], period_s: float) -> list[int]:
    """Publish frames at a fixed rate; return their stamps."""
    stamps = []
    next_time = time.monotonic()
    for frame in frames:
        delay = next_time - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        stamps.append(peer.publish(frame))
        next_time += period_s
    return stamps
