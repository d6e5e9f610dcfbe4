"""The node's own CPU time per frame by thread role, over each diagnostics period.

Read from the kernel's per-thread accounting (/proc/self/task/*) once a period on the
executor, never per frame, with the roles of the `load` tool (mobilenetv1_ros.procfs.
thread_roles), so /diagnostics and the tool agree. Threads that ended within the period are not
counted (the `load` tool reports them as unattributed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mobilenetv1_ros.procfs.procstat import ThreadsSample, read_threads
from mobilenetv1_ros.procfs.thread_roles import ROLES, role_cpu

__all__ = ['CPU_KEYS', 'CpuMeter', 'CpuPeriod']

#: The figures of a period, in the order /diagnostics lists them.
CPU_KEYS = (*ROLES, 'outside_inference', 'total')


@dataclass(frozen=True)
class CpuPeriod:
    """CPU time of one period: milliseconds per frame by role and the process's CPU share.

    Attributes:
        frames: Frames received in the period.
        ms_per_frame: Key of CPU_KEYS -> milliseconds per frame (None without frames).
        cpu_pct: The whole process's CPU time over the period's wall time, in % of one core.
    """

    frames: int
    ms_per_frame: dict[str, float | None]
    cpu_pct: float


class CpuMeter:
    """Splits this process's CPU time between readings by thread role, per frame received.

    Args:
        pid: The process to read, default this one.
    """

    def __init__(self, pid: int | None = None) -> None:
        self._pid = os.getpid() if pid is None else pid
        self._last: ThreadsSample | None = None
        self._last_frames = 0

    def update(self, frames_received: int) -> CpuPeriod | None:
        """Read the threads now; return the period since the previous call.

        Args:
            frames_received: Frames the node has received so far (a running total).

        Returns:
            None on the first call and where /proc cannot be read.
        """
        sample = read_threads(self._pid)
        last, last_frames = self._last, self._last_frames
        self._last, self._last_frames = sample, frames_received
        if sample is None or last is None:
            return None
        frames = frames_received - last_frames
        seconds = dict(role_cpu(last, sample).cpu_s)
        # From the threads' own (nanosecond) times: the process total of /proc/<pid>/stat
        # counts clock ticks, a third of a millisecond per frame over one second at 30 fps.
        seconds['outside_inference'] = sum(seconds[role] for role in ROLES
                                           if role != 'inference')
        seconds['total'] = sum(seconds[role] for role in ROLES)
        ms_per_frame = {key: (round(seconds[key] * 1e3 / frames, 3) if frames > 0 else None)
                        for key in CPU_KEYS}
        cpu_pct = 100.0 * seconds['total'] / max(sample.time - last.time, 1e-9)
        return CpuPeriod(frames, ms_per_frame, cpu_pct)
