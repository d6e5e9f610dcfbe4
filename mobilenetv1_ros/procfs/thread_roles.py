"""The node's CPU time per frame by thread role, from two per-thread /proc readings.

Roles, decided from what the kernel knows of each thread (its id and its 15-byte name):

- executor: the main thread (thread id = process id). The node spins its executor there, so
  it runs the subscription callbacks: message hand-off from the middleware, frame conversion,
  result publishing.
- inference: threads whose name starts with INFERENCE_THREAD_NAME, the kernel's cut of the
  node's `mobilenetv1_inference` thread. A runtime's own worker threads inherit the name of the
  thread that creates them (the one that builds the session), so they count here only when the
  node names them too; with one ONNX Runtime thread there are none: inference runs on the
  calling thread. When no thread carries the name (a node that names its inference thread only
  inside Python, where the kernel cannot see it), the busiest of the remaining threads over the
  window is taken as the inference thread.
- middleware: threads named by the DDS implementation (Fast DDS: dds.udp.<port>,
  dds.shm.<port>, dds.ev.<n>, dds.asyn.<n>.<m>, dds.tls.*, dds.shm.wdog).
- other: everything else (OpenCV, numpy and runtime pools, rclpy helpers).

The total is the process's own CPU time, which also counts threads that ended inside the window;
what the threads alive at the end do not account for is reported as `unattributed`: those ended
threads, plus the kernel's rounding of each thread's time down to a clock tick (a few ticks over
a window, either sign).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mobilenetv1_ros.procfs.procstat import ThreadsSample

__all__ = [
    'BY_LOAD',
    'BY_NAME',
    'INFERENCE_THREAD',
    'INFERENCE_THREAD_NAME',
    'MIDDLEWARE_PREFIXES',
    'NO_INFERENCE',
    'ROLES',
    'UNATTRIBUTED',
    'RoleCpu',
    'ThreadCpu',
    'role_cpu',
    'thread_role',
]

#: Name of the node's inference thread (Python's and, cut, the kernel's).
INFERENCE_THREAD = 'mobilenetv1_inference'
#: Kernel name of the node's inference thread: `mobilenetv1_inference` cut to 15 bytes.
INFERENCE_THREAD_NAME = INFERENCE_THREAD[:15]
#: Name prefixes of middleware threads (Fast DDS names every thread it starts 'dds.*').
MIDDLEWARE_PREFIXES = ('dds.',)
#: The roles, in report order.
ROLES = ('executor', 'inference', 'middleware', 'other')
#: The share of the process total that no thread alive at the end accounts for.
UNATTRIBUTED = 'unattributed'
#: How the inference thread was found (NO_INFERENCE: not looked for, the process runs none).
BY_NAME, BY_LOAD, NO_INFERENCE = 'name', 'busiest other thread', 'none'
#: Threads listed by name in the report, busiest first.
_LISTED = 8


def thread_role(tid: int, pid: int, name: str) -> str:
    """Return the role of a thread of process `pid` by its id and kernel name."""
    if name.startswith(INFERENCE_THREAD_NAME):
        return 'inference'
    if tid == pid:
        return 'executor'
    if name.startswith(MIDDLEWARE_PREFIXES):
        return 'middleware'
    return 'other'


@dataclass(frozen=True)
class ThreadCpu:
    """One thread's CPU time in the window.

    Attributes:
        tid: Thread id.
        name: Kernel name.
        role: One of ROLES.
        cpu_s: CPU seconds it used in the window.
        runs: Times it was put on a CPU in the window, None without schedstat.
    """

    tid: int
    name: str
    role: str
    cpu_s: float
    runs: int | None = None


@dataclass(frozen=True)
class RoleCpu:
    """CPU seconds a process spent in a window, by thread role.

    Attributes:
        seconds: Length of the window.
        cpu_s: Role -> CPU seconds of its threads.
        total_s: CPU seconds of the whole process.
        threads: Role -> threads of that role alive at the end of the window.
        inference_by: BY_NAME, BY_LOAD when no thread carries the inference name, or
            NO_INFERENCE when none was looked for.
        busiest: The threads that used CPU, busiest first.
        runs: Role -> times its threads were put on a CPU (wake-ups), None where the kernel
            does not count them.
    """

    seconds: float
    cpu_s: dict[str, float]
    total_s: float
    threads: dict[str, int]
    inference_by: str
    busiest: list[ThreadCpu] = field(default_factory=list)
    runs: dict[str, int] | None = None

    def runs_per_frame(self, frames: int) -> dict[str, float | None] | None:
        """Return wake-ups per frame by role (None without the kernel's counts)."""
        if self.runs is None:
            return None
        return {role: round(count / frames, 2) if frames > 0 else None
                for role, count in self.runs.items()}

    @property
    def unattributed_s(self) -> float:
        """The process total minus its roles (see the module docstring)."""
        return self.total_s - sum(self.cpu_s.values())

    def ms_per_frame(self, frames: int) -> dict[str, float | None]:
        """Return milliseconds per frame by role (None without frames).

        The keys: every role, 'unattributed', 'total' and 'outside_inference' (total -
        inference).
        """
        def ms(seconds: float) -> float | None:
            return round(seconds * 1e3 / frames, 3) if frames > 0 else None

        values = {role: ms(cpu) for role, cpu in self.cpu_s.items()}
        values[UNATTRIBUTED] = ms(self.unattributed_s)
        values['total'] = ms(self.total_s)
        values['outside_inference'] = ms(self.total_s - self.cpu_s['inference'])
        return values

    def as_dict(self, frames: int, classified: int | None = None) -> dict[str, Any]:
        """Return the JSON-ready figures: per frame, as CPU share, threads, how found.

        Args:
            frames: Frames the node received in the window (the per-frame denominator).
            classified: Frames it classified, when some were dropped: inference time is also
                given per classified frame.
        """
        classified = frames if classified is None else classified
        return {
            'frames': frames,
            'classified': classified,
            'inference_ms_per_classified': round(
                self.cpu_s['inference'] * 1e3 / classified, 3) if classified > 0 else None,
            'seconds': round(self.seconds, 2),
            'ms_per_frame': self.ms_per_frame(frames),
            'runs_per_frame': self.runs_per_frame(frames),
            'cpu_pct': {role: round(100.0 * cpu / max(self.seconds, 1e-9), 1)
                        for role, cpu in {**self.cpu_s, 'total': self.total_s}.items()},
            'threads': self.threads,
            'inference_by': self.inference_by,
            'busiest': [{'tid': thread.tid, 'name': thread.name, 'role': thread.role,
                         'cpu_ms': round(thread.cpu_s * 1e3, 1)}
                        for thread in self.busiest[:_LISTED]],
        }


def role_cpu(start: ThreadsSample, end: ThreadsSample, *,
             guess_inference: bool = True) -> RoleCpu:
    """Split the CPU time a process used between two readings by thread role.

    A thread first seen in the end reading started inside the window, from zero.

    Args:
        start: The first reading.
        end: The second reading, of the same process.
        guess_inference: Without a thread named as the inference thread, take the busiest
            other thread as it (BY_LOAD); False for a process that runs no inference.

    Raises:
        ValueError: The readings are of different processes.
    """
    if start.pid != end.pid:
        raise ValueError(f'Thread readings of process {start.pid} and {end.pid} differ')
    used: list[ThreadCpu] = []
    for tid, times in end.threads.items():
        before = start.threads.get(tid)
        spent = times.cpu_s - (before.cpu_s if before is not None else 0.0)
        woke = None
        if times.runs is not None:
            earlier = 0 if before is None else before.runs
            woke = None if earlier is None else max(times.runs - earlier, 0)
        used.append(ThreadCpu(tid, times.name, thread_role(tid, end.pid, times.name),
                              max(spent, 0.0), woke))
    used.sort(key=lambda thread: thread.cpu_s, reverse=True)
    inference_by = BY_NAME
    named = any(thread.role == 'inference' for thread in used)
    if not named and not guess_inference:
        inference_by = NO_INFERENCE
    elif not named:
        inference_by = BY_LOAD
        others = [thread for thread in used if thread.role == 'other']
        if others:
            busiest = others[0]
            used[used.index(busiest)] = ThreadCpu(busiest.tid, busiest.name, 'inference',
                                                  busiest.cpu_s, busiest.runs)
    cpu_s = dict.fromkeys(ROLES, 0.0)
    threads = dict.fromkeys(ROLES, 0)
    runs: dict[str, int] | None = dict.fromkeys(ROLES, 0)
    for thread in used:
        cpu_s[thread.role] += thread.cpu_s
        threads[thread.role] += 1
        if runs is not None and thread.runs is not None:
            runs[thread.role] += thread.runs
        else:
            runs = None
    return RoleCpu(end.time - start.time, cpu_s, end.process_cpu_s - start.process_cpu_s,
                   threads, inference_by, [thread for thread in used if thread.cpu_s > 0],
                   runs)
