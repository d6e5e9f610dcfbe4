"""Counters, rates and per-stage latency percentiles of the classifier node (no ROS)."""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import numpy.typing as npt

__all__ = ['STAGES', 'Latency', 'NodeStats', 'Snapshot', 'Throttle']

#: Timed stages of one frame, in milliseconds: `convert` (message to model input, in the
#: subscription callback), `wait` (in the latest-frame slot), `infer` (backend), `postprocess`
#: (scores to top-k and the message), `publish`, `end_to_end` (callback entry to the return of
#: publish) and `overhead` (end_to_end minus infer: what the node adds to the backend).
STAGES = ('convert', 'wait', 'infer', 'postprocess', 'publish', 'end_to_end', 'overhead')


@dataclass(frozen=True)
class Latency:
    """Median and 95th percentile of a stage over the recent frames."""

    p50_ms: float
    p95_ms: float
    samples: int


@dataclass(frozen=True)
class Snapshot:
    """Totals since start, rates and new problems since the previous snapshot.

    Attributes:
        period_s: Seconds since the previous snapshot (or since the start).
        received: Frames that reached the subscription callback.
        classified: Results published.
        dropped: Frames replaced by a newer one before inference (latest frame wins).
        rejected: Frames that could not be converted (bad encoding, size, data).
        failed: Frames the backend failed on.
        overlays: Overlay images published.
        input_rate_hz: Frames received per second over the period.
        output_rate_hz: Results published per second over the period.
        rejected_by_reason: Rejected frames per reason, since start.
        failed_by_reason: Failed frames per reason, since start.
        new_rejected: Frames rejected during the period.
        new_failed: Frames failed during the period.
        latency: Stage name -> percentiles, for the stages that have samples.
        seconds_since_input: Seconds since the last frame arrived, None before the first.
    """

    period_s: float
    received: int
    classified: int
    dropped: int
    rejected: int
    failed: int
    overlays: int
    input_rate_hz: float
    output_rate_hz: float
    rejected_by_reason: Mapping[str, int]
    failed_by_reason: Mapping[str, int]
    new_rejected: int
    new_failed: int
    latency: Mapping[str, Latency]
    seconds_since_input: float | None


class NodeStats:
    """Thread-safe statistics: the subscription callback and the inference thread feed it.

    Args:
        history: Frames the latency percentiles are computed over (the most recent ones).
        clock: Monotonic clock in seconds.
    """

    def __init__(self, history: int = 256,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        # One row of stage times per classified frame, in STAGES order: a frame costs one
        # append, the percentiles are computed when a snapshot asks.
        self._rows: collections.deque[tuple[float, ...]] = collections.deque(maxlen=history)
        self._offered: collections.deque[float] = collections.deque(maxlen=history)
        self._result_offered: collections.deque[float] = collections.deque(maxlen=history)
        self._rejected: collections.Counter[str] = collections.Counter()
        self._failed: collections.Counter[str] = collections.Counter()
        self._received = self._classified = self._dropped = self._overlays = 0
        self._last_input: float | None = None
        self._mark_time = clock()
        self._mark = (0, 0, 0, 0)

    def received(self) -> None:
        """Count a frame arriving."""
        with self._lock:
            self._received += 1
            self._last_input = self._clock()

    def offered(self, at: float) -> None:
        """Record when a converted frame was left for inference (a time.perf_counter() value)."""
        with self._lock:
            self._offered.append(at)

    def dropped(self, count: int = 1) -> None:
        """Count frames replaced before inference."""
        with self._lock:
            self._dropped += count

    def rejected(self, reason: str) -> None:
        """Count a frame that could not be converted."""
        with self._lock:
            self._rejected[reason] += 1

    def failed(self, reason: str) -> None:
        """Count a frame the backend failed on."""
        with self._lock:
            self._failed[reason] += 1

    def overlay(self) -> None:
        """Count an overlay image published."""
        with self._lock:
            self._overlays += 1

    def classified(self, *, convert: float, wait: float, infer: float, postprocess: float,
                   publish: float, end_to_end: float, offered: float | None = None) -> None:
        """Count a published result and record its stage times in milliseconds.

        `offered` is when its frame was left for inference (as passed to `offered`).
        """
        row = (convert, wait, infer, postprocess, publish, end_to_end, end_to_end - infer)
        with self._lock:
            self._classified += 1
            if offered is not None:
                self._result_offered.append(offered)
            self._rows.append(row)

    def samples(self, stage: str) -> list[float]:
        """Return the recorded milliseconds of one of STAGES, oldest first."""
        column = STAGES.index(stage)
        with self._lock:
            return [row[column] for row in self._rows]

    def offer_times(self) -> tuple[list[float], list[float]]:
        """Return when the recent frames, and the recent results' frames, were offered."""
        with self._lock:
            return list(self._offered), list(self._result_offered)

    def snapshot(self) -> Snapshot:
        """Return the current figures and start a new rate period."""
        with self._lock:
            now = self._clock()
            period = max(now - self._mark_time, 1e-9)
            rejected, failed = sum(self._rejected.values()), sum(self._failed.values())
            old_received, old_classified, old_rejected, old_failed = self._mark
            rows = list(self._rows)
            snapshot = Snapshot(
                period_s=period, received=self._received, classified=self._classified,
                dropped=self._dropped, rejected=rejected, failed=failed, overlays=self._overlays,
                input_rate_hz=(self._received - old_received) / period,
                output_rate_hz=(self._classified - old_classified) / period,
                rejected_by_reason=dict(self._rejected), failed_by_reason=dict(self._failed),
                new_rejected=rejected - old_rejected, new_failed=failed - old_failed,
                latency={},
                seconds_since_input=None if self._last_input is None else now - self._last_input)
            self._mark_time = now
            self._mark = (self._received, self._classified, rejected, failed)
        if rows:
            p50, p95 = _percentiles(rows, (50.0, 95.0))
            snapshot = dataclasses.replace(snapshot, latency={
                stage: Latency(float(p50[column]), float(p95[column]), len(rows))
                for column, stage in enumerate(STAGES)})
        return snapshot


def _percentiles(rows: list[tuple[float, ...]],
                 percents: tuple[float, ...]) -> list[npt.NDArray[np.float64]]:
    """Return numpy's default (linear) percentiles of each column of `rows`.

    One sort of the columns, then interpolation between neighbours: np.percentile's result
    without its per-call overhead.
    """
    columns = np.sort(np.array(rows, dtype=np.float64), axis=0)
    last = len(rows) - 1
    found = []
    for percent in percents:
        position = percent / 100.0 * last
        below = int(position)
        above = min(below + 1, last)
        fraction = position - below
        found.append(columns[below] + (columns[above] - columns[below]) * fraction)
    return found


class Throttle:
    """Lets one event per key through per period (e.g. one warning per second per reason)."""

    def __init__(self, period_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._period = period_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def ready(self, key: str) -> bool:
        """Return True if no event of `key` passed within the period (and record this one)."""
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._period:
                return False
            self._last[key] = now
            return True
