"""Offline tool throughput against backend-only throughput, measured in one run.

Backend-only: `backend.infer` over the bag's frames, already converted to model input and held
in memory. Offline: `classify_bag` on the same bag (read, convert, infer, postprocess, write).
The runs alternate (backend, offline, backend, ...) and each offline run is compared with the
backend-only run just before it, so a machine busy with other work slows both alike; the
median of those ratios is reported.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class BagBenchmark:
    """Frames per second of each run and their medians."""

    bag: Path
    frames: int
    backend_runs: tuple[float, ...]
    offline_runs: tuple[float, ...]
    backend: str

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
        """Each offline run over the backend-only run just before it."""
        return tuple(offline / backend for backend, offline
                     in zip(self.backend_runs, self.offline_runs) if backend > 0)

    @property
    def ratio(self) -> float:
        """Median offline / backend-only ratio (the acceptance asks for >= 0.9)."""
        return statistics.median(self.ratios) if self.ratios else 0.0

    def format(self) -> str:
        """Return the printed report."""
        runs = ', '.join(f'{fps:.1f}' for fps in self.backend_runs)
        offline = ', '.join(f'{fps:.1f}' for fps in self.offline_runs)
        return '\n'.join([
            f'Bag benchmark: {self.bag} ({self.frames} frames)',
            f'  backend: {self.backend}',
            f'  backend-only: {self.backend_fps:8.1f} frames/s  (runs: {runs})',
            f'  offline tool: {self.offline_fps:8.1f} frames/s  (runs: {offline})',
            f'  ratio offline / backend-only: {self.ratio:.3f} (median of runs: '
            + ', '.join(f'{r:.3f}' for r in self.ratios) + ')',
        ])


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


def run_benchmark(bag: str | Path, classifier: Classifier, *, repeats: int = 3,
                  topics: Sequence[str] = (), storage: str = 'sqlite3') -> BagBenchmark:
    """Measure backend-only and offline throughput on `bag`, `repeats` alternating runs each."""
    inputs = load_inputs(bag, classifier, topics)
    for nv12 in inputs[:_WARMUP]:
        classifier.infer(nv12)
    backend_runs, offline_runs = [], []
    with tempfile.TemporaryDirectory(prefix='mobilenetv1_ros-bag-bench.') as workdir:
        for run in range(max(1, repeats)):
            backend_runs.append(backend_only_fps(classifier, inputs))
            summary: BagSummary = classify_bag(
                bag, Path(workdir) / f'run{run}', classifier,
                BagClassifyOptions(topics=topics, storage=storage))
            offline_runs.append(summary.frames_per_second)
    return BagBenchmark(Path(bag), len(inputs), tuple(backend_runs), tuple(offline_runs),
                        classifier.backend.describe())
