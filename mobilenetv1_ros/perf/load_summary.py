"""The load run's summary: totals, frame ages, memory, CPU by thread role, and the checks."""

from __future__ import annotations

import collections
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mobilenetv1_ros.perf.load_series import diag_float, diag_int
from mobilenetv1_ros.perf.machine import latency_stats, load_average
from mobilenetv1_ros.procfs.procstat import (
    machine_cpu_times,
    read_process,
    read_threads,
)
from mobilenetv1_ros.procfs.thread_roles import role_cpu

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from mobilenetv1_ros.harness.peer import ClassifierPeer
    from mobilenetv1_ros.harness.process import NodeProcess
    from mobilenetv1_ros.perf.load_settings import LoadSettings
    from mobilenetv1_ros.perf.load_sender import RateSender, Sent
    from mobilenetv1_ros.procfs.procstat import ProcessSample, ThreadsSample

__all__ = ['Reading', 'exit_check', 'node_exit', 'read_all', 'summarize']


@dataclass(frozen=True)
class Reading:
    """The /proc readings at one end of the measurement.

    Attributes:
        node: The node process.
        threads: The node's threads.
        own: This process (the load tool).
        machine: (busy, total) CPU seconds of the machine.
    """

    node: ProcessSample | None
    threads: ThreadsSample | None
    own: ProcessSample | None
    machine: tuple[float, float] | None


def read_all(pid: int) -> Reading:
    """Read the node process, its threads, this process and the machine."""
    return Reading(read_process(pid), read_threads(pid), read_process(os.getpid()),
                   machine_cpu_times())


def _age_stats(peer: ClassifierPeer, measured: Sequence[Sent]) -> tuple[list[float], int, int]:
    """Return (ages ms, results received, results whose class is not the photo's usual one)."""
    by_frame: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    ages, tops = [], []
    for sent in measured:
        received = peer.results.get(sent.stamp)
        if received is None:
            continue
        ages.append((received.wall_ns - sent.stamp) / 1e6)
        results = received.msg.results
        top = results[0].class_id if results else ''
        tops.append((sent.which, top))
        by_frame[sent.which][top] += 1
    usual = {which: counts.most_common(1)[0][0] for which, counts in by_frame.items()}
    mismatched = sum(1 for which, top in tops if top != usual[which])
    return ages, len(tops), mismatched


def _cpu_pct(start: ProcessSample | None, end: ProcessSample | None) -> float | None:
    if start is None or end is None:
        return None
    return round(100.0 * (end.cpu_s - start.cpu_s) / max(end.time - start.time, 1e-9), 1)


def _busy(start: tuple[float, float] | None, end: tuple[float, float] | None) -> float | None:
    if start is None or end is None or end[1] <= start[1]:
        return None
    return round(100.0 * (end[0] - start[0]) / (end[1] - start[1]), 1)


