"""A dependency-free progress bar on stderr."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ['Progress']


class Progress:
    """Draws `label [#####.....] done/total rate` on one terminal line.

    Args:
        total: Number of steps.
        label: Text before the bar.
        stream: Where to draw (default stderr).
        enabled: None draws only when the stream is a terminal.
    """

    WIDTH = 30
    INTERVAL_S = 0.1

    def __init__(self, total: int, label: str = '', stream: TextIO | None = None,
                 enabled: bool | None = None) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.done = 0
        self._start = time.perf_counter()
        self._drawn = 0.0

    def update(self, steps: int = 1) -> None:
        """Advance by `steps` and redraw at most every INTERVAL_S seconds."""
        self.done += steps
        now = time.perf_counter()
        if self.enabled and (now - self._drawn >= self.INTERVAL_S or self.done >= self.total):
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        filled = self.WIDTH * min(self.done, self.total) // self.total
        rate = self.done / max(now - self._start, 1e-9)
        self.stream.write(f'\r{self.label} [{"#" * filled}{"." * (self.WIDTH - filled)}] '
                          f'{self.done}/{self.total} {rate:.0f}/s')
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled:
            self._draw(time.perf_counter())
            self.stream.write('\n')
            self.stream.flush()
