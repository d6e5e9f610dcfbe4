"""Measure latency, throughput and per-stage costs; print the model zoo's table in markdown.

Measures, in one run: the conversion of every encoding and frame size to the NV12 model input
on one pinned core; batch-1 inference latency (p50/p95/p99) per thread count; throughput with N
workers as threads and as processes; the whole classification and the postprocessing; the same
for the peer runtimes (LiteRT/XNNPACK on the same weights; OpenVINO on our own ONNX graphs,
where it is installed: scripts/requirements-peers.txt) with the ratios; optionally the
accuracy on a labeled image set and the node end to end over DDS. The JSON report holds every
sample statistic and the machine description (CPU, versions, load average).

Examples:
  mobilenetv1-ros benchmark
  mobilenetv1-ros benchmark --dataset ../shared/data/imagenet_sample_1000 --end-to-end
  mobilenetv1-ros benchmark --save benchmark.json --markdown benchmark.md
  mobilenetv1-ros benchmark --models onnx:int8 --peers --parallel processes --quick
  mobilenetv1-ros benchmark --peers litert openvino --dataset ../shared/data/imagenet_sample_1000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mobilenetv1_ros.cli.options import add_pipeline_arguments, options_from_args
from mobilenetv1_ros.cli.output import add_output_arguments, command_line, emit, record_options
from mobilenetv1_ros.core.compressed import COMPRESSED_FORMATS
from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.harness.frames import CONVERSION_ENCODINGS, FRAME_ENCODINGS
from mobilenetv1_ros.loading import choose_backend
from mobilenetv1_ros.options import PIPELINE_OPTIONS, ClassifierOptions
from mobilenetv1_ros.perf.benchmark import DEFAULT_SIZES, parse_size
from mobilenetv1_ros.perf.report import benchmark_markdown
from mobilenetv1_ros.perf.subjects import DEFAULT_PEERS
from mobilenetv1_ros.perf.suite import BenchmarkSettings, run_benchmark

__all__ = ['add_arguments', 'run']

_SIZES = [f'{w}x{h}' for w, h in DEFAULT_SIZES]
#: Pipeline options a --models spec chooses; the benchmark has no flags for them.
_CHOSEN_BY_SPEC = ('backend', 'model_path', 'precision')
#: Encodings the node end to end can be sent (raw images: the node subscribes to Image).
_RAW_ENCODINGS = tuple(name for name in FRAME_ENCODINGS if name not in COMPRESSED_FORMATS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the benchmark arguments."""
    what = parser.add_argument_group('what to measure')
    what.add_argument('--models', nargs='+', default=None, metavar='SPEC',
                      help='our models (default: onnx:int8 onnx:float32; bpu on the board)')
    what.add_argument('--peers', nargs='*', default=list(DEFAULT_PEERS), metavar='SPEC',
                      help='peer runtimes measured in the same run; one whose runtime does not '
                           'import is skipped, and the report says why and how to install it; '
                           'none after the flag measures no peer (default: %(default)s)')
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
    add_pipeline_arguments(parser, names=[spec.name for spec in PIPELINE_OPTIONS
                                          if spec.name not in _CHOSEN_BY_SPEC])
    node = parser.add_argument_group('node end to end over DDS')
    node.add_argument('--end-to-end', action='store_true',
                      help='start the node and time image published -> classification received')
    node.add_argument('--e2e-sizes', nargs='+', default=_SIZES, metavar='WxH',
                      help='frame sizes published (default: %(default)s)')
    node.add_argument('--e2e-encodings', nargs='+', default=['bgr8', 'nv12'],
                      choices=_RAW_ENCODINGS,
                      metavar='ENCODING', help='encodings published (default: bgr8 nv12)')
    node.add_argument('--e2e-frames', type=int, default=50, metavar='N',
                      help='frames per size and encoding (default: %(default)s)')
    node.add_argument('--e2e-model', default='onnx:int8', metavar='SPEC',
                      help='model the node runs (default: %(default)s)')
    out = parser.add_argument_group('output')
    add_output_arguments(out, 'report', json_help='print the JSON report instead of markdown')
    record_options(parser)
    out.add_argument('--markdown', type=Path, default=None, metavar='FILE',
                     help='also write the markdown report to FILE')


def _command(args: argparse.Namespace, models: list[str]) -> str:
    """Return a command line that repeats this benchmark."""
    return command_line(['mobilenetv1-ros', 'benchmark'],
                        argparse.Namespace(**{**vars(args), 'models': models}))


def _default_models() -> list[str]:
    """Return the BPU model where the BPU runs, else the bundled CPU models."""
    if choose_backend(ClassifierOptions()).backend == 'bpu':
        return ['bpu']
    return BenchmarkSettings().models


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print the report; exit 1 if a core budget was missed."""
    for name in ('iterations', 'warmup', 'e2e_frames'):
        if getattr(args, name) < (0 if name == 'warmup' else 1):
            raise ConfigError(f'--{name.replace("_", "-")} {getattr(args, name)} is too small')
    if args.duration <= 0 or any(threads < 1 for threads in args.latency_threads):
        raise ConfigError(f'--duration {args.duration} and --latency-threads '
                          f'{args.latency_threads} must be positive')
    models = args.models or _default_models()
    settings = BenchmarkSettings(
        models=models, peers=list(args.peers), base=options_from_args(args),
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
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown, encoding='utf-8')
    emit(args, report, lambda: print(markdown, end=''))
    if report['load']['warning']:
        print(f'warning: {report["load"]["warning"]}', file=sys.stderr)
    return 1 if any(budget['ok'] is False for budget in report['budgets']) else 0
