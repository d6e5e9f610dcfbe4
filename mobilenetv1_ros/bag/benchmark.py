"""Offline tool throughput against backend-only throughput, measured in one run.

Backend-only: `backend.infer` over the bag's frames, already converted to model input and held
in memory. Offline: `classify_bag` on the same bag (read, convert, infer, postprocess, write).
Both are warmed up first (inference on a few inputs; one whole untimed offline run, which also
brings the bag into the page cache). The runs then alternate in pairs whose order flips
(backend, offline, offline, backend, ...) and each offline run is compared with the backend-only
run next to it, so a machine busy with other work slows both alike and a drift in that load
favours neither. Each run also records how much CPU other processes used meanwhile (the
machine's busy time from /proc/stat minus this process's): a pair during which they used
less than QUIET_CORES is quiet. The verdict is the median ratio of the quiet pairs when there
are at least MIN_QUIET_PAIRS, else of all pairs; the report gives both, the spread, the process
CPU time per frame of each side (what the tool spends outside inference) and the load average.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mobilenetv1_ros.bag.bagio import image_connections, open_reader
from mobilenetv1_ros.bag.messages import frame_from_message, typestore
from mobilenetv1_ros.bag.offline import BagClassifyOptions, BagSummary, classify_bag
from mobilenetv1_ros.core.errors import ImageError
from mobilenetv1_ros.procfs.procstat import machine_cpu_times

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import numpy.typing as npt

    from mobilenetv1_ros.core.pipeline import Classifier

__all__ = ['BagBenchmark', 'backend_only_fps', 'load_inputs', 'run_benchmark']

_WARMUP = 10
#: Cores' worth of CPU other processes may use during both runs of a quiet pair.
QUIET_CORES = 0.15
MIN_QUIET_PAIRS = 3


@dataclass(frozen=True)
class BagBenchmark:
    """Frames per second of each run and their medians."""

    bag: Path
    frames: int
    backend_runs: tuple[float, ...]
    offline_runs: tuple[float, ...]
    backend: str
    #: Process CPU milliseconds per frame of each run (all threads; offline: from the first
    #: read to the last write, the span its throughput is measured over).
    backend_cpu: tuple[float, ...] = ()
    offline_cpu: tuple[float, ...] = ()
    #: 1-minute load average before and after the runs.
    load: tuple[float, float] = (0.0, 0.0)
    #: Cores' worth of CPU that other processes used during each run (None: unknown).
    backend_foreign: tuple[float | None, ...] = ()
    offline_foreign: tuple[float | None, ...] = ()

    @property
    def backend_fps(self) -> float:
        """Median backend-only frames per second."""
        return statistics.median(self.backend_runs)

    @property
    def offline_fps(self) -> float:
        """Median offline tool frames per second."""
        return statistics.median(self.offline_runs)

    @property
    def ratios(self) -> tuple[float, ...]:
        """Each offline run over the backend-only run of its pair."""
        return tuple(offline / backend for backend, offline
                     in zip(self.backend_runs, self.offline_runs) if backend > 0)

    @property
    def ratio(self) -> float:
        """Median offline / backend-only ratio (the acceptance asks for >= 0.9)."""
        return statistics.median(self.ratios) if self.ratios else 0.0

    @property
    def quiet_ratios(self) -> tuple[float, ...]:
        """The ratios of the pairs during which other processes used under QUIET_CORES."""
        return tuple(offline / backend for backend, offline, *foreign
                     in zip(self.backend_runs, self.offline_runs, self.backend_foreign,
                            self.offline_foreign)
                     if backend > 0 and all(f is not None and f < QUIET_CORES for f in foreign))

    @property
    def verdict(self) -> float:
        """Median ratio of the quiet pairs if there are MIN_QUIET_PAIRS, else of all pairs."""
        quiet = self.quiet_ratios
        return statistics.median(quiet) if len(quiet) >= MIN_QUIET_PAIRS else self.ratio

    @property
    def spread(self) -> tuple[float, float]:
        """Lowest and highest ratio of a pair of runs."""
        return (min(self.ratios), max(self.ratios)) if self.ratios else (0.0, 0.0)

    @property
    def cpu_outside_inference_ms(self) -> float:
        """Median CPU ms per frame the offline tool spends beyond backend-only inference."""
        if not self.backend_cpu or not self.offline_cpu:
            return 0.0
        return statistics.median(self.offline_cpu) - statistics.median(self.backend_cpu)

    def format(self) -> str:
        """Return the printed report."""
        runs = ', '.join(f'{fps:.1f}' for fps in self.backend_runs)
        offline = ', '.join(f'{fps:.1f}' for fps in self.offline_runs)
        low, high = self.spread
        lines = [
            f'Bag benchmark: {self.bag} ({self.frames} frames)',
            f'  backend: {self.backend}',
            f'  backend-only: {self.backend_fps:8.1f} frames/s  (runs: {runs})',
            f'  offline tool: {self.offline_fps:8.1f} frames/s  (runs: {offline})',
            f'  ratio offline / backend-only: {self.ratio:.3f} (median of {len(self.ratios)} '
            f'pairs, spread {low:.3f}-{high:.3f}: '
            + ', '.join(f'{r:.3f}' for r in self.ratios) + ')',
        ]
        if self.backend_cpu and self.offline_cpu:
            lines.append(
                f'  CPU per frame: backend-only {statistics.median(self.backend_cpu):.2f} ms, '
                f'offline tool {statistics.median(self.offline_cpu):.2f} ms '
                f'({self.cpu_outside_inference_ms:+.2f} ms outside inference)')
        quiet = self.quiet_ratios
        if quiet:
            lines.append(f'  quiet pairs (other processes < {QUIET_CORES} core): {len(quiet)} '
                         f'of {len(self.ratios)}, median ratio {statistics.median(quiet):.3f}')
        else:
            lines.append(f'  quiet pairs (other processes < {QUIET_CORES} core): none')
        source = ('the quiet pairs' if len(quiet) >= MIN_QUIET_PAIRS
                  else f'all pairs: fewer than {MIN_QUIET_PAIRS} quiet ones')
        lines.append(f'  verdict: {self.verdict:.3f} (median ratio of {source})')
        foreign = [f for f in self.backend_foreign + self.offline_foreign if f is not None]
        busy = f', other processes used {statistics.median(foreign):.2f} core (median)' \
            if foreign else ''
        lines.append(f'  load average: {self.load[0]:.2f} before, {self.load[1]:.2f} after '
                     f'({os.cpu_count() or 1} cores){busy}')
        return '\n'.join(lines)


def load_inputs(bag: str | Path, classifier: Classifier,
                topics: Sequence[str] = ()) -> list[npt.NDArray[np.uint8]]:
    """Return the model inputs of every convertible frame of a bag's image topics."""
    reader = open_reader(bag)
    store = typestore()
    inputs = []
    try:
        connections = image_connections(reader, topics)
        for connection, _, data in reader.messages(connections):
            try:
                frame = frame_from_message(store.deserialize_cdr(data, connection.msgtype))
                inputs.append(classifier.prepare(frame).nv12)
            except ImageError:
                continue
    finally:
        reader.close()
    return inputs


