"""The machine a measurement ran on, its load, latency statistics and core pinning."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = [
    'LOAD_WARNING',
    'describe_machine',
    'latency_stats',
    'load_average',
    'load_warning',
    'pinned_to_one_core',
]

#: One-minute load average above which measurements are flagged as noisy.
LOAD_WARNING = 1.5
_PACKAGES = ('numpy', 'opencv-python-headless', 'opencv-python', 'onnxruntime',
             'ai-edge-litert', 'openvino', 'tflite', 'hobot-dnn-rdkx5')
_CPU_FLAGS = ('avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'amx_int8', 'asimd', 'asimddp')


def load_average() -> list[float] | None:
    """Return the 1, 5 and 15 minute load averages, or None where the OS has none."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def load_warning(load: Sequence[float] | None, threshold: float = LOAD_WARNING) -> str | None:
    """Return a warning when the one-minute load is over `threshold`, else None."""
    if load and load[0] > threshold:
        return (f'load average {load[0]:.2f} > {threshold}: other processes share the CPU, '
                'timings are noisy; rerun on a quiet machine for reference figures')
    return None


def _cpu_info() -> dict[str, Any]:
    info: dict[str, Any] = {'model': platform.processor() or platform.machine(), 'flags': []}
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as stream:
            text = stream.read()
    except OSError:
        return info
    for line in text.splitlines():
        key, _, value = line.partition(':')
        key = key.strip().lower()
        if key in ('model name', 'hardware') and info['model'] in ('', platform.machine(),
                                                                     platform.processor()):
            info['model'] = value.strip()
        elif key in ('flags', 'features') and not info['flags']:
            present = set(value.split())
            info['flags'] = [flag for flag in _CPU_FLAGS if flag in present]
    return info


def _versions() -> dict[str, str]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def describe_machine() -> dict[str, Any]:
    """Return the platform, CPU, usable cores, Python and runtime versions, and the load."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    cpu = _cpu_info()
    return {
        'platform': platform.platform(),
        'machine': platform.machine(),
        'cpu': cpu['model'],
        'cpu_flags': cpu['flags'],
        'logical_cpus': os.cpu_count(),
        'usable_cpus': usable,
        'python': sys.version.split()[0],
        'packages': _versions(),
        'loadavg': load_average(),
    }


def latency_stats(samples_ms: Sequence[float]) -> dict[str, float]:
    """Return count, mean, min, p50, p95, p99 and max of millisecond samples."""
    if not samples_ms:
        return {'count': 0}
    values = np.asarray(samples_ms, dtype=np.float64)
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {'count': int(values.size), 'mean': round(float(values.mean()), 4),
            'min': round(float(values.min()), 4), 'p50': round(float(p50), 4),
            'p95': round(float(p95), 4), 'p99': round(float(p99), 4),
            'max': round(float(values.max()), 4)}


@contextlib.contextmanager
def pinned_to_one_core() -> Iterator[int | None]:
    """Run the block on one CPU core with OpenCV single-threaded; restore both afterwards.

    Yields:
        The core pinned to, or None where affinity cannot be set.
    """
    import cv2

    threads = cv2.getNumThreads()
    try:
        before = os.sched_getaffinity(0)
    except AttributeError:
        before = None
    core = None
    cv2.setNumThreads(1)
    try:
        if before:
            core = max(before)
            os.sched_setaffinity(0, {core})
        yield core
    finally:
        if before:
            os.sched_setaffinity(0, before)
        cv2.setNumThreads(threads)
