"""Measure latency, throughput and per-stage costs; print the model zoo's table in markdown.

Measures, in one run: the conversion of every encoding and frame size to the NV12 model input
on one pinned core; batch-1 inference latency (p50/p95/p99) per thread count; throughput with N
workers as threads and as processes; the whole classification and the postprocessing; the same
for a peer runtime (LiteRT/XNNPACK on the same weights) with the latency ratio; optionally the
accuracy on a labeled image set and the node end to end over DDS. The JSON report holds every
sample statistic and the machine description (CPU, versions, load average).

Examples:
  mobilenetv1-ros benchmark
  mobilenetv1-ros benchmark --dataset ../shared/data/imagenet_sample_1000 --end-to-end
  mobilenetv1-ros benchmark --save benchmark.json --markdown benchmark.md
  mobilenetv1-ros benchmark --models onnx:int8 --peers --parallel processes --quick
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mobilenetv1_ros.core.preprocess import CROP_POLICIES, INTERPOLATIONS
from mobilenetv1_ros.harness.frames import CONVERSION_ENCODINGS
from mobilenetv1_ros.perf.benchmark import DEFAULT_SIZES, parse_size

if TYPE_CHECKING:
    import argparse

__all__ = ['add_arguments', 'run']

_SIZES = [f'{w}x{h}' for w, h in DEFAULT_SIZES]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the benchmark arguments."""
    what = parser.add_argument_group('what to measure')
    what.add_argument('--models', nargs='+', default=None, metavar='SPEC',
                      help='our models (default: onnx:int8 onnx:float32; bpu on the board)')
    what.add_argument('--peers', nargs='*', default=['litert'], metavar='SPEC',
                      help='peer runtimes measured in the same run; none after the flag '
                           'measures no peer (default: litert)')
    what.add_argument('--dataset', type=Path, default=None, metavar='PATH',
                      help='labeled image set for the top-1 columns (see evaluate)')
    what.add_argument('--limit', type=int, default=None, metavar='N',
                      help='images of the dataset to use (default: all)')
    what.add_argument('--image', type=Path, default=None, metavar='FILE',
                      help='photo every frame is made from (default: the bundled 1080p test '
                           'photo in a source tree)')
    what.add_argument('--sizes', nargs='+', default=_SIZES, metavar='WxH',
                      help='frame sizes for the conversion costs (default: %(default)s)')
    what.add_argument('--encodings', nargs='+', default=list(CONVERSION_ENCODINGS),
                      choices=CONVERSION_ENCODINGS, metavar='ENCODING',
                      help='encodings for the conversion costs (default: all of %(choices)s)')
    how = parser.add_argument_group('how')
    how.add_argument('--latency-threads', nargs='+', type=int, default=[1, 2], metavar='N',
                     help='inference thread counts for batch-1 latency (default: 1 2)')
    how.add_argument('--workers', type=int, default=None, metavar='N',
                     help='parallel workers for throughput (default: the CPU count)')
    how.add_argument('--parallel', choices=['threads', 'processes', 'both'], default='both',
                     help='run throughput workers as threads, processes or both; the BPU API '
                          'holds the GIL, so only processes scale there (default: %(default)s)')
    how.add_argument('--iterations', type=int, default=200, metavar='N',
                     help='batch-1 inference runs per thread count (default: %(default)s)')
    how.add_argument('--warmup', type=int, default=20, metavar='N',
                     help='untimed runs first (default: %(default)s)')
    how.add_argument('--duration', type=float, default=3.0, metavar='SECONDS',
                     help='seconds per throughput measurement (default: %(default)s)')
    how.add_argument('--quick', action='store_true',
                     help='tiny counts for a smoke run (numbers are not meaningful)')
    how.add_argument('--crop', default='center_crop', choices=CROP_POLICIES,
                     help='framing of the frame into the model input (default: %(default)s)')
    how.add_argument('--interpolation', default='linear', choices=list(INTERPOLATIONS),
                     help='resize interpolation (default: %(default)s)')
    how.add_argument('--labels', dest='labels_path', default=None, metavar='PATH',
                     help='labels file (default: the bundled ImageNet_1k.json)')
    node = parser.add_argument_group('node end to end over DDS')
    node.add_argument('--end-to-end', action='store_true',
                      help='start the node and time image published -> classification received')
    node.add_argument('--e2e-sizes', nargs='+', default=_SIZES, metavar='WxH',
                      help='frame sizes published (default: %(default)s)')
    node.add_argument('--e2e-encodings', nargs='+', default=['bgr8', 'nv12'],
                      choices=['bgr8', 'rgb8', 'nv12', 'mono8', 'yuyv', 'uyvy'],
                      metavar='ENCODING', help='encodings published (default: bgr8 nv12)')
    node.add_argument('--e2e-frames', type=int, default=50, metavar='N',
                      help='frames per size and encoding (default: %(default)s)')
    node.add_argument('--e2e-model', default='onnx:int8', metavar='SPEC',
                      help='model the node runs (default: %(default)s)')
    out = parser.add_argument_group('output')
    out.add_argument('--json', action='store_true',
                     help='print the JSON report instead of markdown')
    out.add_argument('--save', type=Path, default=None, metavar='FILE',
                     help='also write the JSON report to FILE')
    out.add_argument('--markdown', type=Path, default=None, metavar='FILE',
                     help='also write the markdown report to FILE')


