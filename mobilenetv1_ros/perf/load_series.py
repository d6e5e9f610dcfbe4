"""The load run's time series: one row of rates, ages, memory and CPU per interval."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mobilenetv1_ros.perf.machine import latency_stats
from mobilenetv1_ros.procfs.procstat import read_process, read_threads
from mobilenetv1_ros.procfs.thread_roles import role_cpu

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mobilenetv1_ros.harness.peer import ClassifierPeer
    from mobilenetv1_ros.perf.load_sender import RateSender

__all__ = ['Windows', 'diag_float', 'diag_int']


def diag_int(values: Mapping[str, str], key: str) -> int:
    """Return an integer of the node's diagnostics, 0 when missing or not a number."""
    try:
        return int(values.get(key, '0'))
    except ValueError:
        return 0


def diag_float(values: Mapping[str, str], key: str) -> float | None:
    """Return a number of the node's diagnostics, None when missing or not a number."""
    try:
        return float(values[key])
    except (KeyError, ValueError):
        return None


class Windows:
    """The time series: one row per interval.

    Args:
        peer: The camera, which also receives the results and the node's diagnostics.
        pid: The node's process.
        start: time.monotonic() at which the measurement started.
        interval: Seconds per row.
        sent: Frames sent before the measurement (the warm-up).
        guess_inference: See procfs.thread_roles.role_cpu (False for the baseline node).
    """

    def __init__(self, peer: ClassifierPeer, pid: int, start: float, interval: float,
                 sent: int, *, guess_inference: bool = True) -> None:
        self.peer = peer
        self.guess_inference = guess_inference
        self.pid = pid
        self.interval = interval
        self.rows: list[dict[str, Any]] = []
        self._start = start
        self._next = start + interval
        self._process = read_process(pid)
        self._threads = read_threads(pid)
        self._diag = self._diagnostics()
        self._sent = sent

    def _diagnostics(self) -> tuple[float, dict[str, str]]:
        return time.monotonic(), self.peer.latest_diagnostics()

    def tick(self, now: float, sender: RateSender, force: bool = False) -> None:
        """Add a row if the interval is over (or `force`)."""
        if now < self._next and not force:
            return
        process = read_process(self.pid)
        threads = read_threads(self.pid)
        diag = self._diagnostics()
        window_start = self._next - self.interval
        sent_now = len(sender.sent)
        ages = [(received.wall_ns - sent.stamp) / 1e6 for sent in sender.sent[self._sent:]
                if (received := self.peer.results.get(sent.stamp)) is not None]
        previous, current = self._diag[1], diag[1]
        span = max(diag[0] - self._diag[0], 1e-9)
        arrived = diag_int(current, 'frames_received') - diag_int(previous, 'frames_received')
        row: dict[str, Any] = {
            't_s': round(now - self._start, 1),
            'sent': sent_now - self._sent,
            'sent_hz': round((sent_now - self._sent) / max(now - window_start, 1e-9), 1),
            'node_in_hz': round(arrived / span, 1),
            'node_out_hz': round((diag_int(current, 'frames_classified')
                                  - diag_int(previous, 'frames_classified')) / span, 1),
            'dropped': diag_int(current, 'frames_dropped') - diag_int(previous,
                                                                       'frames_dropped'),
            'results': len(ages),
            'age_ms': latency_stats(ages),
        }
        if process is not None and self._process is not None:
            row['rss_mb'] = round(process.rss_mb, 1)
            row['cpu_pct'] = round(100.0 * (process.cpu_s - self._process.cpu_s)
                                   / max(process.time - self._process.time, 1e-9), 1)
            row['threads'] = process.threads
        if threads is not None and self._threads is not None:
            row['cpu_ms_per_frame'] = role_cpu(self._threads, threads,
                                                guess_inference=self.guess_inference,
                                                ).ms_per_frame(arrived)
        self.rows.append(row)
        self._sent = sent_now
        self._process, self._threads, self._diag = process, threads, diag
        self._next += self.interval
