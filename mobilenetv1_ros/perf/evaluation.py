"""Top-1/top-5 accuracy of a subject on a labeled image set, with the per-class errors.

Images are read with cv2.imread and converted by the subject (for our pipeline: a bgr8 RawFrame
through the core Preprocessor to NV12, the node's path) in a small thread pool while the
calling thread runs inference and postprocessing, so decoding overlaps the model.
"""

from __future__ import annotations

import math
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mobilenetv1_ros.core.frames import read_image
from mobilenetv1_ros.core.errors import ImageError
from mobilenetv1_ros.console.progress import progress_bar

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy.typing as npt

    from mobilenetv1_ros.core.labels import Labels
    from mobilenetv1_ros.perf.dataset import Dataset, LabeledImage
    from mobilenetv1_ros.perf.subjects import Subject

__all__ = ['TOP_K', 'ClassStats', 'Evaluation', 'Miss', 'Paired', 'evaluate', 'paired']

#: The widest accuracy reported (top-5).
TOP_K = 5


@dataclass
class ClassStats:
    """Counts for one ground-truth class."""

    class_id: int
    images: int = 0
    top1: int = 0
    top5: int = 0


@dataclass(frozen=True)
class Miss:
    """An image whose top-1 class is wrong.

    Attributes:
        path: The image file.
        class_id: Its ground-truth class.
        predicted: The top-5 class indices, best first.
        score: The top-1 probability.
        rank: 1-based rank of the true class within the top 5, or None.
    """

    path: str
    class_id: int
    predicted: tuple[int, ...]
    score: float
    rank: int | None


@dataclass
class Evaluation:
    """The accuracy of one subject on one image set.

    Attributes:
        name: The subject's spec.
        description: The subject's runtime description.
        images: Images evaluated (failed ones excluded).
        top1_correct: Images whose top-1 class is right.
        top5_correct: Images whose class is among the top 5.
        seconds: Wall time of the whole loop.
        per_class: Counts by ground-truth class.
        misses: Top-1 errors in dataset order.
        failures: (image, message) for images that could not be read or converted.
        top1_ties: Images whose best score is shared by several classes (common with a uint8
            output; the ranking then takes the lowest class index).
        top1_split_hits: Expected top-1 hits if each such tie were broken at random.
        top1_hits: Per image path, whether its top-1 class is right (for paired comparisons).
    """

    name: str
    description: str
    precision: str
    peer: bool
    images: int = 0
    top1_correct: int = 0
    top5_correct: int = 0
    seconds: float = 0.0
    per_class: dict[int, ClassStats] = field(default_factory=dict)
    misses: list[Miss] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    top1_ties: int = 0
    top1_split_hits: float = 0.0
    top1_hits: dict[str, bool] = field(default_factory=dict)

    @property
    def top1(self) -> float:
        """Top-1 accuracy in percent."""
        return 100.0 * self.top1_correct / self.images if self.images else 0.0

    @property
    def top5(self) -> float:
        """Top-5 accuracy in percent."""
        return 100.0 * self.top5_correct / self.images if self.images else 0.0

    @property
    def images_per_second(self) -> float:
        """Throughput of the whole loop, reading included."""
        return self.images / self.seconds if self.seconds > 0 else 0.0

    @property
    def top1_split(self) -> float:
        """Top-1 accuracy in percent with ties at the top broken at random (expected value)."""
        return 100.0 * self.top1_split_hits / self.images if self.images else 0.0

    def record(self, image: LabeledImage, ranked: list[int], score: float,
               best: Sequence[int] = ()) -> None:
        """Count one classified image.

        Args:
            image: The image and its class.
            ranked: The top-5 class indices, best first.
            score: The top-1 score.
            best: Every class sharing the top score, when more than one does.
        """
        stats = self.per_class.setdefault(image.class_id, ClassStats(image.class_id))
        stats.images += 1
        self.images += 1
        rank = ranked.index(image.class_id) + 1 if image.class_id in ranked else None
        self.top1_hits[str(image.path)] = rank == 1
        if len(best) > 1:
            self.top1_ties += 1
            self.top1_split_hits += (image.class_id in best) / len(best)
        else:
            self.top1_split_hits += rank == 1
        if rank == 1:
            stats.top1 += 1
            self.top1_correct += 1
        else:
            self.misses.append(Miss(str(image.path), image.class_id, tuple(ranked), score, rank))
        if rank is not None:
            stats.top5 += 1
            self.top5_correct += 1

    def as_dict(self, labels: Labels | None = None) -> dict[str, Any]:
        """Return a JSON-ready summary with the per-class counts and every top-1 error."""
        def label(index: int) -> str | None:
            return labels.name(index) if labels is not None else None

        return {
            'name': self.name,
            'description': self.description,
            'precision': self.precision,
            'peer': self.peer,
            'images': self.images,
            'failed': len(self.failures),
            'top1': round(self.top1, 2),
            'top5': round(self.top5, 2),
            'top1_correct': self.top1_correct,
            'top1_ties': self.top1_ties,
            'top1_ties_split': round(self.top1_split, 2),
            'top5_correct': self.top5_correct,
            'seconds': round(self.seconds, 2),
            'images_per_second': round(self.images_per_second, 1),
            'per_class': [
                {'class_id': stats.class_id, 'label': label(stats.class_id),
                 'images': stats.images, 'top1_errors': stats.images - stats.top1,
                 'top5_errors': stats.images - stats.top5,
                 'top1': round(100.0 * stats.top1 / stats.images, 2)}
                for stats in sorted(self.per_class.values(), key=lambda s: s.class_id)],
            'errors': [
                {'image': miss.path, 'class_id': miss.class_id, 'label': label(miss.class_id),
                 'predicted': miss.predicted[0] if miss.predicted else None,
                 'predicted_label': label(miss.predicted[0]) if miss.predicted else None,
                 'score': round(miss.score, 4), 'top5': list(miss.predicted),
                 'rank': miss.rank}
                for miss in self.misses],
            'failures': [{'image': path, 'error': message} for path, message in self.failures],
        }


