"""Readings of the kernel's accounting in /proc: a process, each of its threads, the machine.

CPU times come from the `stat` files (utime + stime, in clock ticks), memory from `status`.
Linux only; every reader returns None where the files cannot be read (the process is gone).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

__all__ = [
    'TICKS_PER_S',
    'ProcessSample',
    'StatLine',
    'ThreadTimes',
    'ThreadsSample',
    'machine_cpu_times',
    'parse_stat',
    'read_process',
    'read_threads',
]

#: Clock ticks per second, the unit of the CPU times in the stat files.
TICKS_PER_S = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100
# Positions (from 0) of fields after the command name: stat field n (1-based) is at n - 3.
_STATE, _UTIME, _STIME, _THREADS, _START = 0, 11, 12, 17, 19


@dataclass(frozen=True)
class StatLine:
    """The fields of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat line the tools use.

    Attributes:
        pid: Process (or thread) id.
        name: The command name: the kernel keeps its first 15 bytes.
        state: R, S, D, Z, ...
        cpu_ticks: User plus system CPU time in clock ticks.
        threads: Threads of the process (of a thread's line: of its process).
        start_ticks: Start time in clock ticks after boot.
    """

    pid: int
    name: str
    state: str
    cpu_ticks: int
    threads: int
    start_ticks: int

    @property
    def cpu_s(self) -> float:
        """User plus system CPU seconds."""
        return self.cpu_ticks / TICKS_PER_S


def parse_stat(text: str) -> StatLine:
    """Parse a stat line.

    The command name, in parentheses, may hold spaces and parentheses: the fields after it are
    counted from the last closing parenthesis.

    Raises:
        ValueError: Not a stat line.
    """
    opening, closing = text.find('('), text.rfind(')')
    if opening < 1 or closing < opening:
        raise ValueError(f'Not a /proc stat line: {text[:80]!r}')
    after = text[closing + 2:].split()
    if len(after) <= _START:
        raise ValueError(f'Stat line {text[:80]!r} has {len(after) + 2} fields, not 22 or more')
    return StatLine(pid=int(text[:opening]), name=text[opening + 1:closing], state=after[_STATE],
                    cpu_ticks=int(after[_UTIME]) + int(after[_STIME]),
                    threads=int(after[_THREADS]), start_ticks=int(after[_START]))


def _read(path: str) -> str | None:
    # os.open/os.read: a third of open()'s cost, which counts when the node reads every thread.
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(descriptor, 4096):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(descriptor)
    return b''.join(chunks).decode('utf-8', errors='replace')


@dataclass(frozen=True)
class ProcessSample:
    """One reading of a process' /proc files.

    Attributes:
        time: time.monotonic() of the reading.
        rss_mb: Resident set size (VmRSS) in MiB.
        cpu_s: User plus system CPU seconds since the process started (all its threads, the
            exited ones included).
        threads: Threads of the process.
    """

    time: float
    rss_mb: float
    cpu_s: float
    threads: int


def read_process(pid: int) -> ProcessSample | None:
    """Read RSS, CPU time and thread count of a process; None when it is gone."""
    now = time.monotonic()
    status = _read(f'/proc/{pid}/status')
    stat = _read(f'/proc/{pid}/stat')
    if status is None or stat is None:
        return None
    rss_kb = 0
    for entry in status.splitlines():
        key, _, value = entry.partition(':')
        if key == 'VmRSS':
            rss_kb = int(value.split()[0])
    line = parse_stat(stat)
    return ProcessSample(now, rss_kb / 1024.0, line.cpu_s, line.threads)


@dataclass(frozen=True)
class ThreadTimes:
    """The CPU time one thread has used so far.

    Attributes:
        tid: Thread id (the main thread's is the process id).
        name: Its kernel name (comm, 15 bytes at most).
        cpu_s: User plus system CPU seconds.
        start_ticks: Start time in clock ticks after boot (orders threads by creation).
        runs: Times the scheduler put it on a CPU (each wake-up is one), None without
            schedstat.
    """

    tid: int
    name: str
    cpu_s: float
    start_ticks: int
    runs: int | None = None


@dataclass(frozen=True)
class ThreadsSample:
    """Every thread of a process at one time, and the whole process's CPU time.

    Attributes:
        pid: The process.
        time: time.monotonic() of the reading.
        process_cpu_s: CPU seconds of the process, its exited threads included.
        threads: Thread id -> its times.
    """

    pid: int
    time: float
    process_cpu_s: float
    threads: dict[int, ThreadTimes]


def _schedstat(path: str) -> tuple[float, int] | None:
    """Return (CPU seconds, times run) of a schedstat file, None without one.

    Its fields: nanoseconds on a CPU, nanoseconds waiting for one, times run on one.
    """
    text = _read(path)
    if not text:
        return None
    try:
        on_cpu_ns, _, runs = (int(value) for value in text.split()[:3])
    except ValueError:
        return None
    return on_cpu_ns / 1e9, runs


def read_threads(pid: int) -> ThreadsSample | None:
    """Read the CPU time of every thread of a process; None when the process is gone.

    A thread's time comes from its schedstat file (nanoseconds; kernels with
    CONFIG_SCHED_INFO, which Debian's, Ubuntu's and the RDK X5's have), with the times it ran,
    and else from its stat line (clock ticks: too coarse for a one-second window). The process
    total, which also counts the threads that ended, is always in clock ticks. A thread that
    exits while the directory is read is left out.
    """
    now = time.monotonic()
    try:
        tids = sorted(int(entry) for entry in os.listdir(f'/proc/{pid}/task'))
    except OSError:
        return None
    threads: dict[int, ThreadTimes] = {}
    for tid in tids:
        text = _read(f'/proc/{pid}/task/{tid}/stat')
        if text is not None:
            line = parse_stat(text)
            sched = _schedstat(f'/proc/{pid}/task/{tid}/schedstat')
            if sched is None:
                threads[tid] = ThreadTimes(tid, line.name, line.cpu_s, line.start_ticks)
            else:
                threads[tid] = ThreadTimes(tid, line.name, sched[0], line.start_ticks,
                                           sched[1])
    # Read last, the process total covers at least the threads read before it.
    stat = _read(f'/proc/{pid}/stat')
    if stat is None:
        return None
    return ThreadsSample(pid, now, parse_stat(stat).cpu_s, threads)


def machine_cpu_times() -> tuple[float, float] | None:
    """Return (busy, total) CPU seconds of the whole machine from /proc/stat, or None."""
    text = _read('/proc/stat')
    if text is None:
        return None
    first = text.split('\n', 1)[0].split()
    values = [int(value) for value in first[1:]]
    # user nice system idle iowait irq softirq steal: idle, iowait and steal (time the
    # hypervisor gave to other machines) are not this machine's processes working.
    idle = values[3] + sum(values[index] for index in (4, 7) if len(values) > index)
    total = sum(values[:8])
    return (total - idle) / TICKS_PER_S, total / TICKS_PER_S