def _command(args: argparse.Namespace, models: list[str]) -> str:
    """Return a command line that repeats this benchmark."""
    words = ['mobilenetv1-ros', 'benchmark', '--models', *models, '--peers', *args.peers]
    if args.dataset is not None:
        words += ['--dataset', str(args.dataset)]
    if args.limit is not None:
        words += ['--limit', str(args.limit)]
    if args.quick:
        words.append('--quick')
    if args.end_to_end:
        words.append('--end-to-end')
    if args.workers is not None:
        words += ['--workers', str(args.workers)]
    if args.parallel != 'both':
        words += ['--parallel', args.parallel]
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print the report; exit 1 if a core budget was missed."""
    from mobilenetv1_ros.loading import choose_backend
    from mobilenetv1_ros.core.errors import ConfigError
    from mobilenetv1_ros.options import ClassifierOptions
    from mobilenetv1_ros.perf.report import benchmark_markdown
    from mobilenetv1_ros.perf.suite import BenchmarkSettings, run_benchmark

    for name in ('iterations', 'warmup', 'e2e_frames'):
        if getattr(args, name) < (0 if name == 'warmup' else 1):
            raise ConfigError(f'--{name.replace("_", "-")} {getattr(args, name)} is too small')
    if args.duration <= 0 or any(threads < 1 for threads in args.latency_threads):
        raise ConfigError(f'--duration {args.duration} and --latency-threads '
                          f'{args.latency_threads} must be positive')
    models = args.models or (['bpu'] if choose_backend(ClassifierOptions()).backend == 'bpu' else ['onnx:int8',
                                                                       'onnx:float32'])
    settings = BenchmarkSettings(
        models=models, peers=list(args.peers),
        base=ClassifierOptions(crop=args.crop, interpolation=args.interpolation,
                               labels_path=args.labels_path or ''),
        threads=args.latency_threads,
        parallel=['threads', 'processes'] if args.parallel == 'both' else [args.parallel],
        iterations=args.iterations, warmup=args.warmup, duration=args.duration,
        image=args.image, sizes=[parse_size(size) for size in args.sizes],
        encodings=list(dict.fromkeys(args.encodings)), dataset=args.dataset, limit=args.limit,
        end_to_end=args.end_to_end, e2e_sizes=[parse_size(size) for size in args.e2e_sizes],
        e2e_encodings=list(dict.fromkeys(args.e2e_encodings)), e2e_frames=args.e2e_frames,
        e2e_model=args.e2e_model, command=_command(args, models))
    if args.workers is not None:
        settings.workers = args.workers
    if args.quick:
        settings.iterations = min(settings.iterations, 20)
        settings.warmup = min(settings.warmup, 3)
        settings.duration = min(settings.duration, 0.5)
        settings.e2e_frames = min(settings.e2e_frames, 5)
    report = run_benchmark(settings)
    markdown = benchmark_markdown(report)
    if args.save is not None:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(report, indent=2) + '\n', encoding='utf-8')
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown, encoding='utf-8')
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print(markdown, end='')
    if report['load']['warning']:
        print(f'warning: {report["load"]["warning"]}', file=sys.stderr)
    return 1 if any(budget['ok'] is False for budget in report['budgets']) else 0