def backend_only_fps(classifier: Classifier, inputs: Sequence[npt.NDArray[np.uint8]]) -> float:
    """Return inference frames per second over `inputs` (one call each)."""
    infer = classifier.infer
    start = time.perf_counter()
    for nv12 in inputs:
        infer(nv12)
    return len(inputs) / (time.perf_counter() - start)


def _cpu_ms_per_frame(start: float, frames: int) -> float:
    return (time.process_time() - start) * 1e3 / max(1, frames)


def _machine_busy_seconds() -> float | None:
    """CPU seconds all processes have used since boot (/proc/stat), None where unknown."""
    times = machine_cpu_times()
    return None if times is None else times[0]


class _Foreign:
    """Measures the cores' worth of CPU other processes use while a block runs."""

    def __enter__(self) -> _Foreign:
        self.cores: float | None = None
        self._start = (time.perf_counter(), time.process_time(), _machine_busy_seconds())
        return self

    def __exit__(self, *_: object) -> None:
        wall, own, busy = self._start
        now = _machine_busy_seconds()
        elapsed = time.perf_counter() - wall
        if busy is not None and now is not None and elapsed > 0:
            other = (now - busy) - (time.process_time() - own)
            self.cores = max(0.0, other / elapsed)


def run_benchmark(bag: str | Path, classifier: Classifier, *, repeats: int = 3,
                  topics: Sequence[str] = (), storage: str = 'sqlite3') -> BagBenchmark:
    """Measure backend-only and offline throughput on `bag`, `repeats` alternating runs each."""
    inputs = load_inputs(bag, classifier, topics)
    options = BagClassifyOptions(topics=topics, storage=storage)
    load_before = os.getloadavg()[0]
    backend_runs, offline_runs, backend_cpu, offline_cpu = [], [], [], []
    backend_foreign: list[float | None] = []
    offline_foreign: list[float | None] = []
    with tempfile.TemporaryDirectory(prefix='mobilenetv1_ros-bag-bench.') as workdir:
        for nv12 in inputs[:_WARMUP]:
            classifier.infer(nv12)
        classify_bag(bag, Path(workdir) / 'warmup', classifier, options)

        def backend_run() -> None:
            start = time.process_time()
            with _Foreign() as foreign:
                backend_runs.append(backend_only_fps(classifier, inputs))
            backend_cpu.append(_cpu_ms_per_frame(start, len(inputs)))
            backend_foreign.append(foreign.cores)

        def offline_run(run: int) -> None:
            with _Foreign() as foreign:
                summary: BagSummary = classify_bag(bag, Path(workdir) / f'run{run}',
                                                   classifier, options)
            offline_foreign.append(foreign.cores)
            offline_runs.append(summary.frames_per_second)
            offline_cpu.append(summary.cpu_seconds * 1e3 / max(1, summary.frames))

        for run in range(max(1, repeats)):
            if run % 2:
                offline_run(run)
                backend_run()
            else:
                backend_run()
                offline_run(run)
    return BagBenchmark(Path(bag), len(inputs), tuple(backend_runs), tuple(offline_runs),
                        classifier.backend.describe(), tuple(backend_cpu), tuple(offline_cpu),
                        (load_before, os.getloadavg()[0]), tuple(backend_foreign),
                        tuple(offline_foreign))