@dataclass(frozen=True)
class Paired:
    """Top-1 of two subjects on the same images, image by image.

    Attributes:
        baseline: Name of the subject compared against.
        images: Images both classified.
        gained: Images only the other subject gets right.
        lost: Images only the baseline gets right.
        p_value: Exact two-sided McNemar test (binomial on the gained/lost split): the chance
            of a split at least this uneven if both subjects were equally accurate.
    """

    baseline: str
    images: int
    gained: int
    lost: int
    p_value: float

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready copy."""
        return {'baseline': self.baseline, 'images': self.images, 'gained': self.gained,
                'lost': self.lost, 'p_value': round(self.p_value, 4)}


def paired(baseline: Evaluation, other: Evaluation) -> Paired:
    """Compare two evaluations of the same image set image by image."""
    common = baseline.top1_hits.keys() & other.top1_hits.keys()
    gained = sum(other.top1_hits[p] and not baseline.top1_hits[p] for p in common)
    lost = sum(baseline.top1_hits[p] and not other.top1_hits[p] for p in common)
    discordant = gained + lost
    tail = sum(math.comb(discordant, k) for k in range(min(gained, lost) + 1))
    p_value = min(1.0, 2.0 * tail / 2 ** discordant) if discordant else 1.0
    return Paired(baseline.name, len(common), gained, lost, p_value)


def _ranked(probabilities: npt.NDArray[np.float32], k: int) -> list[int]:
    """Return the k best classes, ties broken by the lower index (as the pipeline's top_k)."""
    k = min(k, probabilities.size)
    candidates = np.argpartition(-probabilities, k - 1)[:k]
    return sorted(candidates.tolist(), key=lambda index: (-probabilities[index], index))


def evaluate(subject: Subject, dataset: Dataset, *, decode_workers: int = 2,
             progress: bool | None = None,
             on_image: Callable[[int], None] | None = None) -> Evaluation:
    """Classify every image of the dataset and count top-1/top-5 hits.

    Args:
        subject: What to evaluate (our pipeline on a backend, or a peer).
        dataset: The labeled images.
        decode_workers: Threads reading and converting images ahead of inference.
        progress: Draw a progress bar on stderr (None: only on a terminal).
        on_image: Called with the count of images done after each image.

    Returns:
        The counts; images that cannot be read or converted are listed in `failures`.
    """
    result = Evaluation(subject.name, subject.describe(), subject.precision, subject.peer)
    bar = progress_bar(len(dataset), subject.name, enabled=progress, unit='image')

    def load(image: LabeledImage) -> npt.NDArray[np.uint8]:
        return subject.prepare(read_image(image.path))

    start = time.perf_counter()
    ahead = max(2, 4 * decode_workers)
    with ThreadPoolExecutor(max(1, decode_workers), thread_name_prefix='evaluate') as pool:
        pending: deque[tuple[LabeledImage, Future[npt.NDArray[np.uint8]]]] = deque()
        items = iter(dataset.images)
        for item in items:
            pending.append((item, pool.submit(load, item)))
            if len(pending) >= ahead:
                break
        done = 0
        while pending:
            item, future = pending.popleft()
            following = next(items, None)
            if following is not None:
                pending.append((following, pool.submit(load, following)))
            try:
                prepared = future.result()
            except ImageError as error:
                result.failures.append((str(item.path), str(error)))
            else:
                probabilities = subject.probabilities(subject.infer(prepared))
                ranked = _ranked(probabilities, TOP_K)
                top = probabilities[ranked[0]]
                best = np.flatnonzero(probabilities == top).tolist() \
                    if len(ranked) > 1 and probabilities[ranked[1]] == top else ()
                result.record(item, ranked, float(top), best)
            done += 1
            bar.update()
            if on_image is not None:
                on_image(done)
    result.seconds = time.perf_counter() - start
    bar.close()
    return result
