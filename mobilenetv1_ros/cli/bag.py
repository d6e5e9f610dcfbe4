"""Rosbag2 tools: classify bags offline, replay bags into the ROS graph, record topics.

Subcommands:
  classify     read image topics of a bag, write vision_msgs/Classification per frame to a new
               bag on <image topic>/classification (no DDS; as fast as the backend allows)
  play         publish a bag's messages with their recorded timing (where `ros2 bag play` is
               not installed)
  record       record live topics into a bag (where `ros2 bag record` is not installed)
  make-sample  write the sample bag (nv12 and bgr8 camera frames from the bundled photos) and
               its golden file
  benchmark    offline tool throughput against backend-only throughput, in one run

Bags are written as rosbag2 format version 8 with sqlite3 storage by default, which ROS 2
Humble's `ros2 bag` reads.

SIGINT (Ctrl-C), SIGTERM (systemd, docker stop, timeout) and SIGHUP (closed terminal) stop
classify, play and record the same way: the frames processed so far are written and the bag
is closed with metadata that matches its contents. A third signal exits at once.

Exit codes:
  0    classify: every frame of the bag classified; play: every declared message published;
       record: recording ended by --duration/--count
  1    classify: frames rejected (listed), the input ended in a corrupt region, the input
       yielded fewer messages than its metadata declares or none at all, or the output could
       not be written completely (disk full; the output keeps what was committed and its
       metadata matches); play: fewer messages read than declared, or none; record: the bag
       could not be written completely; any: --summary-json could not be written at the end
  2    bad input, options or output path (nothing was done), including an --overwrite target
       that is not a rosbag2 bag and an unwritable --summary-json
  128+N  stopped by signal N: 130 SIGINT, 143 SIGTERM, 129 SIGHUP (what was done is written)

Examples:
  mobilenetv1-ros bag classify recording/ -o recording_classified/
  mobilenetv1-ros bag classify in.mcap -o out --topics /image_raw --keep-inputs --storage mcap
  mobilenetv1-ros bag make-sample          # prints the cached sample bag's path
  mobilenetv1-ros bag play SAMPLE_BAG --topics /image_raw --remap /image_raw:=/image --loop
  mobilenetv1-ros bag record results/ /classification --duration 10
  mobilenetv1-ros bag benchmark
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mobilenetv1_ros.cli.options import add_pipeline_arguments, options_from_args
from mobilenetv1_ros.console.progress import progress_bar
from mobilenetv1_ros.console.signals import run_stoppable, signal_name

if TYPE_CHECKING:
    from mobilenetv1_ros.bag.offline import FrameResult
    from mobilenetv1_ros.console.signals import StopSignals

#: Default bounded wait of `bag play` for subscribers: long enough for a node that starts
#: with the player to come up and be discovered, short enough not to stall a replay nobody
#: listens to.
WAIT_FOR_SUBSCRIBERS_S = 10.0

__all__ = ['add_arguments', 'run']


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the bag subcommands."""
    commands = parser.add_subparsers(dest='bag_command', metavar='BAG_COMMAND', required=True)

    classify = commands.add_parser('classify', help='classify the image topics of a bag',
                                   description="Classify every frame of a bag's image topics "
                                   'and write vision_msgs/Classification messages to a new bag.')
    classify.add_argument('input', type=Path, help='rosbag2 bag: directory, .db3 or .mcap')
    classify.add_argument('-o', '--output', type=Path, required=True,
                          help='bag to create (must not exist unless --overwrite)')
    classify.add_argument('--topics', nargs='+', default=[], metavar='TOPIC',
                          help='image topics to classify (default: every sensor_msgs/Image and '
                               'CompressedImage topic)')
    classify.add_argument('--keep-inputs', action='store_true',
                          help='also copy the classified image topics into the output bag')
    _add_storage(classify)
    classify.add_argument('--overwrite', action='store_true',
                          help='replace an existing output bag')
    classify.add_argument('--progress', action=argparse.BooleanOptionalAction, default=None,
                          help='draw a progress bar (default: when stderr is a terminal)')
    classify.add_argument('--summary-json', type=Path, default=None, metavar='PATH',
                          help='also write the summary as JSON to PATH')
    classify.add_argument('-v', '--verbose', action='store_true',
                          help="print every frame's result (stamp, top-3)")
    add_pipeline_arguments(classify)
    classify.set_defaults(bag_run=_classify)

    play = commands.add_parser('play', help='publish a bag into the ROS graph',
                               description="Publish a bag's messages with their recorded "
                               "timing (the pip environment's `ros2 bag play`).")
    play.add_argument('bag', type=Path, help='rosbag2 bag: directory, .db3 or .mcap')
    play.add_argument('--topics', nargs='+', default=[], metavar='TOPIC',
                      help='bag topics to publish (default: all)')
    play.add_argument('--remap', nargs='+', default=[], metavar='FROM:=TO',
                      help='publish bag topic FROM on TO')
    play.add_argument('-r', '--rate', type=float, default=1.0,
                      help='speed factor of the recorded timing (default: %(default)s)')
    loop = play.add_mutually_exclusive_group()
    loop.add_argument('-l', '--loop', action='store_true', help='repeat until Ctrl-C')
    loop.add_argument('--loops', type=int, default=1, metavar='N',
                      help='times to play the bag (default: %(default)s)')
    play.add_argument('--qos-depth', type=int, default=10, metavar='N',
                      help='history depth of each publisher; a reliable subscriber that falls '
                           'further behind loses frames (default: %(default)s)')
    play.add_argument('--wait-for-subscribers', type=float, default=WAIT_FOR_SUBSCRIBERS_S,
                      metavar='S',
                      help='wait up to S seconds for a subscriber on every topic before '
                           'starting, then play anyway; 0 starts at once (default: '
                           '%(default)s: a node started just before the player gets the '
                           'whole bag)')
    play.set_defaults(bag_run=_play)

    record = commands.add_parser('record', help='record topics into a bag',
                                 description='Record live topics into a new bag (the pip '
                                 "environment's `ros2 bag record`).")
    record.add_argument('output', type=Path, help='bag to create')
    record.add_argument('topics', nargs='+', metavar='TOPIC', help='topics to record')
    record.add_argument('--type', dest='types', nargs='+', default=[], metavar='TOPIC:=TYPE',
                        help='message type of a topic (default: discovered from the graph)')
    record.add_argument('--duration', type=float, default=0.0, metavar='S',
                        help='stop after S seconds (default: at Ctrl-C)')
    record.add_argument('--count', type=int, default=0, metavar='N',
                        help='stop after N messages in all (default: no limit)')
    record.add_argument('--discovery-timeout', type=float, default=10.0, metavar='S',
                        help='seconds to wait for the topics to appear (default: %(default)s)')
    _add_storage(record)
    record.add_argument('--overwrite', action='store_true', help='replace an existing bag')
    record.set_defaults(bag_run=_record)

    sample = commands.add_parser('make-sample', help='write the sample bag and golden file',
                                 description='Write the sample bag: 3 s of nv12 960x544 and '
                                 'bgr8 640x480 frames at 30 fps made from the bundled photos. '
                                 'Without OUTPUT, make sure the cached copy exists and print '
                                 'its path.')
    sample.add_argument('output', type=Path, nargs='?', default=None,
                        help='bag to create (default: the cached sample bag)')
    _add_storage(sample)
    sample.add_argument('--golden', type=Path, default=None, metavar='PATH',
                        help='also write the golden file (expected top-1 per frame) to PATH')
    sample.add_argument('--overwrite', action='store_true', help='replace an existing bag')
    sample.set_defaults(bag_run=_make_sample)

    bench = commands.add_parser('benchmark', help='offline tool vs backend-only throughput',
                                description='Measure backend-only throughput and the offline '
                                "tool's throughput on the same bag in the same run.")
    bench.add_argument('bag', type=Path, nargs='?', default=None,
                       help='bag to classify (default: the sample bag)')
    bench.add_argument('--topics', nargs='+', default=[], metavar='TOPIC',
                       help='image topics (default: all)')
    bench.add_argument('--repeats', type=int, default=9, metavar='N',
                       help='pairs of runs (backend-only and offline, the order flipping '
                            'from pair to pair) (default: %(default)s)')
    bench.add_argument('--min-ratio', type=float, default=0.0, metavar='R',
                       help='exit 1 when the verdict (median offline / backend-only ratio of '
                            'the pairs no other process disturbed, if at least 3, else of all '
                            'pairs) is below R (default: none)')
    bench.add_argument('--json', action='store_true', help='print the figures as JSON')
    add_pipeline_arguments(bench)
    bench.set_defaults(bag_run=_benchmark)


