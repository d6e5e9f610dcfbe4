"""The whole benchmark run: every subject and stage, one JSON-ready report."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2

from mobilenetv1_ros.core.assets import bundled_tflite, default_labels_path
from mobilenetv1_ros.core.errors import BackendUnavailableError
from mobilenetv1_ros.core.frames import read_image
from mobilenetv1_ros.core.labels import load_labels
from mobilenetv1_ros.export.cache import cached_onnx_model
from mobilenetv1_ros.harness.frames import CONVERSION_ENCODINGS, default_image
from mobilenetv1_ros.options import ClassifierOptions
from mobilenetv1_ros.perf import benchmark as bench
from mobilenetv1_ros.perf.dataset import load_dataset
from mobilenetv1_ros.perf.evaluation import evaluate, paired
from mobilenetv1_ros.perf.machine import describe_machine, load_average, load_warning
from mobilenetv1_ros.perf.params import count_parameters
from mobilenetv1_ros.perf.subjects import DEFAULT_PEERS, create_subject

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import numpy.typing as npt

    from mobilenetv1_ros.perf.evaluation import Evaluation
    from mobilenetv1_ros.perf.subjects import Subject

__all__ = ['BenchmarkSettings', 'run_benchmark']


@dataclass
class BenchmarkSettings:
    """What one benchmark run measures.

    Attributes:
        models: Specs of our subjects (see perf.subjects), e.g. ['onnx:int8', 'onnx:float32'].
        peers: Specs of peer runtimes measured in the same run, e.g. ['litert', 'openvino'];
            a peer whose runtime does not import is skipped and listed with the reason.
        base: Pipeline options the specs start from (crop, interpolation, labels).
        threads: Inference thread counts for batch-1 latency.
        workers: Parallel workers for throughput.
        parallel: Worker kinds measured: 'threads' and/or 'processes'.
        iterations: Batch-1 inference runs per thread count.
        warmup: Untimed runs first.
        duration: Seconds per throughput measurement.
        image: BGR photo everything is measured on; None: default_image().
        sizes: Frame sizes for the conversion costs.
        encodings: Encodings for the conversion costs.
        dataset: Labeled image set for the accuracy columns; None skips them.
        limit: Images of the dataset to use.
        end_to_end: Measure the node over DDS.
        e2e_sizes: Frame sizes sent to the node.
        e2e_encodings: Encodings sent to the node.
        e2e_frames: Frames per size and encoding.
        e2e_model: Spec of the model the node runs.
        command: The command line, recorded in the report.
    """

    models: list[str] = field(default_factory=lambda: ['onnx:int8', 'onnx:float32'])
    peers: list[str] = field(default_factory=lambda: list(DEFAULT_PEERS))
    base: ClassifierOptions = field(default_factory=ClassifierOptions)
    threads: list[int] = field(default_factory=lambda: [1, 2])
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    parallel: list[str] = field(default_factory=lambda: ['threads', 'processes'])
    iterations: int = 200
    warmup: int = 20
    duration: float = 3.0
    image: Path | None = None
    sizes: list[tuple[int, int]] = field(default_factory=lambda: list(bench.DEFAULT_SIZES))
    encodings: list[str] = field(default_factory=lambda: list(CONVERSION_ENCODINGS))
    dataset: Path | None = None
    limit: int | None = None
    end_to_end: bool = False
    e2e_sizes: list[tuple[int, int]] = field(default_factory=lambda: list(bench.DEFAULT_SIZES))
    e2e_encodings: list[str] = field(default_factory=lambda: ['bgr8', 'nv12'])
    e2e_frames: int = 50
    e2e_model: str = 'onnx:int8'
    command: str = ''


def _load_image(settings: BenchmarkSettings) -> tuple[npt.NDArray[np.uint8], str]:
    if settings.image is None:
        return default_image()
    return read_image(settings.image), str(settings.image)


def _is_default_cpu_model(subject: Subject) -> bool:
    """Whether the subject runs the default CPU model (the bundled int8 ONNX export)."""
    classifier = getattr(subject, 'classifier', None)
    if subject.peer or classifier is None or classifier.backend.name != 'onnx':
        return False
    return Path(classifier.backend.model_path) == cached_onnx_model('int8')


def _model_file(subject: Subject) -> str | None:
    """Return the model file a subject runs inside our pipeline (ours or a peer's), or None."""
    classifier = getattr(subject, 'classifier', None)
    return None if classifier is None else str(classifier.backend.model_path)


def _measure_subject(spec: str, settings: BenchmarkSettings, image: npt.NDArray[np.uint8],
                     log: Callable[[str], None]) -> dict[str, Any]:
    record: dict[str, Any] = {'name': spec, 'latency': {}, 'throughput': []}
    for threads in settings.threads:
        subject = create_subject(spec, settings.base, threads)
        try:
            prepared = subject.prepare(image)
            record.update(precision=subject.precision, peer=subject.peer,
                          num_classes=subject.num_classes, default_cpu=_is_default_cpu_model(
                              subject), size=_input_size(subject, prepared),
                          model_file=_model_file(subject))
            record.setdefault('descriptions', {})[str(threads)] = subject.describe()
            log(f'{spec}: batch-1 latency, {threads} thread(s)')
            record['latency'][str(threads)] = bench.infer_latency(
                subject, prepared, settings.iterations, settings.warmup)
            if threads == max(settings.threads):
                record['pipeline_ms'] = bench.pipeline_latency(
                    subject, image, max(10, settings.iterations // 2), settings.warmup // 2 + 1)
                record['postprocess_ms'] = bench.postprocess_cost(subject, prepared)
        finally:
            subject.close()
    for mode in settings.parallel:
        log(f'{spec}: throughput, {settings.workers} {mode}')
        record['throughput'].append(bench.throughput(spec, settings.base, image,
                                                     settings.workers, mode, settings.duration))
    if record['throughput']:
        record['best_throughput'] = max(record['throughput'], key=lambda run: run['fps'])
    return record


def _input_size(subject: Subject, prepared: npt.NDArray[np.uint8]) -> list[int]:
    classifier = getattr(subject, 'classifier', None)
    if classifier is not None:
        return [classifier.backend.input_width, classifier.backend.input_height]
    return [int(prepared.shape[2]), int(prepared.shape[1])]


def _accuracy(spec: str, settings: BenchmarkSettings,
              log: Callable[[str], None]) -> Evaluation:
    assert settings.dataset is not None
    subject = create_subject(spec, settings.base, max(settings.threads))
    try:
        labels = load_labels(settings.base.labels_path or default_labels_path(),
                             subject.num_classes)
        dataset = load_dataset(settings.dataset, labels, limit=settings.limit,
                               num_classes=subject.num_classes)
        log(f'{spec}: accuracy on {len(dataset)} images')
        result = evaluate(subject, dataset)
    finally:
        subject.close()
    return result


def _accuracy_summary(result: Evaluation) -> dict[str, Any]:
    return {'top1': round(result.top1, 2), 'top5': round(result.top5, 2),
            'top1_ties': result.top1_ties, 'top1_ties_split': round(result.top1_split, 2),
            'images': result.images, 'failed': len(result.failures),
            'seconds': round(result.seconds, 2)}


def _compared(mine: dict[str, Any], peer: dict[str, Any]) -> bool:
    """Return whether the ratio table pairs ours with this peer.

    A peer that runs one of our model files (OpenVINO) is compared only with the subject that
    runs the same file; any other peer (LiteRT) with each of ours.
    """
    return not (peer.get('model_file') and mine.get('model_file')
                and peer['model_file'] != mine['model_file'])


def _ratios(models: list[dict[str, Any]],
            evaluations: dict[str, Evaluation] | None = None) -> list[dict[str, Any]]:
    evaluations = evaluations or {}
    ours = [m for m in models if not m.get('peer')]
    peers = [m for m in models if m.get('peer')]
    ratios = []
    for mine in ours:
        for peer in (peer for peer in peers if _compared(mine, peer)):
            for threads, stats in mine['latency'].items():
                other = peer['latency'].get(threads)
                if other:
                    ratios.append({'ours': mine['name'], 'peer': peer['name'],
                                   'measure': f'p50 latency, {threads} thread(s)',
                                   'ours_value': stats['p50'], 'peer_value': other['p50'],
                                   'ratio': round(other['p50'] / stats['p50'], 3)})
            if mine.get('best_throughput') and peer.get('best_throughput'):
                a, b = mine['best_throughput'], peer['best_throughput']
                ratios.append({'ours': mine['name'], 'peer': peer['name'],
                               'measure': f'FPS, {a["workers"]} workers (best kind)',
                               'ours_value': a['fps'], 'peer_value': b['fps'],
                               'ratio': round(a['fps'] / b['fps'], 3) if b['fps'] else 0.0})
            if mine.get('accuracy') and peer.get('accuracy'):
                record = {'ours': mine['name'], 'peer': peer['name'],
                          'measure': 'top-1 % (ours / peer)',
                          'ours_value': mine['accuracy']['top1'],
                          'peer_value': peer['accuracy']['top1'],
                          'ratio': round(mine['accuracy']['top1']
                                         / max(peer['accuracy']['top1'], 1e-9), 3)}
                if mine['name'] in evaluations and peer['name'] in evaluations:
                    record['paired'] = paired(evaluations[peer['name']],
                                              evaluations[mine['name']]).as_dict()
                ratios.append(record)
    return ratios


def _budgets(conversion: list[dict[str, Any]],
             models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = []
    for budget in bench.BUDGETS:
        measured = None
        if budget.stage == 'conversion':
            for record in conversion:
                if (record['encoding'], record['width'], record['height']) == (
                        budget.encoding, *budget.size):
                    measured = record['ms']['p50']
        else:
            for model in models:
                stats = model['latency'].get(str(budget.threads))
                if model.get('default_cpu') and stats:
                    measured = stats['p50']
        results.append({'name': budget.name, 'limit_ms': budget.limit_ms,
                        'measured_ms': measured,
                        'ok': None if measured is None else measured <= budget.limit_ms})
    return results


def run_benchmark(settings: BenchmarkSettings,
                  log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure everything the settings ask for; return the report (JSON-ready).

    The report's 'params' (the parameter count) is None where the tflite package is missing,
    as on the board.

    Raises:
        ConfigError, BackendUnavailableError, ModelError: One of our subjects cannot be
            created (a peer whose runtime is missing is skipped and listed in 'skipped').
    """
    say = log or (lambda message: print(message, file=sys.stderr, flush=True))
    started = time.time()
    machine = describe_machine()
    load_start = load_average()
    if load_warning(load_start):
        say(f'warning: {load_warning(load_start)}')
    image, image_name = _load_image(settings)
    say('conversion costs (one core)')
    conversion = bench.conversion_costs(image, settings.encodings, settings.sizes,
                                        crop=settings.base.crop,
                                        interpolation=settings.base.interpolation)
    models, skipped = [], []
    evaluations: dict[str, Evaluation] = {}
    for spec in [*settings.models, *settings.peers]:
        try:
            record = _measure_subject(spec, settings, image, say)
        except BackendUnavailableError as error:
            if spec not in settings.peers:
                raise
            say(f'warning: peer {spec} skipped: {error}')
            skipped.append({'name': spec, 'reason': str(error)})
            continue
        if settings.dataset is not None:
            evaluations[spec] = _accuracy(spec, settings, say)
            record['accuracy'] = _accuracy_summary(evaluations[spec])
        models.append(record)
    params: dict[str, Any] | None
    try:
        count = count_parameters(*bundled_tflite())
    except ImportError as error:
        # tflite (the flatbuffer reader) is a build-time package the board does not have.
        say(f'warning: parameter count skipped: {error}')
        params = None
    else:
        params = {'total': count.total, 'without_background': count.without_background,
                  'weighted_layers': count.layers,
                  'source': 'weights + biases of the bundled TFLite files'}
    report: dict[str, Any] = {
        'tool': 'mobilenetv1-ros benchmark',
        'started': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(started)),
        'command': settings.command,
        'machine': machine,
        'image': {'source': image_name, 'size': f'{image.shape[1]}x{image.shape[0]}'},
        'settings': {'threads': settings.threads, 'workers': settings.workers,
                     'parallel': settings.parallel, 'iterations': settings.iterations,
                     'warmup': settings.warmup, 'duration_s': settings.duration,
                     'crop': settings.base.crop, 'interpolation': settings.base.interpolation,
                     'opencv_threads': cv2.getNumThreads()},
        'dataset': str(settings.dataset) if settings.dataset else None,
        'params': params,
        'conversion': conversion,
        'models': models,
        'skipped': skipped,
        'ratios': _ratios(models, evaluations),
        'budgets': _budgets(conversion, models),
    }
    if settings.end_to_end:
        from mobilenetv1_ros.perf.endtoend import measure_node

        say('node end to end over DDS')
        report['end_to_end'] = measure_node(settings.e2e_model, settings.base,
                                            image, settings.e2e_sizes, settings.e2e_encodings,
                                            settings.e2e_frames, log=say)
    else:
        report['end_to_end'] = {'skipped': 'not requested (pass --end-to-end)'}
    load_end = load_average()
    report['load'] = {'start': load_start, 'end': load_end,
                      'warning': load_warning(load_start) or load_warning(load_end)}
    report['seconds'] = round(time.time() - started, 1)
    return report
