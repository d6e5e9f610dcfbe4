"""A camera at a fixed frame rate: prepared messages published on a schedule, each stamped."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from mobilenetv1_ros.ros.convert import stamp_from_ns

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sensor_msgs.msg import CompressedImage, Image

    from mobilenetv1_ros.harness.peer import ClassifierPeer

__all__ = ['RateSender', 'Sent']

_Message = Union['Image', 'CompressedImage']


@dataclass(frozen=True)
class Sent:
    """One published frame.

    Attributes:
        stamp: Its header stamp in nanoseconds (the peer's clock).
        which: Index of the message (the photo) it was.
        time: time.monotonic() just after publishing.
    """

    stamp: int
    which: int
    time: float


class RateSender:
    """Publishes prepared messages in turn at a fixed rate; skips (never bursts) when behind.

    Args:
        peer: The camera.
        msgs: The messages, published in turn; each gets a fresh stamp before publishing.
        fps: Frames per second.
    """

    def __init__(self, peer: ClassifierPeer, msgs: Sequence[_Message], fps: float) -> None:
        self.peer = peer
        self.msgs = msgs
        self.period = 1.0 / fps
        self.sent: list[Sent] = []
        self.skipped = 0
        self.publish_ms: list[float] = []

    def run_for(self, seconds: float, on_tick: Callable[[float], None] | None = None) -> None:
        """Publish for `seconds`, calling on_tick(time.monotonic()) between frames."""
        start = time.monotonic()
        end = start + seconds
        next_time = start
        index = len(self.sent)
        while True:
            now = time.monotonic()
            if now >= end:
                break
            if on_tick is not None:
                on_tick(now)
            if next_time > now:
                time.sleep(min(next_time - now, end - now))
                continue
            behind = int((now - next_time) / self.period)
            if behind:
                self.skipped += behind
                next_time += behind * self.period
            which = index % len(self.msgs)
            msg = self.msgs[which]
            stamp = self.peer.now_ns()
            msg.header.stamp = stamp_from_ns(stamp)
            before = time.perf_counter()
            self.peer.publish_msg(msg)
            self.publish_ms.append((time.perf_counter() - before) * 1e3)
            self.sent.append(Sent(stamp, which, time.monotonic()))
            index += 1
            next_time += self.period