def _add_storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--storage', default='sqlite3', choices=['sqlite3', 'mcap'],
                        help='storage of the written bag; sqlite3 is what ROS 2 Humble reads '
                             'without plugins (default: %(default)s)')


def run(args: argparse.Namespace) -> int:
    """Run the chosen bag subcommand; SIGINT, SIGTERM and SIGHUP stop it cleanly."""
    # A signal outside a polled section (loading the model, discovery) ends the command
    # before anything was written; inside one (reading, writing) it ends it between frames.
    return run_stoppable(lambda signals: args.bag_run(args, signals),
                         f'mobilenetv1-ros bag {args.bag_command}')


def _print_result(result: FrameResult) -> None:
    seconds, nanoseconds = divmod(result.stamp_ns, 1_000_000_000)
    top = ', '.join(f'{p.label.split(",")[0]} {p.score:.3f}' for p in result.predictions[:3])
    print(f'{result.topic} {seconds}.{nanoseconds:09d}: {top}', flush=False)


def _check_summary_path(path: Path | None) -> None:
    """Fail before any work when the summary file cannot be created or appended to.

    Raises:
        BagError: The path is a directory, its directory is missing, or it is not writable.
    """
    from mobilenetv1_ros.bag.errors import BagError

    if path is None:
        return
    existed = path.exists()
    try:
        # O_NONBLOCK: a FIFO nobody reads fails at once (ENXIO) instead of blocking here.
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o644))
    except OSError as error:
        raise BagError(f'Summary file {path} cannot be written: '
                       f'{error.strerror or error}') from None
    if not existed:
        path.unlink(missing_ok=True)


