"""Latency, throughput and per-stage costs of the pipeline and of a peer runtime.

Measured stages:
- conversion: one frame of each encoding and size to the model's NV12 input (the core
  Preprocessor the node runs), on one pinned core with OpenCV single-threaded;
- postprocessing: scores to probabilities and the top-k predictions;
- backend latency: one prepared input, batch 1, for each intra-op thread count;
- throughput: N workers, each with its own model and one inference thread, as threads in this
  process or as separate processes (the BPU's Python API holds the GIL, so only processes
  scale there);
- the peer (LiteRT) the same way, so the ratio compares runs under the same load.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from mobilenetv1_ros.core.errors import ConfigError, ImageDecodeError
from mobilenetv1_ros.core.image import (
    CompressedFrame,
    Preprocessor,
    RawFrame,
    bgr_to_nv12,
    bgr_to_yuv422,
)
from mobilenetv1_ros.perf.machine import latency_stats, pinned_to_one_core

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    import numpy.typing as npt

    from mobilenetv1_ros.core.image import Frame
    from mobilenetv1_ros.core.pipeline import ClassifierOptions
    from mobilenetv1_ros.perf.subjects import Subject

__all__ = [
    'BUDGETS',
    'CONVERSION_ENCODINGS',
    'DEFAULT_SIZES',
    'FRAME_ENCODINGS',
    'PARALLEL_MODES',
    'Budget',
    'conversion_costs',
    'default_image',
    'infer_latency',
    'make_frame',
    'parse_size',
    'photo_frame',
    'pipeline_latency',
    'postprocess_cost',
    'read_photo',
    'throughput',
]

#: Encodings the conversion benchmark covers by default ('jpeg' is a CompressedFrame).
CONVERSION_ENCODINGS = ('bgr8', 'rgb8', 'bgra8', 'mono8', 'nv12', 'yuyv', 'uyvy', 'jpeg')
#: Frame sizes (width, height) measured by default.
DEFAULT_SIZES = ((640, 480), (1280, 720), (1920, 1080))
#: How throughput workers run.
PARALLEL_MODES = ('threads', 'processes')


@dataclass(frozen=True)
class Budget:
    """A per-stage time limit the core issue sets (median, one core unless stated)."""

    name: str
    limit_ms: float
    stage: str
    encoding: str = ''
    size: tuple[int, int] = (0, 0)
    threads: int = 0


#: The core issue's budgets, checked and printed by the benchmark.
BUDGETS = (
    Budget('1920x1080 bgr8 -> NV12 224 (1 core)', 0.5, 'conversion', 'bgr8', (1920, 1080)),
    Budget('1920x1080 nv12 -> NV12 224 (1 core)', 0.2, 'conversion', 'nv12', (1920, 1080)),
    Budget('default CPU model batch-1 inference, 2 threads', 3.0, 'inference', threads=2),
)


def parse_size(text: str) -> tuple[int, int]:
    """Parse 'WIDTHxHEIGHT' into (width, height).

    Raises:
        ConfigError: Not two positive integers joined by 'x'.
    """
    width, _, height = text.lower().partition('x')
    try:
        size = int(width), int(height)
    except ValueError:
        raise ConfigError(f'Frame size {text!r} is not WIDTHxHEIGHT, e.g. 1920x1080') from None
    if min(size) <= 0:
        raise ConfigError(f'Frame size {text!r} must be positive')
    return size


def default_image() -> tuple[npt.NDArray[np.uint8], str]:
    """Return the photo frames are made from and its name.

    The bundled 1080p test photo in a source tree; elsewhere a deterministic smooth pattern
    (conversion cost does not depend on content; accuracy is measured by evaluate).
    """
    from mobilenetv1_ros.core.models import sample_images_dir

    path = sample_images_dir() / 'cat_1080p.jpg'
    image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    if image is not None:
        return image, str(path)
    rows, cols = np.mgrid[0:1080, 0:1920].astype(np.float32)
    pattern = np.stack([rows / 1080 * 255, cols / 1920 * 255,
                        127.5 + 127.5 * np.sin((rows + cols) / 40)], axis=-1)
    return pattern.astype(np.uint8), 'synthetic gradient 1920x1080'


def make_frame(image: npt.NDArray[np.uint8], encoding: str, width: int, height: int) -> Frame:
    """Resize a BGR photo to width x height and encode it the way a camera driver would.

    Raises:
        ConfigError: The encoding is not one of CONVERSION_ENCODINGS.
    """
    bgr = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    if encoding == 'jpeg':
        ok, data = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise ConfigError(f'JPEG encoding of a {width}x{height} frame failed')
        return CompressedFrame('jpeg', data.tobytes())
    if encoding == 'nv12':
        return RawFrame('nv12', width, height, width, bgr_to_nv12(bgr).tobytes())
    if encoding in ('yuyv', 'uyvy'):
        packed = bgr_to_yuv422(bgr, luma_first=encoding == 'yuyv')
        return RawFrame(encoding, width, height, width * 2, packed.tobytes())
    codes = {'bgr8': None, 'rgb8': cv2.COLOR_BGR2RGB, 'bgra8': cv2.COLOR_BGR2BGRA,
             'rgba8': cv2.COLOR_BGR2RGBA, 'mono8': cv2.COLOR_BGR2GRAY}
    if encoding not in codes:
        raise ConfigError(f'Encoding {encoding!r} is not one of: '
                          f'{", ".join(CONVERSION_ENCODINGS)}')
    code = codes[encoding]
    pixels = bgr if code is None else cv2.cvtColor(bgr, code)
    pixels = np.ascontiguousarray(pixels)
    step = pixels.strides[0]
    return RawFrame(encoding, width, height, step, pixels.tobytes())


#: Encodings photo_frame makes: every raw encoding the core reads, plus compressed JPEG/PNG.
FRAME_ENCODINGS = ('nv12', 'bgr8', 'rgb8', 'bgra8', 'rgba8', 'mono8', '8uc1', 'yuyv',
                   'yuv422_yuy2', 'uyvy', 'yuv422', 'jpeg', 'png')
_ALIASES = {'8uc1': 'mono8', 'yuv422_yuy2': 'yuyv', 'yuv422': 'uyvy'}


def read_photo(path: str | Path) -> npt.NDArray[np.uint8]:
    """Read an image file as a BGR array, or raise ImageDecodeError naming it."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageDecodeError(f'Image file {path} could not be read')
    return image


