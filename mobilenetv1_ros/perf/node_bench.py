"""Benchmark of the classifier node: its own cost per frame, and result age under overload.

Runs the real node (ClassifierNode on the bundled CPU model) in a child process, feeds it camera
frames over DDS from this process and reads back every result, plus the node's own per-frame
stage times, which the child writes when it stops.

1. Overhead: frames at a rate the backend keeps up with; per frame, the time from the
   subscription callback's entry to the return of publish(), minus backend inference.
2. Overload: frames at 30 fps into a backend slowed down below the frame rate; per published
   result, the age of its input frame (callback entry to publish) against one inference time
   plus one frame period, and how many frames the node dropped to stay current.

Examples:
  python -m mobilenetv1_ros.perf.node_bench
  python -m mobilenetv1_ros.perf.node_bench --frames 200 --json
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

from mobilenetv1_ros.core.assets import photos_dir
from mobilenetv1_ros.core.frames import read_image
from mobilenetv1_ros.harness.frames import photo_frame
from mobilenetv1_ros.harness.peer import ClassifierPeer, publish_every
from mobilenetv1_ros.harness.process import NodeProcess, node_command, wait_for_subscription
from mobilenetv1_ros.loading import load_classifier
from mobilenetv1_ros.ros.node import ClassifierNode
from mobilenetv1_ros.ros.stats import STAGES

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

    from mobilenetv1_ros.core.backends import Backend
    from mobilenetv1_ros.core.frames import Frame
    from mobilenetv1_ros.core.pipeline import Classifier
    from mobilenetv1_ros.options import ClassifierOptions

__all__ = ['RunResult', 'SlowBackend', 'main', 'run_node']

PHOTO = 'cat_1080p.jpg'
OVERHEAD_LIMIT_MS = 1.0
TOPIC = '/node_bench/image'
#: The module the child runs: this one, with `serve`.
_MODULE = 'mobilenetv1_ros.perf.node_bench'
_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 30.0


class SlowBackend:
    """A real backend that takes `delay_s` longer per frame (a model slower than the camera)."""

    def __init__(self, inner: Backend, delay_s: float) -> None:
        self._inner = inner
        self._delay = delay_s
        self.name = inner.name
        self.model_path = inner.model_path
        self.input_width = inner.input_width
        self.input_height = inner.input_height
        self.num_classes = inner.num_classes

    def infer(self, nv12: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Wait, then run the real model."""
        time.sleep(self._delay)
        return self._inner.infer(nv12)

    def describe(self) -> str:
        """Describe the wrapped backend and the delay."""
        return f'{self._inner.describe()} + {self._delay * 1e3:.0f} ms delay'

    def close(self) -> None:
        """Close the wrapped backend."""
        self._inner.close()


def _serve(samples_path: Path, slow_ms: float, ros_args: Sequence[str]) -> int:
    """Child process: run the node until SIGINT, then write its per-frame stage times."""
    def factory(options: ClassifierOptions) -> Classifier:
        classifier = load_classifier(options)
        if slow_ms > 0:
            classifier.backend = SlowBackend(classifier.backend, slow_ms / 1e3)
        return classifier

    rclpy.init(args=['node_bench', '--ros-args', *ros_args])
    node = ClassifierNode(classifier_factory=factory, stats_history=1_000_000)
    try:
        if not node.start():
            return 1
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        snapshot = node.stats.snapshot()
        offered, result_offered = node.stats.offer_times()
        samples_path.write_text(json.dumps({
            'stages': {stage: node.stats.samples(stage) for stage in STAGES},
            'offered': offered, 'result_offered': result_offered,
            'received': snapshot.received, 'classified': snapshot.classified,
            'dropped': snapshot.dropped, 'rejected': snapshot.rejected,
            'failed': snapshot.failed}))
        rclpy.try_shutdown()
    return 0