def _write_summary(path: Path, data: dict[str, Any]) -> bool:
    try:
        path.write_text(json.dumps(data, indent=2) + '\n', encoding='utf-8')
    except OSError as error:
        print(f'mobilenetv1-ros bag classify: error: summary file {path} cannot be written: '
              f'{error.strerror or error}', file=sys.stderr)
        return False
    return True


def _classify(args: argparse.Namespace, signals: StopSignals) -> int:
    from mobilenetv1_ros.bag.bagio import check_output, image_connections, open_reader
    from mobilenetv1_ros.bag.offline import BagClassifyOptions, classify_bag
    from mobilenetv1_ros.loading import load_classifier

    reader = open_reader(args.input, warn=False)
    try:
        image_connections(reader, args.topics)
    finally:
        reader.close()
    check_output(args.output, overwrite=args.overwrite, inputs=[args.input])
    _check_summary_path(args.summary_json)
    classifier = load_classifier(options_from_args(args))
    # From here on a signal only sets signals.event: the run stops between frames, writes
    # what was done and closes the output bag.
    with signals.polling():
        try:
            summary = classify_bag(
                args.input, args.output, classifier,
                BagClassifyOptions(topics=args.topics, keep_inputs=args.keep_inputs,
                                   storage=args.storage, overwrite=args.overwrite),
                progress=progress_bar(enabled=args.progress),
                on_result=_print_result if args.verbose else None, stop=signals.event)
        finally:
            classifier.close()
        if summary.interrupted:
            summary.signal = signals.signum
        print(summary.format(), flush=True)
        written = args.summary_json is None or _write_summary(args.summary_json,
                                                              summary.to_dict())
        for problem in summary.problems():
            print(f'mobilenetv1-ros bag classify: error: {problem}', file=sys.stderr)
        code = summary.exit_code
        return 1 if code == 0 and not written else code