def photo_frame(bgr: npt.NDArray[np.uint8], encoding: str, width: int | None = None,
                height: int | None = None) -> Frame:
    """Encode a BGR photo as a camera would send it, at its size (cut to even) or the given one.

    Args:
        bgr: (H, W, 3) uint8 image.
        encoding: One of FRAME_ENCODINGS.
        width: Frame width, default the photo's (made even).
        height: Frame height, default the photo's (made even).
    """
    width = width or bgr.shape[1] - bgr.shape[1] % 2
    height = height or bgr.shape[0] - bgr.shape[0] % 2
    if encoding == 'png':
        pixels = make_frame(bgr, 'bgr8', width, height).data
        image = np.frombuffer(pixels, np.uint8).reshape(height, width, 3)
        ok, data = cv2.imencode('.png', image)
        if not ok:
            raise ImageDecodeError(f'PNG encoding of a {width}x{height} frame failed')
        return CompressedFrame('png', data.tobytes())
    frame = make_frame(bgr, _ALIASES.get(encoding, encoding), width, height)
    if encoding in _ALIASES:
        frame = dataclasses.replace(frame, encoding=encoding)
    return frame


def _time_calls(call: Callable[[], object], iterations: int, warmup: int,
                max_seconds: float) -> list[float]:
    """Return per-call milliseconds; stop early after max_seconds (keeping at least 10)."""
    for _ in range(warmup):
        call()
    samples = []
    deadline = time.perf_counter() + max_seconds
    for _ in range(iterations):
        start = time.perf_counter()
        call()
        end = time.perf_counter()
        samples.append((end - start) * 1e3)
        if end > deadline and len(samples) >= 10:
            break
    return samples


def conversion_costs(image: npt.NDArray[np.uint8], encodings: Sequence[str],
                     sizes: Sequence[tuple[int, int]], model_size: tuple[int, int] = (224, 224),
                     crop: str = 'center_crop', interpolation: str = 'linear',
                     iterations: int = 300, warmup: int = 10,
                     max_seconds: float = 0.5) -> list[dict[str, Any]]:
    """Time the core Preprocessor for every encoding and frame size on one pinned core.

    Returns:
        One record per (encoding, size): the stats of the per-frame milliseconds.
    """
    preprocessor = Preprocessor(model_size[0], model_size[1], crop, interpolation)
    records = []
    with pinned_to_one_core() as core:
        for encoding in encodings:
            for width, height in sizes:
                frame = make_frame(image, encoding, width, height)
                samples = _time_calls(lambda frame=frame: preprocessor(frame), iterations,
                                      warmup, max_seconds)
                records.append({'encoding': encoding, 'width': width, 'height': height,
                                'model_size': list(model_size), 'core': core,
                                'ms': latency_stats(samples)})
    return records


def postprocess_cost(subject: Subject, prepared: npt.NDArray[np.uint8], iterations: int = 300,
                     warmup: int = 10) -> dict[str, float]:
    """Time the subject's postprocessing of real scores (softmax check, top-k, labels)."""
    scores = subject.infer(prepared)
    with pinned_to_one_core():
        return latency_stats(_time_calls(lambda: subject.probabilities(scores), iterations,
                                         warmup, 1.0))


def infer_latency(subject: Subject, prepared: npt.NDArray[np.uint8], iterations: int = 200,
                  warmup: int = 20, max_seconds: float = 10.0) -> dict[str, float]:
    """Time batch-1 inference on one prepared input (the backend alone)."""
    return latency_stats(_time_calls(lambda: subject.infer(prepared), iterations, warmup,
                                     max_seconds))


