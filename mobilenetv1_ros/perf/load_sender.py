"""A camera at a fixed frame rate: prepared messages published on a schedule, each stamped.

The sender only keeps time; publishing a message with a stamp is its caller's (an Image given a
new header stamp, an HbmMsg's serialized bytes given a new time_stamp).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ['RateSender', 'Sent']


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
        clock: Returns the camera's current time in nanoseconds (the stamp of the next frame).
        send: send(which, stamp) publishes message `which` with that stamp.
        count: How many messages there are; they are published in turn, 0 to count - 1.
        fps: Frames per second.
    """

    def __init__(self, clock: Callable[[], int], send: Callable[[int, int], None], count: int,
                 fps: float) -> None:
        self.clock = clock
        self.send = send
        self.count = count
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
            which = index % self.count
            stamp = self.clock()
            before = time.perf_counter()
            self.send(which, stamp)
            self.publish_ms.append((time.perf_counter() - before) * 1e3)
            self.sent.append(Sent(stamp, which, time.monotonic()))
            index += 1
            next_time += self.period