def _ros_session(name: str, stop: threading.Event) -> tuple[Any, Any, threading.Thread]:
    """Start rclpy, a node and a spinning executor; `stop` is set when ROS shuts down.

    rclpy's own SIGINT/SIGTERM handlers are not installed: they would shut the context down
    under the player and the recorder; `stop_signals()` handles the signals instead. rclpy
    gets no command line: it would read `--type /topic:=pkg/msg/Type` as a remap rule.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    args = [sys.argv[0]]
    try:
        from rclpy.signals import SignalHandlerOptions

        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except (ImportError, TypeError):  # an rclpy without signal handler options
        rclpy.init(args=args)
    rclpy.get_default_context().on_shutdown(stop.set)
    node = rclpy.create_node(name)
    executor = SingleThreadedExecutor()
    executor.add_node(node)

    def spin() -> None:
        try:
            executor.spin()
        except ExternalShutdownException:
            stop.set()

    thread = threading.Thread(target=spin, name='bag-executor', daemon=True)
    thread.start()
    return node, executor, thread


def _end_ros_session(node: Any, executor: Any, thread: threading.Thread) -> None:
    import rclpy

    executor.shutdown()
    thread.join(timeout=5.0)
    node.destroy_node()
    rclpy.try_shutdown()


def _play(args: argparse.Namespace, signals: StopSignals) -> int:
    from mobilenetv1_ros.bag.player import BagPlayer, PlayOptions, parse_remaps

    options = PlayOptions(topics=args.topics, remap=parse_remaps(args.remap), rate=args.rate,
                          loops=0 if args.loop else args.loops, qos_depth=args.qos_depth)
    stop = signals.event
    node, executor, thread = _ros_session('mobilenetv1_bag_player', stop)
    try:
        player = BagPlayer(node, args.bag, options)
        with signals.polling():
            try:
                if args.wait_for_subscribers > 0 and not player.wait_for_subscribers(
                        args.wait_for_subscribers, stop=stop) and not stop.is_set():
                    print(f'warning: not every topic has a subscriber after '
                          f'{args.wait_for_subscribers:g} s; playing anyway', file=sys.stderr)
                print(f'Playing {args.bag}: {player.message_count} messages on '
                      f'{", ".join(player.topics)} at rate {args.rate:g}', file=sys.stderr)
                stats = player.play(stop)
            finally:
                player.close()
    finally:
        _end_ros_session(node, executor, thread)
    counts = ', '.join(f'{topic} {count}' for topic, count in sorted(stats.published.items()))
    print(f'Published {stats.total} messages in {stats.seconds:.2f} s ({counts or "none"}); '
          f'{stats.loops} loop(s); max lag {stats.max_lag_ms:.1f} ms', file=sys.stderr)
    if signals.signum is not None:
        print(f'Stopped by {signal_name(signals.signum)}', file=sys.stderr)
        return signals.exit_code or 130
    problems = player.shortfall(stats)
    for problem in problems:
        print(f'mobilenetv1-ros bag play: error: {problem}', file=sys.stderr)
    return 1 if problems else 0


def _record(args: argparse.Namespace, signals: StopSignals) -> int:
    from mobilenetv1_ros.bag.errors import BagError
    from mobilenetv1_ros.bag.player import parse_remaps
    from mobilenetv1_ros.bag.recorder import BagRecorder, discover_types

    given = parse_remaps(args.types)
    stop = signals.event
    error: BagError | None = None
    node, executor, thread = _ros_session('mobilenetv1_bag_recorder', stop)
    try:
        undiscovered = [t for t in args.topics if t not in given]
        types = {node.resolve_topic_name(t): m for t, m in given.items()}
        if undiscovered:
            types.update(discover_types(node, undiscovered, args.discovery_timeout))
        unknown = [t for t in given if t not in args.topics]
        if unknown:
            raise BagError(f'--type names topics that are not recorded: {", ".join(unknown)}')
        # From here on a signal only sets `stop`: the bag is always closed with metadata.
        with signals.polling():
            recorder = BagRecorder(node, args.output, types, storage=args.storage,
                                   overwrite=args.overwrite)
            print(f'Recording {", ".join(types)} into {args.output} (Ctrl-C stops)',
                  file=sys.stderr)
            start = time.monotonic()
            while ((args.duration <= 0 or time.monotonic() - start < args.duration)
                   and (args.count <= 0 or recorder.total < args.count)
                   and not recorder.failed.is_set()):
                if stop.wait(0.02):
                    break
            try:
                recorder.close()
            except BagError as failure:
                error = failure
    finally:
        _end_ros_session(node, executor, thread)
    counts = ', '.join(f'{t} {n}' for t, n in sorted(recorder.counts.items()))
    print(f'Recorded {recorder.total} messages into {args.output} ({counts or "none"})',
          file=sys.stderr)
    if error is not None:
        print(f'mobilenetv1-ros bag record: error: {error}', file=sys.stderr)
    if signals.signum is not None:
        print(f'Stopped by {signal_name(signals.signum)}', file=sys.stderr)
        return signals.exit_code or 130
    return 1 if error is not None else 0


def _make_sample(args: argparse.Namespace, _signals: StopSignals) -> int:
    from mobilenetv1_ros.bag.bagio import prepare_output
    from mobilenetv1_ros.bag.sample import make_sample_bag, sample_bag, write_golden

    if args.output is None:
        path = sample_bag(args.storage)
    else:
        prepare_output(args.output, overwrite=args.overwrite)
        path = make_sample_bag(args.output, args.storage)
    if args.golden is not None:
        write_golden(args.golden)
        print(f'golden file: {args.golden}', file=sys.stderr)
    print(path)
    return 0


def _rounded(values: tuple[float | None, ...]) -> list[float | None]:
    return [None if value is None else round(value, 3) for value in values]


def _benchmark(args: argparse.Namespace, _signals: StopSignals) -> int:
    from mobilenetv1_ros.bag.benchmark import run_benchmark
    from mobilenetv1_ros.bag.sample import sample_bag
    from mobilenetv1_ros.loading import load_classifier

    bag = args.bag if args.bag is not None else sample_bag()
    classifier = load_classifier(options_from_args(args))
    try:
        result = run_benchmark(bag, classifier, repeats=args.repeats, topics=args.topics)
    finally:
        classifier.close()
    if args.json:
        print(json.dumps({'bag': str(result.bag), 'frames': result.frames,
                          'backend': result.backend,
                          'backend_fps': round(result.backend_fps, 2),
                          'offline_fps': round(result.offline_fps, 2),
                          'ratio': round(result.ratio, 4),
                          'ratio_spread': [round(x, 4) for x in result.spread],
                          'quiet_ratios': [round(x, 4) for x in result.quiet_ratios],
                          'verdict': round(result.verdict, 4),
                          'backend_runs': [round(x, 2) for x in result.backend_runs],
                          'offline_runs': [round(x, 2) for x in result.offline_runs],
                          'backend_cpu_ms_per_frame': [round(x, 3) for x in result.backend_cpu],
                          'offline_cpu_ms_per_frame': [round(x, 3) for x in result.offline_cpu],
                          'load_average': [round(x, 2) for x in result.load],
                          'backend_other_cores': _rounded(result.backend_foreign),
                          'offline_other_cores': _rounded(result.offline_foreign)},
                         indent=2))
    else:
        print(result.format())
    if args.min_ratio and result.verdict < args.min_ratio:
        print(f'mobilenetv1-ros bag benchmark: error: ratio {result.verdict:.3f} is below '
              f'{args.min_ratio}', file=sys.stderr)
        return 1
    return 0