def summarize(settings: LoadSettings, sender: RateSender, measured: Sequence[Sent],
              warm_skipped: int, peer: ClassifierPeer,
              diagnostics: tuple[Mapping[str, str], Mapping[str, str]],
              readings: tuple[Reading, Reading], load_start: list[float] | None,
              seconds: float, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the report of a measured load (without the run's setting-up details).

    Args:
        settings: What was sent.
        sender: The camera, with every frame it sent.
        measured: The frames sent in the measurement (after the warm-up).
        warm_skipped: Frames the sender skipped during the warm-up.
        peer: The camera's node, with the results and the node's diagnostics.
        diagnostics: The node's diagnostics values at the start and the end.
        readings: The /proc readings at the start and the end.
        load_start: The load average at the start.
        seconds: Length of the measurement.
        rows: The time series.
    """
    ages, results, mismatched = _age_stats(peer, measured)
    period_ms = 1e3 / settings.fps
    diag_start, diag_end = diagnostics
    start, end = readings
    assert start.node is not None

    def delta(key: str) -> int:
        return diag_int(diag_end, key) - diag_int(diag_start, key)

    infer_p95 = diag_float(diag_end, 'infer_ms_p95')
    node_age_p95 = diag_float(diag_end, 'end_to_end_ms_p95')
    bound = None if infer_p95 is None else infer_p95 + period_ms
    report: dict[str, Any] = {
        'settings': {key: str(value) if isinstance(value, Path) else value
                     for key, value in asdict(settings).items()
                     if key not in ('photos', 'node_log')},
        'seconds': round(seconds, 2),
        'sent': len(measured),
        'sent_hz': round(len(measured) / max(seconds, 1e-9), 2),
        'skipped_by_sender': sender.skipped - warm_skipped,
        'publish_ms': latency_stats(sender.publish_ms),
        'node_received': delta('frames_received'),
        'node_classified': delta('frames_classified'),
        'node_dropped': delta('frames_dropped'),
        'node_rejected': delta('frames_rejected'),
        'node_failed': delta('frames_failed'),
        'not_delivered': max(0, len(measured) - delta('frames_received')),
        'node_in_hz': round(delta('frames_received') / max(seconds, 1e-9), 2),
        'node_out_hz': round(delta('frames_classified') / max(seconds, 1e-9), 2),
        'results': results,
        'results_hz': round(results / max(seconds, 1e-9), 2),
        'mismatched': mismatched,
        'age_ms': latency_stats(ages),
        'node_infer_ms': {'p50': diag_float(diag_end, 'infer_ms_p50'), 'p95': infer_p95},
        'node_age_ms': {'p50': diag_float(diag_end, 'end_to_end_ms_p50'),
                        'p95': node_age_p95},
        'frame_period_ms': round(period_ms, 3),
        'age_bound_ms': None if bound is None else round(bound, 3),
        'rss_mb': {'start': round(start.node.rss_mb, 1),
                   'end': None if end.node is None else round(end.node.rss_mb, 1),
                   'peak': max([start.node.rss_mb, *(row.get('rss_mb', 0) for row in rows)]),
                   'growth': None if end.node is None else round(
                       end.node.rss_mb - start.node.rss_mb, 1)},
        'threads': {'start': start.node.threads,
                    'end': None if end.node is None else end.node.threads},
        'node_cpu_pct': _cpu_pct(start.node, end.node),
        'thread_cpu': None if start.threads is None or end.threads is None else role_cpu(
            start.threads, end.threads, guess_inference=not settings.baseline).as_dict(
                delta('frames_received'), delta('frames_classified')),
        'load_tool_cpu_pct': _cpu_pct(start.own, end.own),
        'machine': {'cpus': os.cpu_count(), 'loadavg_start': load_start,
                    'loadavg_end': load_average(), 'busy_pct': _busy(start.machine,
                                                                     end.machine)},
        'series': rows,
    }
    report['checks'] = _checks(settings, report, end.node is not None)
    return report


def _checks(settings: LoadSettings, report: dict[str, Any], alive: bool) -> list[dict[str, Any]]:
    growth = report['rss_mb']['growth']
    bound = report['age_bound_ms']
    age_p95 = report['age_ms'].get('p95')
    node_p95 = report['node_age_ms']['p95']
    process = [
        {'name': 'node alive through the load', 'ok': alive},
        {'name': f'RSS growth <= {settings.rss_limit_mb:g} MB',
         'ok': growth is not None and growth <= settings.rss_limit_mb,
         'value': growth},
    ]
    if settings.baseline:
        # The baseline node classifies nothing: only what it received can be checked.
        return [*process, {'name': 'frames received by the node',
                           'ok': report['node_received'] > 0,
                           'value': report['node_received']}]
    return [
        *process,
        {'name': "every result names its photo's class", 'ok': report['mismatched'] == 0,
         'value': report['mismatched']},
        {'name': 'results received', 'ok': report['results'] > 0, 'value': report['results']},
        {'name': 'p95 frame age (stamp to result here) <= inference p95 + one frame period',
         'ok': bound is not None and age_p95 is not None and age_p95 <= bound,
         'value': age_p95, 'bound': bound},
        {'name': 'p95 frame age in the node (callback to publish) <= inference p95 + one '
                 'frame period',
         'ok': bound is not None and node_p95 is not None and node_p95 <= bound,
         'value': node_p95, 'bound': bound},
    ]


#: Lines of a failed node's output kept in the report.
_TAIL_LINES = 15


def node_exit(node: NodeProcess) -> dict[str, Any]:
    """Stop a node the load tool started; return how it ended and what it printed."""
    code = node.stop()
    summary = node.summary()
    return {'pid': node.pid, 'alive_at_end': node.alive_at_stop, 'exit_code': code,
            'log_lines': summary.lines, 'warning_lines': summary.warning_lines,
            'traceback': summary.traceback,
            'log_tail': node.tail(_TAIL_LINES) if code else '',
            'command': ' '.join(node.command)}


def exit_check(node: Mapping[str, Any]) -> dict[str, Any]:
    """Return the check of a started node's exit: code 0 on SIGINT, no traceback."""
    return {'name': 'node exits with code 0 on SIGINT, no traceback',
            'ok': node['exit_code'] == 0 and not node['traceback'],
            'value': node['exit_code']}
