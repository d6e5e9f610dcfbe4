"""The node's /diagnostics status: level, summary, rates, counts, latencies and settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

if TYPE_CHECKING:
    from collections.abc import Sequence

    from builtin_interfaces.msg import Time

    from mobilenetv1_ros.ros.cpu_meter import CpuPeriod
    from mobilenetv1_ros.ros.stats import Snapshot

__all__ = ['cpu_values', 'diagnostic_array', 'diagnostic_status']


def _assess(snapshot: Snapshot, active: bool) -> tuple[bytes, str]:
    if snapshot.new_failed:
        reasons = ', '.join(sorted(snapshot.failed_by_reason))
        return (DiagnosticStatus.ERROR,
                f'inference failed on {snapshot.new_failed} frame(s): {reasons}')
    if snapshot.new_rejected:
        reasons = ', '.join(f'{reason} {count}'
                            for reason, count in sorted(snapshot.rejected_by_reason.items()))
        return DiagnosticStatus.WARN, f'{snapshot.new_rejected} frame(s) rejected ({reasons})'
    if not active:
        return DiagnosticStatus.OK, 'inactive'
    if snapshot.seconds_since_input is None:
        return DiagnosticStatus.OK, 'waiting for images'
    return DiagnosticStatus.OK, f'{snapshot.output_rate_hz:.1f} results/s'


def cpu_values(period: CpuPeriod | None) -> list[tuple[str, str]]:
    """Return the CPU figures of a period: `cpu_pct`, `cpu_<role>_ms_per_frame` (with frames)."""
    if period is None:
        return []
    values = [('cpu_pct', f'{period.cpu_pct:.1f}')]
    values += [(f'cpu_{key}_ms_per_frame', f'{ms:.3f}')
               for key, ms in period.ms_per_frame.items() if ms is not None]
    return values


def diagnostic_status(snapshot: Snapshot, *, name: str, hardware_id: str, active: bool,
                      details: Sequence[tuple[str, str]] = (),
                      cpu: CpuPeriod | None = None) -> DiagnosticStatus:
    """Build the node's DiagnosticStatus: level, summary, rates, counts, latencies and CPU.

    ERROR while frames fail in the backend, WARN while frames are rejected, OK otherwise.
    """
    level, message = _assess(snapshot, active)
    values = [
        ('input_rate_hz', f'{snapshot.input_rate_hz:.2f}'),
        ('output_rate_hz', f'{snapshot.output_rate_hz:.2f}'),
        ('frames_received', str(snapshot.received)),
        ('frames_classified', str(snapshot.classified)),
        ('frames_dropped', str(snapshot.dropped)),
        ('frames_rejected', str(snapshot.rejected)),
        ('frames_failed', str(snapshot.failed)),
        ('overlays_published', str(snapshot.overlays)),
    ]
    values += [(f'rejected.{reason}', str(count))
               for reason, count in sorted(snapshot.rejected_by_reason.items())]
    values += [(f'failed.{reason}', str(count))
               for reason, count in sorted(snapshot.failed_by_reason.items())]
    for stage, latency in snapshot.latency.items():
        values.append((f'{stage}_ms_p50', f'{latency.p50_ms:.3f}'))
        values.append((f'{stage}_ms_p95', f'{latency.p95_ms:.3f}'))
    values += cpu_values(cpu)
    values += list(details)
    return DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id,
                            values=[KeyValue(key=key, value=value) for key, value in values])


def diagnostic_array(status: DiagnosticStatus, stamp: Time) -> DiagnosticArray:
    """Wrap one status in the array /diagnostics carries."""
    array = DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array
