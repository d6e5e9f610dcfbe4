"""The classifier node's image input: the subscriptions to its input topic for one input mode.

ImageInput subscribes to the topic as sensor_msgs/Image (raw), sensor_msgs/CompressedImage
(compressed) or hbm_img_msgs/HbmMsg* (hbmem), matches the subscription's reliability to the
publishers (both while there is none, make-before-break when they change, an overlap filter
against the frames two subscriptions both deliver) and follows the publishers' HbmMsg type.
Every frame, or the error that kept a message from being one, goes to one callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.qos import QoSPolicyKind, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions

try:
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from mobilenetv1_ros.core.errors import ConfigError, ImageError
from mobilenetv1_ros.core.frames import Frame
from mobilenetv1_ros.core.stamps import stamp_ns
from mobilenetv1_ros.ros.convert import frame_from_compressed
from mobilenetv1_ros.ros.image_cdr import image_view
from mobilenetv1_ros.ros.hbmem import (
    frame_from_hbm,
    hbm_message_class,
    hbm_stamp,
    hbm_type_name,
    hbm_view,
)
from mobilenetv1_ros.ros.params import HBM_TYPES, RELIABILITIES
from mobilenetv1_ros.ros.qos import (
    IMAGE_QUEUE_DEPTH,
    OverlapFilter,
    choose_reliability,
    image_qos,
    matched_reliability,
    reliability_override_name,
)

if TYPE_CHECKING:
    from rclpy.node import Node
    from rclpy.subscription import Subscription
    from rclpy.timer import Timer

__all__ = ['QOS_RECHECK_PERIOD_S', 'FrameCallback', 'ImageInput']

QOS_RECHECK_PERIOD_S = 0.5

#: Takes (header, the frame or the ImageError that kept the message from being one, the
#: perf_counter time the message was received).
FrameCallback = Callable[[Header, Union[Frame, ImageError], float], None]


@dataclass
class _Listener:
    """One subscription to the input topic."""

    source: int
    reliability: str
    msg_type: type
    subscription: Subscription
    raw: bool = False
    delivered: bool = False


class ImageInput:
    """The subscriptions of a node to its input topic, for one input mode at a time.

    It reads the node's reliability, hbmem_type and hbmem_frame_id parameters and declares the
    topic's reliability override parameter. It lives as long as the node: prepare and start it
    at each activate, stop it at deactivate.

    Args:
        node: The node that owns the subscriptions (and logs).
        deliver: Called in the executor thread with every frame that is not a duplicate.

    Attributes:
        mode: Input mode of the last prepare: 'raw', 'compressed' or 'hbmem'.
        topic: The resolved input topic ('' before the first prepare).
        reliability: Reliability of the current subscriptions ('' before the first one).
        reliability_reason: Why that reliability.
    """

    def __init__(self, node: Node, deliver: FrameCallback) -> None:
        self._node = node
        self._deliver = deliver
        self.mode = 'raw'
        self.topic = ''
        self.reliability = ''
        self.reliability_reason = ''
        self._choice = ('', '', False)
        self._auto_reliability = False
        self._listeners: list[_Listener] = []
        self._overlap = OverlapFilter()
        self._serial = 0
        self._hbm_type = ''
        self._hbm_type_class: type = type(None)
        self._frame_id = ''
        # Node-wide: a foreign publisher is reported once, not again at each activate.
        self._foreign_types: set[str] = set()
        self._timer: Timer | None = None

    # ---------------------------------------------------------------- lifecycle

    def prepare(self, mode: str) -> None:
        """Resolve the topic of `mode`, choose its HbmMsg type and reliability; subscribe none.

        Raises:
            ConfigError: A bad reliability override, or an HbmMsg type that cannot be imported.
        """
        self.mode = mode
        base = self._node.resolve_topic_name('image')
        self.topic = base if mode != 'compressed' else f'{base.rstrip("/")}/compressed'
        if mode == 'hbmem':
            self._hbm_type = self._choose_hbm_type()
            self._frame_id = str(self._param('hbmem_frame_id'))
        self._choice = self._choose_reliability()

    def start(self) -> None:
        """Subscribe as prepared; keep following the publishers where the choice is auto."""
        reliability, reason, auto = self._choice
        self._overlap = OverlapFilter()
        self._auto_reliability = auto
        if auto and self._matched_reliability() is None:
            self._listen_both()
        else:
            self._subscribe(reliability, reason)
        if auto or self._follows_hbm_type():
            self._timer = self._node.create_timer(QOS_RECHECK_PERIOD_S, self._recheck)

    def stop(self) -> None:
        """Stop following the publishers and unsubscribe (queued frames are dropped)."""
        if self._timer is not None:
            self._node.destroy_timer(self._timer)
            self._timer = None
        for listener in list(self._listeners):
            self._close(listener)

    # ---------------------------------------------------------------- choices

    def _param(self, name: str) -> Any:
        return self._node.get_parameter(name).value

    def _follows_hbm_type(self) -> bool:
        return self.mode == 'hbmem' and self._param('hbmem_type') == 'auto'

    def _choose_reliability(self) -> tuple[str, str, bool]:
        """Return (reliability, why, whether to keep matching it to the publishers)."""
        override_name = reliability_override_name(self.topic)
        if not self._node.has_parameter(override_name):
            self._node.declare_parameter(override_name, 'auto', ParameterDescriptor(
                name=override_name, read_only=True,
                description=f'Reliability of the subscription to {self.topic}: reliable, '
                            'best_effort, or auto (the reliability parameter decides)',
                additional_constraints='one of: ' + ', '.join(RELIABILITIES)))
        override = self._param(override_name)
        if override not in RELIABILITIES:
            raise ConfigError(f'Parameter {override_name} = {override!r} is not one of: '
                              f'{", ".join(RELIABILITIES)}')
        return choose_reliability(override, self._param('reliability'), self.topic,
                                  self._publisher_reliabilities())

    def _publisher_reliabilities(self) -> list[ReliabilityPolicy]:
        return [info.qos_profile.reliability
                for info in self._node.get_publishers_info_by_topic(self.topic)]

    def _matched_reliability(self) -> str | None:
        return matched_reliability(self._publisher_reliabilities())

    def _input_type(self) -> type:
        if self.mode == 'raw':
            return Image
        if self.mode == 'compressed':
            return CompressedImage
        return hbm_message_class(self._hbm_type)

    def _choose_hbm_type(self) -> str:
        """Return the HbmMsg type to take: the parameter's, else the publishers' (or 1080P)."""
        requested = str(self._param('hbmem_type'))
        name = requested if requested != 'auto' else (self._publisher_hbm_type()
                                                      or HBM_TYPES[0])
        hbm_message_class(name)  # fails at activate, naming the package, not at each frame
        return name

    def _publisher_hbm_type(self) -> str | None:
        """Return the HbmMsg type the publishers on the topic send, None while there is none.

        A publisher of any other type is reported once, naming its type: its frames can
        never reach the node.
        """
        found = None
        for info in self._node.get_publishers_info_by_topic(self.topic):
            name = hbm_type_name(info.topic_type)
            if name is not None:
                found = found or name
            elif info.topic_type not in self._foreign_types:
                self._foreign_types.add(info.topic_type)
                self._node.get_logger().error(
                    f'A publisher on {self.topic} sends {info.topic_type}, which input hbmem '
                    f'cannot take (hbm_img_msgs/msg/{", ".join(HBM_TYPES)})')
        return found

    # ---------------------------------------------------------------- subscriptions

    def _open(self, reliability: str, *, quiet: bool = False) -> _Listener:
        """Subscribe to the input topic with `reliability`, next to any open subscription.

        Args:
            reliability: 'reliable' or 'best_effort'.
            quiet: Do not warn about publishers whose QoS this subscription cannot match
                (another subscription of the node matches them).
        """
        msg_type = self._input_type()
        # Image and HbmMsg as serialized bytes, read in place: rclpy would copy the pixels.
        raw = self.mode in ('raw', 'hbmem')
        self._hbm_type_class = msg_type
        self._serial += 1
        source = self._serial
        overriding = QoSOverridingOptions(policy_kinds=(QoSPolicyKind.HISTORY,
                                                        QoSPolicyKind.DEPTH))
        events = SubscriptionEventCallbacks(incompatible_qos=lambda _: None) if quiet else None

        def callback(msg: Any) -> None:
            self._on_message(source, msg)

        subscription = self._node.create_subscription(
            msg_type, self.topic, callback, image_qos(reliability),
            qos_overriding_options=overriding, event_callbacks=events, raw=raw)
        listener = _Listener(source, reliability, msg_type, subscription, raw)
        self._listeners.append(listener)
        return listener

    def _close(self, listener: _Listener, *, drain: bool = False) -> None:
        """Unsubscribe; with `drain`, first hand on the frames still queued in the subscription."""
        if drain:
            self._drain(listener)
        self._listeners.remove(listener)
        self._node.destroy_subscription(listener.subscription)

    def _drain(self, listener: _Listener) -> None:
        subscription = listener.subscription
        # rclpy has no public "take"; its executors call the handle's take_message (Humble and
        # later alike). Queued frames are mostly duplicates of the kept subscription's, which
        # the overlap filter drops; any other one is delivered instead of destroyed.
        for _ in range(IMAGE_QUEUE_DEPTH * 10):
            try:
                with subscription.handle:
                    taken = subscription.handle.take_message(listener.msg_type, listener.raw)
            except Exception:  # noqa: BLE001 - an rclpy without this call only skips the drain
                return
            if taken is None:
                return
            self._on_message(listener.source, taken[0])

    def _announce(self, reliability: str, reason: str) -> None:
        self.reliability, self.reliability_reason = reliability, reason
        names = ', '.join(sorted({listener.msg_type.__name__ for listener in self._listeners}))
        self._node.get_logger().info(
            f'Subscribed to {self.topic} ({names}, {reliability}: {reason})')

    def _subscribe(self, reliability: str, reason: str) -> None:
        """Replace every subscription by one with `reliability` (a fixed choice, or at start)."""
        for listener in list(self._listeners):
            self._close(listener, drain=True)
        self._open(reliability)
        self._announce(reliability, reason)

    def _listen_both(self) -> None:
        """Subscribe reliable and best effort at once while the topic has no publisher.

        A publisher appearing then is heard from its first frame whatever its reliability: a
        reliable one through the reliable subscription (large frames included), a best-effort
        one through the other. The reliable one is created first because discovery announces
        a node's subscriptions in creation order: a reliable publisher matches it before the
        best-effort one and so never sends its first frame to the best-effort one alone.
        """
        kinds = [listener.reliability for listener in self._listeners]
        if kinds == ['reliable', 'best_effort']:
            return
        old = list(self._listeners)
        if 'reliable' not in kinds:
            self._open('reliable', quiet=True)
        self._open('best_effort')
        for listener in old:
            if listener.reliability == 'best_effort':
                self._close(listener, drain=True)
        self._announce('reliable and best_effort',
                       'no publisher yet; matching the first ones')

    def _is_matched(self, listener: _Listener) -> bool:
        """Whether the subscription has matched every publisher on the topic."""
        count = getattr(listener.subscription, 'get_publisher_count', None)
        if count is None:
            # Humble's rclpy cannot count a subscription's matches: a delivered frame shows it.
            return listener.delivered
        module = listener.msg_type.__module__.split('.')[0]
        type_name = f'{module}/msg/{listener.msg_type.__name__}'
        publishers = [info for info in self._node.get_publishers_info_by_topic(self.topic)
                      if info.topic_type == type_name]
        return bool(count() >= len(publishers))

    # ---------------------------------------------------------------- re-matching

    def _recheck(self) -> None:
        """Follow the publishers' type and reliability (the timer's callback)."""
        if self._follows_hbm_type():
            self._recheck_hbm_type()
        if not self._auto_reliability:
            if not self._listeners:
                self._subscribe(self.reliability, self.reliability_reason)
            return
        self._recheck_reliability()

    def _recheck_hbm_type(self) -> None:
        found = self._publisher_hbm_type()
        if found is not None and found != self._hbm_type:
            # Subscriptions of the old type never matched these publishers: nothing is lost.
            self._hbm_type = found
            for listener in list(self._listeners):
                self._close(listener)
            self._node.get_logger().info(f'Publishers on {self.topic} send {found}')

    def _recheck_reliability(self) -> None:
        """Follow the publishers' reliability without losing a frame in the switch.

        Make before break: a subscription of the new reliability is opened next to the old
        one; the old one is drained and closed only once the new one has matched every
        publisher. The overlap filter drops the frames both deliver.
        """
        matched = self._matched_reliability()
        if matched is None:
            self._listen_both()
            return
        wanted = [listener for listener in self._listeners if listener.reliability == matched]
        if not wanted:
            self._open(matched)
            return
        keep = wanted[-1]
        others = [listener for listener in self._listeners if listener is not keep]
        if others and self._is_matched(keep):
            for listener in others:
                self._close(listener, drain=True)
            self._announce(matched, f'matched to the publishers on {self.topic}')

    # ---------------------------------------------------------------- messages

    def _on_message(self, source: int, msg: Any) -> None:
        """Take a message of any input mode; drop it if another subscription delivered it."""
        received = time.perf_counter()
        for listener in self._listeners:
            if listener.source == source:
                listener.delivered = True
        if self.mode == 'hbmem':
            try:
                msg = hbm_view(msg, self._hbm_type_class)
            except ImageError as error:
                self._deliver(Header(frame_id=self._frame_id), error, received)
                return
            header = Header(stamp=hbm_stamp(msg), frame_id=self._frame_id)
        elif self.mode == 'raw':
            try:
                msg = image_view(msg)
            except ImageError as error:
                self._deliver(Header(), error, received)
                return
            header = msg.header
        else:
            header = msg.header
        if not self._overlap.admit(source, stamp_ns(header.stamp)):
            return
        try:
            frame = self._frame(msg)
        except ImageError as error:
            self._deliver(header, error, received)
            return
        self._deliver(header, frame, received)

    def _frame(self, msg: Any) -> Frame:
        """Wrap a message (an HbmView for hbmem) as a core frame; the pixels are not copied."""
        if self.mode == 'raw':
            frame: Frame = msg.frame
            return frame
        if self.mode == 'compressed':
            return frame_from_compressed(msg)
        return frame_from_hbm(msg)