@dataclass
class RunResult:
    """What one run measured (milliseconds unless named otherwise)."""

    label: str
    fps: float
    sent: int
    received: int
    classified: int
    dropped: int
    rejected: int
    failed: int
    results_seen: int
    stages: dict[str, list[float]] = field(repr=False)
    stamp_to_result_ms: list[float] = field(repr=False)
    offered: list[float] = field(repr=False, default_factory=list)
    result_offered: list[float] = field(repr=False, default_factory=list)

    def superseded(self) -> tuple[int, list[float]]:
        """Check latest-frame-wins on every result, from the node's own clock.

        Returns:
            How many results started inference after a newer converted frame was waiting (0
            when the node never works through a backlog), and for each result the time from
            its frame being offered to the next frame being offered (the frame period the
            node actually saw), in ms.
        """
        offered = sorted(self.offered)
        late, gaps = 0, []
        for at, wait in zip(self.result_offered, self.stages['wait']):
            index = bisect.bisect_right(offered, at)
            if index == len(offered):
                continue
            gaps.append((offered[index] - at) * 1e3)
            late += offered[index] < at + wait / 1e3 - 1e-4
        return late, gaps

    def median(self, stage: str) -> float:
        """Median of a node stage."""
        return float(np.median(self.stages[stage]))

    def summary(self) -> dict[str, Any]:
        """Return the figures, without the raw samples."""
        stages = {stage: {'p50': round(float(np.percentile(values, 50)), 3),
                          'p95': round(float(np.percentile(values, 95)), 3),
                          'max': round(float(np.max(values)), 3)}
                  for stage, values in self.stages.items() if values}
        data = {key: value for key, value in asdict(self).items()
                if key not in ('stages', 'stamp_to_result_ms', 'offered', 'result_offered')}
        data['stages_ms'] = stages
        if self.stages.get('overhead'):
            data['overhead_before_publish_ms_p50'] = round(float(np.median(
                np.asarray(self.stages['overhead']) - np.asarray(self.stages['publish']))), 3)
        late, gaps = self.superseded()
        data['results_from_superseded_frames'] = late
        if gaps:
            data['frame_gap_at_node_ms'] = {'p50': round(float(np.median(gaps)), 3),
                                            'max': round(float(np.max(gaps)), 3)}
        if self.stamp_to_result_ms:
            data['stamp_to_result_ms'] = {
                'p50': round(float(np.median(self.stamp_to_result_ms)), 3),
                'max': round(float(np.max(self.stamp_to_result_ms)), 3)}
        return data


def run_node(frame: Frame, *, label: str, count: int, fps: float, warmup: int = 5,
             slow_ms: float = 0.0, env: dict[str, str] | None = None) -> RunResult:
    """Start the node, publish `warmup` + `count` copies of a frame at `fps`, collect results.

    Node stage times of the warm-up frames are left out.
    """
    with tempfile.TemporaryDirectory(prefix='node_bench.') as tmp:
        samples_path = Path(tmp) / 'samples.json'
        command = node_command({'publish_overlay': False}, {'image': TOPIC},
                               module=_MODULE,
                               module_args=['serve', '--samples', str(samples_path),
                                            '--slow-ms', str(slow_ms)])
        with ClassifierPeer(TOPIC, name='node_bench_camera') as peer:
            node = NodeProcess(command, Path(tmp) / 'node.log', env)
            try:
                wait_for_subscription(peer, node, _START_TIMEOUT_S)
                warm = publish_every(peer, [frame] * warmup, 1.0 / min(fps, 5.0))
                peer.wait_for(lambda: warm[-1] in peer.results, 10.0)
                stamps = publish_every(peer, [frame] * count, 1.0 / fps)
                peer.wait_for(lambda: stamps[-1] in peer.results, 5.0)
                time.sleep(0.5)
            finally:
                node.stop(timeout=_STOP_TIMEOUT_S)
            ages = [(peer.results[s].wall_ns - s) / 1e6 for s in stamps if s in peer.results]
            seen = sum(1 for s in stamps if s in peer.results)
        data = json.loads(samples_path.read_text())
    skip = sum(1 for s in warm if s in peer.results)
    stages = {stage: values[skip:] for stage, values in data['stages'].items()}
    return RunResult(label=label, fps=fps, sent=count, received=data['received'] - warmup,
                     classified=data['classified'] - skip, dropped=data['dropped'],
                     rejected=data['rejected'], failed=data['failed'], results_seen=seen,
                     stages=stages, stamp_to_result_ms=ages,
                     offered=data['offered'][warmup:],
                     result_offered=data['result_offered'][skip:])


def _frames() -> dict[str, Frame]:
    path = photos_dir() / PHOTO
    if not path.is_file():
        raise SystemExit(f'node_bench: {path} not found')
    photo = read_image(path)
    return {'960x544 nv12': photo_frame(photo, 'nv12', 960, 544),
            '1920x1080 bgr8': photo_frame(photo, 'bgr8', 1920, 1080)}


