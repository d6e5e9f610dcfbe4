"""Measure top-1/top-5 accuracy on a labeled image set through the node's NV12 path.

The dataset is a list file of `<relative path> <class index>` lines (whitespace or comma
separated, './' prefixes allowed), a folder holding such a list (val.txt, labels.txt, ...), or a
folder of class folders named by class index, WordNet id or class name. Several models in one
call give one comparison table; each model after the first is also compared with the first
image by image (images only it gets right / only the first gets right, and the exact McNemar
p-value of that split). Images whose top score several classes share (a uint8 output) are
counted, and top-1 is also given with such ties split evenly.

Model specs: onnx:int8, onnx:float32, onnx:<file.onnx>, bpu[:<file.bin>], auto, and the peers
litert[:<extractor.tflite>,<head.tflite>] (LiteRT/XNNPACK on the uint8 TFLite files) and
openvino[:int8|float32|<file.onnx>] (the opt-in openvino backend, OpenVINO on the ONNX file onnx
with the same argument runs, measured as a peer; optional: scripts/requirements-peers.txt).

Examples:
  mobilenetv1-ros evaluate ../shared/data/imagenet_sample_1000
  mobilenetv1-ros evaluate images/val.txt --models onnx:int8 onnx:float32 litert --json
  mobilenetv1-ros evaluate photos/ --limit 100 --backend onnx --precision float32
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mobilenetv1_ros.cli.options import add_pipeline_arguments, options_from_args
from mobilenetv1_ros.cli.output import add_output_arguments, command_line, emit, record_options
from mobilenetv1_ros.core.assets import default_labels_path
from mobilenetv1_ros.core.labels import load_labels
from mobilenetv1_ros.perf.dataset import DatasetError, load_dataset
from mobilenetv1_ros.perf.evaluation import evaluate, paired
from mobilenetv1_ros.perf.machine import describe_machine, load_average, load_warning
from mobilenetv1_ros.perf.report import comparison_markdown
from mobilenetv1_ros.perf.subjects import create_subject

if TYPE_CHECKING:
    from mobilenetv1_ros.core.labels import Labels
    from mobilenetv1_ros.perf.evaluation import Evaluation

__all__ = ['add_arguments', 'default_spec', 'run']


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the evaluate arguments."""
    parser.add_argument('dataset', type=Path, metavar='DATASET',
                        help='list file, folder with a list file, or folder of class folders')
    parser.add_argument('--models', nargs='+', default=None, metavar='SPEC',
                        help='models to compare (default: the one the pipeline options select)')
    parser.add_argument('--limit', type=int, default=None, metavar='N',
                        help='evaluate only the first N images')
    parser.add_argument('--images-root', type=Path, default=None, metavar='DIR',
                        help="folder the list file's paths are relative to (default: beside "
                             'the list, then its images/ folder)')
    parser.add_argument('--decode-workers', type=int, default=2, metavar='N',
                        help='threads reading and converting images ahead of inference '
                             '(default: %(default)s)')
    parser.add_argument('--errors', type=int, default=10, metavar='N',
                        help='top-1 errors listed per model in the text output; all are in '
                             'the JSON (default: %(default)s)')
    add_output_arguments(parser, 'results')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_pipeline_arguments(parser)
    record_options(parser)


def default_spec(args: argparse.Namespace) -> str:
    """Return the model spec the pipeline options (--backend, --model, --precision) select."""
    if args.model_path:
        return f'{args.backend}:{args.model_path}'
    if args.backend == 'bpu':
        return 'bpu'
    return f'{args.backend}:{args.precision}'


def _print_text(results: list[Evaluation], summaries: list[dict[str, Any]],
                labels: Labels | None, errors: int) -> None:
    print(comparison_markdown(summaries))
    for result in results:
        print(f'\n{result.name}: {result.description}')
        print(f'  top-1 {result.top1:.2f} %  top-5 {result.top5:.2f} %  ({result.images} '
              f'images, {result.seconds:.1f} s, {result.images_per_second:.1f} images/s)')
        for path, message in result.failures:
            print(f'  failed: {path}: {message}')
        if result.misses and errors > 0:
            print(f'  top-1 errors ({min(errors, len(result.misses))} of {len(result.misses)}):')
            for miss in result.misses[:errors]:
                truth = labels.short_name(miss.class_id) if labels else str(miss.class_id)
                got = labels.short_name(miss.predicted[0]) if labels else str(miss.predicted[0])
                rank = f'rank {miss.rank}' if miss.rank else 'not in top 5'
                print(f'    {Path(miss.path).name}: {miss.class_id} {truth} -> '
                      f'{miss.predicted[0]} {got} ({miss.score:.3f}; true class {rank})')


def _command(args: argparse.Namespace, specs: list[str]) -> str:
    """Return a command line that repeats this evaluation."""
    return command_line(['mobilenetv1-ros', 'evaluate', str(args.dataset)],
                        argparse.Namespace(**{**vars(args), 'models': specs}))


def run(args: argparse.Namespace) -> int:
    """Evaluate every model; exit 1 if any image could not be read."""
    if args.decode_workers < 1:
        raise DatasetError(f'Decode worker count {args.decode_workers} must be positive')
    base = options_from_args(args)
    specs = args.models or [default_spec(args)]
    load_start = load_average()
    results: list[Evaluation] = []
    labels: Labels | None = None
    dataset = None
    for spec in specs:
        subject = create_subject(spec, base)
        try:
            labels = load_labels(base.labels_path or default_labels_path(), subject.num_classes)
            if dataset is None:
                dataset = load_dataset(args.dataset, labels, limit=args.limit,
                                       images_root=args.images_root,
                                       num_classes=subject.num_classes)
            results.append(evaluate(subject, dataset, decode_workers=args.decode_workers,
                                    progress=False if args.no_progress else None))
        finally:
            subject.close()
    assert dataset is not None
    load_end = load_average()
    warning = load_warning(load_start) or load_warning(load_end)
    summaries = [result.as_dict(labels) for result in results]
    for result, summary in zip(results[1:], summaries[1:]):
        summary['paired'] = paired(results[0], result).as_dict()
    document: dict[str, Any] = {
        'tool': 'mobilenetv1-ros evaluate',
        'command': _command(args, specs),
        'dataset': {'source': str(dataset.source), 'kind': dataset.kind,
                    'images': len(dataset), 'limit': args.limit},
        'machine': describe_machine(),
        'load': {'start': load_start, 'end': load_end, 'warning': warning},
        'results': summaries,
    }

    def show_text() -> None:
        print(f'# {dataset.source} ({dataset.kind}, {len(dataset)} images)')
        _print_text(results, summaries, labels, args.errors)

    emit(args, document, show_text)
    if warning:
        print(f'warning: {warning}', file=sys.stderr)
    return 1 if any(result.failures for result in results) else 0
