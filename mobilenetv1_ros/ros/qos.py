"""QoS profiles of the node's topics and matching the image subscription to the camera."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    'LATCHED_QOS',
    'OVERLAY_QOS',
    'RESULTS_QOS',
    'IMAGE_QUEUE_DEPTH',
    'OverlapFilter',
    'image_qos',
    'matched_reliability',
    'choose_reliability',
    'reliability_override_name',
]

#: classification: reliable, a short queue so a slow consumer sees recent results.
RESULTS_QOS = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
#: label_info and vision_info: the last message is kept for subscribers that start later.
LATCHED_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
#: overlay: reliable (large frames survive; best-effort subscribers match too), newest only.
OVERLAY_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)

_POLICIES = {'reliable': ReliabilityPolicy.RELIABLE, 'best_effort': ReliabilityPolicy.BEST_EFFORT}


#: DDS history of the image subscription. The callback moves every frame into the one-frame
#: slot at once, so the queue only absorbs a burst while the executor thread is busy; with a
#: depth of 1, DDS would overwrite frames the node never saw, uncounted.
IMAGE_QUEUE_DEPTH = 10


def image_qos(reliability: str) -> QoSProfile:
    """Return the image subscription profile: keep last IMAGE_QUEUE_DEPTH, volatile.

    Args:
        reliability: 'reliable' or 'best_effort'.
    """
    return QoSProfile(depth=IMAGE_QUEUE_DEPTH, history=HistoryPolicy.KEEP_LAST,
                      reliability=_POLICIES[reliability],
                      durability=DurabilityPolicy.VOLATILE)


def matched_reliability(publishers: Iterable[ReliabilityPolicy]) -> str | None:
    """Return the reliability that receives every publisher best.

    'reliable' when every publisher is reliable (a best-effort subscription would lose large
    frames), 'best_effort' when any is best effort (a reliable subscription would not match
    it), None when there is no publisher.
    """
    policies = list(publishers)
    if not policies:
        return None
    if all(policy == ReliabilityPolicy.RELIABLE for policy in policies):
        return 'reliable'
    return 'best_effort'


def reliability_override_name(topic: str) -> str:
    """Return the ROS-standard override parameter of a subscription's reliability."""
    return f'qos_overrides.{topic}.subscription.reliability'




def choose_reliability(override: str, requested: str, topic: str,
                       publishers: Iterable[ReliabilityPolicy]) -> tuple[str, str, bool]:
    """Return (reliability, why, whether to keep matching it to the publishers).

    Args:
        override: The qos_overrides parameter ('auto' when not set); wins when not 'auto'.
        requested: The reliability parameter ('auto', 'reliable' or 'best_effort').
        topic: The image topic, for the reason.
        publishers: Reliability of each publisher on the topic now.
    """
    if override != 'auto':
        return override, f'set by {reliability_override_name(topic)}', False
    if requested != 'auto':
        return requested, 'set by the reliability parameter', False
    matched = matched_reliability(publishers)
    if matched is None:
        return 'best_effort', 'no publisher yet; matching the first ones', True
    return matched, f'matched to the publishers on {topic}', True


class OverlapFilter:
    """Drops a frame another subscription of the same topic has just delivered.

    While the node re-matches its reliability, two subscriptions are open at once and a
    publisher both match sends each frame twice. A frame is a duplicate when a *different*
    subscription delivered one with the same stamp within the last `window` seconds (and
    `history` frames); frames of one subscription are never dropped, so a camera that stamps
    every frame alike still works, and a stamp sent again later is a new frame.

    Args:
        history: Stamps remembered at most.
        window: Seconds a stamp is remembered.
    """

    def __init__(self, history: int = 64, window: float = 2.0) -> None:
        self._history = history
        self._window = window
        self._seen: OrderedDict[int, tuple[int, float]] = OrderedDict()

    def admit(self, source: int, stamp_ns: int, now: float | None = None) -> bool:
        """Return whether the frame is new: not just delivered by a subscription but `source`.

        Args:
            source: Identifies the subscription that delivered the frame.
            stamp_ns: The frame's stamp in nanoseconds.
            now: time.monotonic() of the delivery (default: now).
        """
        now = time.monotonic() if now is None else now
        seen = self._seen.get(stamp_ns)
        if seen is not None and seen[0] != source and now - seen[1] <= self._window:
            return False
        self._seen[stamp_ns] = (source, now)
        self._seen.move_to_end(stamp_ns)
        while len(self._seen) > self._history:
            self._seen.popitem(last=False)
        return True