def pipeline_latency(subject: Subject, image: npt.NDArray[np.uint8], iterations: int = 100,
                     warmup: int = 10, max_seconds: float = 10.0) -> dict[str, float]:
    """Time a whole classification of an in-memory image: convert, infer, postprocess."""
    return latency_stats(_time_calls(
        lambda: subject.probabilities(subject.infer(subject.prepare(image))), iterations,
        warmup, max_seconds))


@dataclass
class _WorkerResult:
    frames: int = 0
    samples: list[float] = field(default_factory=list)
    error: str | None = None


def _loop(subject: Subject, prepared: npt.NDArray[np.uint8], start: float,
          deadline: float) -> _WorkerResult:
    result = _WorkerResult()
    now = time.perf_counter()
    while now < start:
        time.sleep(min(start - now, 0.01))
        now = time.perf_counter()
    while now < deadline:
        subject.infer(prepared)
        end = time.perf_counter()
        result.samples.append((end - now) * 1e3)
        result.frames += 1
        now = end
    return result


def _process_worker(spec: str, base: ClassifierOptions, image: npt.NDArray[np.uint8],
                    ready: Any, go: Any, out: Any, duration: float) -> None:
    """Build a subject in a fresh process, signal ready, run from the shared start time."""
    from mobilenetv1_ros.perf.subjects import create_subject

    try:
        subject = create_subject(spec, base, 1)
        prepared = subject.prepare(image)
        for _ in range(5):
            subject.infer(prepared)
    except Exception as error:  # noqa: BLE001 - reported to the parent, which raises
        ready.put(f'{type(error).__name__}: {error}')
        return
    ready.put(None)
    start = go.get()
    result = _loop(subject, prepared, start, start + duration)
    out.put((result.frames, result.samples))
    subject.close()


def _throughput_threads(spec: str, base: ClassifierOptions, image: npt.NDArray[np.uint8],
                        workers: int, duration: float) -> list[_WorkerResult]:
    from mobilenetv1_ros.perf.subjects import create_subject

    subjects = [create_subject(spec, base, 1) for _ in range(workers)]
    try:
        inputs = [subject.prepare(image) for subject in subjects]
        for subject, prepared in zip(subjects, inputs):
            for _ in range(5):
                subject.infer(prepared)
        results = [_WorkerResult() for _ in subjects]
        start = time.perf_counter() + 0.05
        deadline = start + duration

        def work(index: int) -> None:
            results[index] = _loop(subjects[index], inputs[index], start, deadline)

        threads = [threading.Thread(target=work, args=(index,), name=f'bench-{index}')
                   for index in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results
    finally:
        for subject in subjects:
            subject.close()


def _throughput_processes(spec: str, base: ClassifierOptions, image: npt.NDArray[np.uint8],
                          workers: int, duration: float) -> list[_WorkerResult]:
    context = multiprocessing.get_context('spawn')
    ready, go, out = context.Queue(), context.Queue(), context.Queue()
    processes = [context.Process(target=_process_worker,
                                 args=(spec, base, image, ready, go, out, duration),
                                 name=f'bench-{index}', daemon=True)
                 for index in range(workers)]
    for process in processes:
        process.start()
    try:
        errors = [ready.get(timeout=300) for _ in processes]
        failed = [error for error in errors if error]
        if failed:
            raise ConfigError(f'Benchmark worker for {spec!r} failed: {failed[0]}')
        start = time.perf_counter() + 0.2
        for _ in processes:
            go.put(start)
        results = []
        for _ in processes:
            frames, samples = out.get(timeout=duration + 300)
            results.append(_WorkerResult(frames, samples))
        return results
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


def throughput(spec: str, base: ClassifierOptions, image: npt.NDArray[np.uint8], workers: int,
               mode: str, duration: float = 3.0) -> dict[str, Any]:
    """Run `workers` copies of a subject for `duration` seconds and count frames.

    Every worker owns its model with one inference thread and runs batch-1 inference on the
    same prepared photo, back to back, from a common start time.

    Args:
        spec: The subject spec (see perf.subjects).
        base: Pipeline options the spec starts from.
        image: The BGR photo each worker prepares once.
        workers: Parallel workers.
        mode: 'threads' (one process) or 'processes' (one spawned process per worker).
        duration: Seconds of measurement.

    Returns:
        workers, mode, frames, fps and the per-frame latency stats under that load.

    Raises:
        ConfigError: Bad mode or worker count, or a worker could not start.
    """
    if mode not in PARALLEL_MODES:
        raise ConfigError(f'Parallel mode {mode!r} is not one of: {", ".join(PARALLEL_MODES)}')
    if workers < 1:
        raise ConfigError(f'Worker count {workers} must be positive')
    run = _throughput_threads if mode == 'threads' else _throughput_processes
    results = run(spec, base, image, workers, duration)
    frames = sum(result.frames for result in results)
    samples = [sample for result in results for sample in result.samples]
    return {'mode': mode, 'workers': workers, 'seconds': duration, 'frames': frames,
            'fps': round(frames / duration, 2), 'latency_ms': latency_stats(samples),
            'cpu_count': os.cpu_count()}
