"""Offline tool throughput against backend-only throughput, measured in one run.

Backend-only: `backend.infer` over the bag's frames, already converted to model input and held
in memory. Offline: `classify_bag` on the same bag (read, convert, infer, postprocess, write).
Both are warmed up first (inference on a few inputs; one whole untimed offline run, which also
brings the bag into the page cache). The runs then alternate in pairs whose order flips
(backend, offline, offline, backend, ...) and each offline run is compared with the backend-only
run next to it, so a machine busy with other work slows both alike and a drift in that load
favours neither; the median of those ratios is the verdict, reported with their spread, the
process CPU time per frame of each (what the tool spends outside inference, which other
processes barely change) and the load average.
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

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import numpy.typing as npt

    from mobilenetv1_ros.core.pipeline import Classifier

__all__ = ['BagBenchmark', 'backend_only_fps', 'load_inputs', 'run_benchmark']

_WARMUP = 10
#: A 1-minute load average before the runs at which other processes are taken to be busy.
_BUSY_LOAD = 1.0


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
        cores = os.cpu_count() or 1
        lines.append(f'  load average: {self.load[0]:.2f} before, {self.load[1]:.2f} after '
                     f'({cores} cores)')
        if self.load[0] >= _BUSY_LOAD:
            lines.append('  note: other processes were running before the runs; the ratios '
                         'measure their load as much as the tool (see the spread)')
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


def run_benchmark(bag: str | Path, classifier: Classifier, *, repeats: int = 3,
                  topics: Sequence[str] = (), storage: str = 'sqlite3') -> BagBenchmark:
    """Measure backend-only and offline throughput on `bag`, `repeats` alternating runs each."""
    inputs = load_inputs(bag, classifier, topics)
    options = BagClassifyOptions(topics=topics, storage=storage)
    load_before = os.getloadavg()[0]
    backend_runs, offline_runs, backend_cpu, offline_cpu = [], [], [], []
    with tempfile.TemporaryDirectory(prefix='mobilenetv1_ros-bag-bench.') as workdir:
        for nv12 in inputs[:_WARMUP]:
            classifier.infer(nv12)
        classify_bag(bag, Path(workdir) / 'warmup', classifier, options)

        def backend_run() -> None:
            start = time.process_time()
            backend_runs.append(backend_only_fps(classifier, inputs))
            backend_cpu.append(_cpu_ms_per_frame(start, len(inputs)))

        def offline_run(run: int) -> None:
            summary: BagSummary = classify_bag(bag, Path(workdir) / f'run{run}', classifier,
                                               options)
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
                        (load_before, os.getloadavg()[0]))
