"""The text the `load` command prints: the time series table and the summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mobilenetv1_ros.procfs.thread_roles import NO_INFERENCE, ROLES, UNATTRIBUTED

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ['format_report']


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return 'n/a'
    if isinstance(value, float):
        return f'{value:.{digits}f}'
    return str(value)


#: Series columns of CPU per frame by thread role: heading -> role.
_ROLE_COLUMNS = {'exec': 'executor', 'infer': 'inference', 'dds': 'middleware', 'rest': 'other'}


def _series(report: Mapping[str, Any]) -> list[str]:
    lines = [
        f'{"t s":>6} {"sent/s":>7} {"in/s":>6} {"out/s":>6} {"drop":>5} {"age p50":>8} '
        f'{"p95":>7} {"p99":>7} {"RSS MB":>7} {"CPU %":>6} {"thr":>4} '
        + ' '.join(f'{heading:>6}' for heading in _ROLE_COLUMNS),
    ]
    for row in report['series']:
        age = row['age_ms']
        cpu = row.get('cpu_ms_per_frame', {})
        lines.append(
            f'{row["t_s"]:6.1f} {row["sent_hz"]:7.1f} {row["node_in_hz"]:6.1f} '
            f'{row["node_out_hz"]:6.1f} {row["dropped"]:5d} {_fmt(age.get("p50")):>8} '
            f'{_fmt(age.get("p95")):>7} {_fmt(age.get("p99")):>7} '
            f'{_fmt(row.get("rss_mb")):>7} {_fmt(row.get("cpu_pct")):>6} '
            f'{_fmt(row.get("threads")):>4} '
            + ' '.join(f'{_fmt(cpu.get(role), 2):>6}' for role in _ROLE_COLUMNS.values()))
    lines.append('(' + ', '.join(_ROLE_COLUMNS) + ': node CPU ms per frame received, by thread: '
                 + ', '.join(_ROLE_COLUMNS.values()) + ')')
    return lines


def _thread_cpu(report: Mapping[str, Any]) -> list[str]:
    cpu = report.get('thread_cpu')
    if not cpu:
        return []
    ms = cpu['ms_per_frame']
    roles = ', '.join(f'{role} {_fmt(ms[role], 2)}' for role in (*ROLES, UNATTRIBUTED))
    inference = ('no inference (the baseline node)' if cpu['inference_by'] == NO_INFERENCE
                 else f'inference per classified frame '
                      f'{_fmt(cpu["inference_ms_per_classified"], 2)} (inference thread found '
                      f'by {cpu["inference_by"]})')
    lines = [f'CPU per frame received (ms, per thread from /proc, {cpu["frames"]} frames): '
             f'{roles}; total {_fmt(ms["total"], 2)}, outside inference '
             f'{_fmt(ms["outside_inference"], 2)}; {inference}']
    runs = cpu.get('runs_per_frame')
    if runs:
        lines.append('wake-ups per frame received (times on a CPU, from schedstat): '
                     + ', '.join(f'{role} {_fmt(runs[role], 1)}' for role in ROLES))
    return lines


def _summary(report: Mapping[str, Any]) -> list[str]:
    age = report['age_ms']
    rss = report['rss_mb']
    machine = report['machine']
    return [
        f'frames: sent {report["sent"]} ({report["sent_hz"]:.1f}/s, '
        f'{report["skipped_by_sender"]} skipped by the sender falling behind; publish p50 '
        f'{_fmt(report["publish_ms"].get("p50"), 2)} ms); not delivered by DDS '
        f'{report["not_delivered"]}; node received '
        f'{report["node_received"]} ({report["node_in_hz"]:.1f}/s), classified '
        f'{report["node_classified"]} ({report["node_out_hz"]:.1f}/s), dropped '
        f'{report["node_dropped"]} (latest frame wins), rejected {report["node_rejected"]}, '
        f'failed {report["node_failed"]}; results here {report["results"]} '
        f'({report["results_hz"]:.1f}/s), mismatched {report["mismatched"]}',
        f'frame age (result received here - frame stamp): p50 {_fmt(age.get("p50"))}, p95 '
        f'{_fmt(age.get("p95"))}, p99 {_fmt(age.get("p99"))}, max {_fmt(age.get("max"))} ms',
        f'in the node (callback entry to publish): p50 {_fmt(report["node_age_ms"]["p50"])}, '
        f'p95 {_fmt(report["node_age_ms"]["p95"])} ms; inference p50 '
        f'{_fmt(report["node_infer_ms"]["p50"])}, p95 {_fmt(report["node_infer_ms"]["p95"])} '
        f'ms; frame period {report["frame_period_ms"]:.1f} ms',
        f'RSS: start {_fmt(rss["start"])} MB, end {_fmt(rss["end"])} MB, peak '
        f'{_fmt(rss["peak"])} MB, growth {_fmt(rss["growth"])} MB; threads '
        f'{report["threads"]["start"]} -> {_fmt(report["threads"]["end"])}',
        f'CPU: node {_fmt(report["node_cpu_pct"])} % of one core, load tool '
        f'{_fmt(report["load_tool_cpu_pct"])} %; machine ({machine["cpus"]} CPUs) busy '
        f'{_fmt(machine["busy_pct"])} %, load average {machine["loadavg_start"]} -> '
        f'{machine["loadavg_end"]}',
        *_thread_cpu(report),
        *_overlay(report),
    ]


def _overlay(report: Mapping[str, Any]) -> list[str]:
    overlay = report.get('overlay')
    if overlay is None:
        return []
    age = overlay['age_ms']
    return [f'overlay viewer: received {overlay["received"]} of {overlay["published"]} '
            f'published ({overlay["received_hz"]:.1f}/s, {overlay["bytes"] / 1e6:.2f} MB each); '
            f'age p50 {_fmt(age.get("p50"))}, p95 {_fmt(age.get("p95"))} ms']


def _node_and_checks(report: Mapping[str, Any]) -> list[str]:
    lines = []
    node = report.get('node', {})
    if 'exit_code' in node:
        lines.append(f'node: exit code {node["exit_code"]} after SIGINT, '
                     f'{node["warning_lines"]} warning/error lines of {node["log_lines"]}, '
                     f'traceback: {"yes" if node["traceback"] else "no"}')
        if node.get('log_tail'):
            lines.append(node['log_tail'])
    lines.append('checks:')
    for check in report['checks']:
        value = '' if 'value' not in check else f' ({_fmt(check["value"])}'
        if 'bound' in check:
            value += f' vs {_fmt(check["bound"])}'
        value += ')' if value else ''
        lines.append(f'  [{"ok" if check["ok"] else "FAIL"}] {check["name"]}{value}')
    return lines


def format_report(report: Mapping[str, Any]) -> str:
    """Render a load report as the text the `load` command prints."""
    settings = report['settings']
    message = report.get('message_type')
    wire = '' if message is None else (f'{message}, {report["message_bytes"] / 1e6:.2f} MB per '
                                       'message, ')
    heading = (f'load: {settings["width"]}x{settings["height"]} {settings["encoding"]} at '
               f'{settings["fps"]:g} fps for {report["seconds"]:.1f} s into {report["topic"]} '
               f'({wire}{report["frame_bytes"] / 1e6:.2f} MB per frame; photos '
               f'{", ".join(report["photos"])}; DDS: {report["dds_profile"]})')
    return '\n'.join([heading, '', *_series(report), '', *_summary(report),
                      *_node_and_checks(report)])
