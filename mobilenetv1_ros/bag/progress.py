"""A one-line progress bar with frames per second, for terminals (silent elsewhere)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ['Progress']

_WIDTH = 28


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f'{minutes}:{secs:02d}'


class Progress:
    """Redraws `[####....] done/total frames  fps  ETA` at most `rate_hz` times a second.

    Args:
        total: Expected frame count (0 when unknown: no bar, no ETA).
        enabled: None draws only when `stream` is a terminal.
        stream: Where to draw (stderr).
    """

    def __init__(self, total: int, *, enabled: bool | None = None, stream: TextIO | None = None,
                 rate_hz: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = max(0, total)
        self.done = 0
        self.start = time.perf_counter()
        self._interval = 1.0 / rate_hz
        self._last_draw = 0.0
        self._drawn = False

    def update(self, count: int = 1) -> None:
        """Count `count` more frames; redraw when the last redraw is old enough."""
        self.done += count
        now = time.perf_counter()
        if self.enabled and now - self._last_draw >= self._interval:
            self._last_draw = now
            self._draw(now)

    def line(self, now: float | None = None) -> str:
        """Return the current progress text."""
        elapsed = max(1e-9, (now or time.perf_counter()) - self.start)
        rate = self.done / elapsed
        if self.total:
            filled = min(_WIDTH, int(_WIDTH * self.done / self.total))
            bar = '#' * filled + '.' * (_WIDTH - filled)
            remaining = max(0, self.total - self.done) / rate if rate > 0 else 0.0
            return (f'[{bar}] {self.done}/{self.total} frames  {rate:7.1f} frames/s  '
                    f'ETA {_clock(remaining)}')
        return f'{self.done} frames  {rate:7.1f} frames/s  {_clock(elapsed)}'

    def _draw(self, now: float) -> None:
        self.stream.write('\r' + self.line(now))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self.enabled:
            self._draw(time.perf_counter())
        if self._drawn:
            self.stream.write('\n')
            self.stream.flush()