def _print_overhead(result: RunResult) -> None:
    median = result.median('overhead')
    verdict = 'within' if median <= OVERHEAD_LIMIT_MS else 'OVER'
    print(f'{result.label}: {result.classified} frames at {result.fps:g} fps; node overhead '
          f'median {median:.3f} ms, p95 {np.percentile(result.stages["overhead"], 95):.3f} ms '
          f'({verdict} the {OVERHEAD_LIMIT_MS:g} ms target)')
    before_publish = np.median(np.asarray(result.stages['overhead'])
                               - np.asarray(result.stages['publish']))
    print(f'  up to the publish() call (without the DDS write): median {before_publish:.3f} ms')
    parts = ', '.join(f'{stage} {result.median(stage):.3f}'
                      for stage in ('convert', 'wait', 'postprocess', 'publish', 'infer',
                                    'end_to_end'))
    print(f'  medians (ms): {parts}')


def _print_overload(result: RunResult, slow_ms: float) -> None:
    period = 1e3 / result.fps
    infer = np.asarray(result.stages['infer'])
    age = np.asarray(result.stages['end_to_end'])
    bound = float(np.max(infer)) + period
    over = int(np.sum(age >= bound))
    print(f'overload: {result.sent} frames of 960x544 nv12 at {result.fps:g} fps into a backend '
          f'slowed by {slow_ms:g} ms (inference p50 {np.median(infer):.1f} ms, max '
          f'{np.max(infer):.1f} ms, frame period {period:.1f} ms)')
    print(f'  node: received {result.received}, classified {result.classified}, dropped '
          f'{result.dropped} (latest frame wins), rejected {result.rejected}, failed '
          f'{result.failed}')
    late, gaps = result.superseded()
    gap = np.asarray(gaps)
    spacing = np.diff(sorted(result.offered)) * 1e3
    print(f'  frames the node received: {result.received} of {result.sent} (the rest were '
          f'never reached the node); frame spacing at the node p50 '
          f'{np.median(spacing):.1f} ms, max {np.max(spacing):.1f} ms')
    print(f'  results whose inference started while a newer frame was waiting: {late} of '
          f'{len(gaps)} (latest frame wins)')
    own = age[:gap.size] - infer[:gap.size] - gap
    print(f'  per result, age - its own inference - the time until the next frame came: max '
          f'{np.max(own):.2f} ms (what the node adds)')
    print(f"  age of each result's frame at publish (callback entry to publish): p50 "
          f'{np.median(age):.1f} ms, max {np.max(age):.1f} ms; bound = max inference + one '
          f'period = {bound:.1f} ms; {over} of {age.size} results at or over it')
    if result.stamp_to_result_ms:
        print(f'  camera stamp to result received here (incl. DDS both ways): p50 '
              f'{np.median(result.stamp_to_result_ms):.1f} ms, max '
              f'{np.max(result.stamp_to_result_ms):.1f} ms')


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with `serve`, the instrumented node in the child process)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['serve']:
        parser = argparse.ArgumentParser(prog='node_bench serve')
        parser.add_argument('--samples', type=Path, required=True)
        parser.add_argument('--slow-ms', type=float, default=0.0)
        split = argv.index('--ros-args') if '--ros-args' in argv else len(argv)
        args = parser.parse_args(argv[1:split])
        return _serve(args.samples, args.slow_ms, argv[split + 1:])
    parser = argparse.ArgumentParser(prog=f'python -m {_MODULE}',
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--frames', type=int, default=100,
                        help='frames per overhead run (default: %(default)s)')
    parser.add_argument('--fps', type=float, default=10.0,
                        help='frame rate of the overhead runs (default: %(default)s)')
    parser.add_argument('--overload-frames', type=int, default=150,
                        help='frames of the 30 fps overload run (default: %(default)s)')
    parser.add_argument('--slow-ms', type=float, default=60.0,
                        help='delay added to each inference in the overload run '
                             '(default: %(default)s)')
    parser.add_argument('--json', action='store_true', help='print one JSON document')
    args = parser.parse_args(argv)
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('ROS_LOCALHOST_ONLY', '1')
    frames = _frames()
    results = [run_node(frame, label=label, count=args.frames, fps=args.fps)
               for label, frame in frames.items()]
    overload = run_node(frames['960x544 nv12'], label='overload', count=args.overload_frames,
                        fps=30.0, slow_ms=args.slow_ms)
    if args.json:
        print(json.dumps({'overhead': [r.summary() for r in results],
                          'overload': overload.summary()}, indent=2))
        return 0
    for result in results:
        _print_overhead(result)
    _print_overload(overload, args.slow_ms)
    return 0


if __name__ == '__main__':
    sys.exit(main())
