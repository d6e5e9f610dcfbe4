"""An overlay viewer for the load tool: subscribes to the node's overlay and counts what arrives.

It keeps each overlay's stamp and arrival time only (never the image: a 1920x1080 overlay is
6 MB), so a long run at camera rate holds no frames.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from mobilenetv1_ros.core.stamps import stamp_ns
from mobilenetv1_ros.perf.machine import latency_stats

if TYPE_CHECKING:
    from mobilenetv1_ros.harness.peer import ClassifierPeer

__all__ = ['OverlayViewer']

_RELIABILITY = {'reliable': ReliabilityPolicy.RELIABLE,
                'best_effort': ReliabilityPolicy.BEST_EFFORT}


class OverlayViewer:
    """Counts the node's overlay images, as a viewer (rviz, rqt_image_view) would receive them.

    Args:
        peer: The camera's node; the viewer's subscription lives in its participant, so the
            viewer has the camera side's Fast DDS profile.
        reliability: The subscription's reliability ('reliable' or 'best_effort').
    """

    def __init__(self, peer: ClassifierPeer, reliability: str) -> None:
        self.peer = peer
        self._lock = threading.Lock()
        self._ages_ms: list[float] = []
        self._bytes = 0
        self._mark = 0
        self.subscription = peer.node.create_subscription(
            Image, peer.topic('overlay'), self._on_overlay,
            QoSProfile(depth=1, reliability=_RELIABILITY[reliability]))

    def _on_overlay(self, msg: Image) -> None:
        age_ms = (self.peer.now_ns() - stamp_ns(msg.header.stamp)) / 1e6
        with self._lock:
            self._ages_ms.append(age_ms)
            self._bytes = len(msg.data)

    def count(self) -> int:
        """Overlays received so far."""
        with self._lock:
            return len(self._ages_ms)

    def start(self) -> None:
        """Start the measured span: later summaries count from here."""
        with self._lock:
            self._mark = len(self._ages_ms)

    def summary(self, seconds: float, published: int) -> dict[str, Any]:
        """Overlays received since start(), their rate and age, against those published.

        Args:
            seconds: Length of the measured span.
            published: Overlays the node published in it (its diagnostics).
        """
        with self._lock:
            ages = self._ages_ms[self._mark:]
            size = self._bytes
        return {'published': published, 'received': len(ages),
                'received_hz': round(len(ages) / max(seconds, 1e-9), 2),
                'age_ms': latency_stats(ages), 'bytes': size}
