"""Run the classifier node on the bundled model and replay the sample bag into it.

Starts the node (`python -m mobilenetv1_ros.node`) in a child process in the namespace
/mobilenetv1_demo and replays the sample bag into it with the bag player (3 s of 30 fps camera
frames made from the bundled photos: nv12 960x544 like the RDK X5 camera, and bgr8 640x480;
generated into the cache on first use) at camera rate. Prints each result as it arrives
(stamp, top-3 names and scores, and whether the top-1 is the class of the photo in the frame)
and a summary: frames in and out, frames the node dropped (latest frame wins), latency
p50/p95 from publishing a frame to receiving its result, and the node's own figures.
Exits 0 when every frame has a result or was counted as dropped by the node, every result
names the photo's class, and the node stopped cleanly.

DDS stays on this machine: ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST is set unless already set
(scripts/demo.sh also picks a free ROS_DOMAIN_ID and a temporary ROS_HOME).

Examples:
  mobilenetv1-ros demo
  mobilenetv1-ros demo --topics all --rate 0.5    # both cameras, half camera rate
  mobilenetv1-ros demo --backend bpu              # on the RDK X5
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mobilenetv1_ros.cli.options import add_pipeline_arguments
from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.core.stamps import stamp_ns
from mobilenetv1_ros.harness.process import NodeProcess, node_command, wait_for_subscription

if TYPE_CHECKING:
    import argparse

    from vision_msgs.msg import Classification

    from mobilenetv1_ros.bag.player import BagPlayer, PlayStats, Published
    from mobilenetv1_ros.harness.peer import ClassifierPeer

__all__ = ['add_arguments', 'run']

NAMESPACE = '/mobilenetv1_demo'
TOPIC = f'{NAMESPACE}/image_raw'
#: Sample bag topics: the RDK X5 camera (nv12) and a USB/RGB-D camera (bgr8).
BAG_TOPICS = ('/image_raw', '/camera/color/image_raw')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the demo arguments."""
    parser.add_argument('--topics', nargs='+', default=['/image_raw'], metavar='TOPIC',
                        help='image topics of the bag to replay, or "all"; the sample bag has '
                             f'{" and ".join(BAG_TOPICS)} (default: %(default)s, the nv12 '
                             'camera)')
    parser.add_argument('--rate', type=float, default=1.0,
                        help='replay speed; 1.0 = the recorded 30 fps (default: %(default)s)')
    parser.add_argument('--bag', type=Path, default=None, metavar='PATH',
                        help="replay this bag's image topics instead of the sample bag "
                             '(no expected classes then; --topics names its topics)')
    add_pipeline_arguments(parser, names=('backend',))
    parser.add_argument('--timeout', type=float, default=60.0, metavar='S',
                        help='seconds to wait for the node to start (default: %(default)s)')


def _percentiles(values: list[float]) -> str:
    if not values:
        return 'n/a'
    p50, p95 = np.percentile(values, (50, 95))
    return f'p50 {p50:.1f} ms, p95 {p95:.1f} ms'


def run(args: argparse.Namespace) -> int:
    """Start the node, replay the bag into it, print results and a summary."""
    if args.rate <= 0:
        raise ConfigError(f'--rate {args.rate} must be positive')
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('ROS_LOCALHOST_ONLY', '1')
    # Imported here: the peer loads rclpy and the bag tools rosbags; other subcommands do not.
    from mobilenetv1_ros.bag.sample import sample_bag
    from mobilenetv1_ros.harness.peer import ClassifierPeer

    if args.bag is None:
        print('[demo] sample bag (generated on first use): ', end='', flush=True)
        bag = sample_bag()
        print(bag)
    else:
        bag = args.bag
    topics = _topics(bag, args.topics)
    command = node_command({'backend': args.backend}, {'image': TOPIC}, namespace=NAMESPACE)
    print(f'[demo] starting the node: {" ".join(command)}', flush=True)
    with tempfile.TemporaryDirectory(prefix='mobilenetv1-demo.') as tmp, \
            ClassifierPeer(TOPIC, node_namespace=NAMESPACE, name='demo_camera') as peer:
        node = NodeProcess(command, Path(tmp) / 'node.log')
        code = 1
        try:
            code = _replay(args, peer, node, bag, topics)
        finally:
            node_code = node.stop(signal.SIGINT)
            if node_code != 0:
                print(f'[demo] the node exited with code {node_code}; its output:\n'
                      f'{node.log()}', file=sys.stderr)
                code = 1
        return code


def _topics(bag: Path, requested: list[str]) -> list[str]:
    """Return the bag's image topics to replay ('all' = every image topic)."""
    from mobilenetv1_ros.bag.bagio import image_connections, open_reader

    reader = open_reader(bag)
    try:
        wanted = [] if requested == ['all'] else requested
        return sorted({c.topic for c in image_connections(reader, wanted)})
    finally:
        reader.close()


class _Replay:
    """What was published (stamp -> wall time, topic) and the expected classes."""

    def __init__(self, expected: dict[tuple[str, int], dict[str, Any]]) -> None:
        from mobilenetv1_ros.bag.messages import typestore

        self._store = typestore()
        self.expected = expected
        self.sent: list[tuple[int, str, int]] = []
        self.lock = threading.Lock()

    def on_publish(self, published: Published) -> None:
        message: Any = self._store.deserialize_cdr(published.data, published.msgtype)
        header = message.header
        with self.lock:
            self.sent.append((stamp_ns(header.stamp), published.bag_topic, published.wall_ns))


def _replay(args: argparse.Namespace, peer: ClassifierPeer, node: NodeProcess, bag: Path,
            topics: list[str]) -> int:
    from mobilenetv1_ros.bag.player import BagPlayer, PlayOptions
    from mobilenetv1_ros.bag.sample import expected_frames

    expected = ({} if args.bag is not None else
                {(f['topic'], f['stamp_ns']): f for f in expected_frames()})
    replay = _Replay(expected)
    player = BagPlayer(peer.node, bag, PlayOptions(topics=topics,
                                                   remap={t: TOPIC for t in topics},
                                                   rate=args.rate),
                       on_publish=replay.on_publish)
    try:
        return _stream(args, peer, node, player, replay, topics)
    finally:
        player.close()


def _stream(args: argparse.Namespace, peer: ClassifierPeer, node: NodeProcess,
            player: BagPlayer, replay: _Replay, topics: list[str]) -> int:
    peer.subscribe_info()
    try:
        # Until the node has seen a reliable camera it listens best effort, which loses large
        # frames; it switches within half a second.
        wait_for_subscription(peer, node, args.timeout, 'reliable')
    except ConfigError as error:
        print(f'[demo] {error}\n{node.log()}', file=sys.stderr)
        return 1
    player.wait_for_subscribers(5.0)
    peer.wait_for(lambda: bool(peer.label_info), 5.0)
    names = [c.class_name for c in peer.label_info[-1].msg.class_map] if peer.label_info else []
    for line in node.log().splitlines():
        if 'Loaded' in line:
            print(f'[demo] {line.split("]: ", 1)[-1]}')
    print(f'[demo] replaying {player.message_count} frames of {player.bag} '
          f'({", ".join(topics)}) onto {TOPIC} at {args.rate:g}x the recorded 30 fps')
    stats: list[PlayStats] = []
    thread = threading.Thread(target=lambda: stats.append(player.play()), name='demo-player')
    thread.start()
    printed: set[int] = set()
    while thread.is_alive():
        _print_ready(peer, replay, printed, names)
        thread.join(0.02)
    with replay.lock:
        sent = list(replay.sent)
    stamps = {stamp for stamp, _, _ in sent}
    diagnostics = peer.wait_diagnostics(
        lambda v: int(v.get('frames_received', 0)) >= len(sent)
        and int(v.get('frames_classified', 0)) + int(v.get('frames_dropped', 0))
        + int(v.get('frames_rejected', 0)) + int(v.get('frames_failed', 0))
        >= int(v.get('frames_received', 0)), 5.0) or peer.latest_diagnostics()
    peer.wait_for(lambda: sum(s in peer.results for s in stamps)
                  >= int(diagnostics.get('frames_classified', len(sent))), 3.0)
    _print_ready(peer, replay, printed, names)
    return _summary(peer, replay, sent, diagnostics)


def _describe(result: Classification, names: list[str]) -> str:
    parts = []
    for hypothesis in result.results[:3]:
        index = int(hypothesis.class_id)
        name = names[index].split(',')[0] if index < len(names) else f'class {index}'
        parts.append(f'{name} {hypothesis.score:.2f}')
    return ' | '.join(parts)


def _verdict(replay: _Replay, topic: str, stamp: int, result: Classification) -> str:
    expected = replay.expected.get((topic, stamp))
    if expected is None:
        return ''
    top = int(result.results[0].class_id) if result.results else None
    return 'ok' if top == expected['class_id'] else f'EXPECTED {expected["label"]}'


def _print_ready(peer: ClassifierPeer, replay: _Replay, printed: set[int],
                 names: list[str]) -> None:
    with replay.lock:
        sent = list(replay.sent)
    for index, (stamp, topic, _) in enumerate(sent, start=1):
        if stamp in peer.results and stamp not in printed:
            printed.add(stamp)
            result = peer.results[stamp].msg
            photo = replay.expected.get((topic, stamp), {}).get('photo', '')
            print(f'{index:3d}  {stamp / 1e9:.3f}  {topic:24s} {photo:12s} '
                  f'{_describe(result, names):50s} {_verdict(replay, topic, stamp, result)}',
                  flush=True)


def _summary(peer: ClassifierPeer, replay: _Replay, sent: list[tuple[int, str, int]],
             diagnostics: dict[str, str]) -> int:
    results = {stamp: peer.results[stamp] for stamp, _, _ in sent if stamp in peer.results}
    latencies = [(results[stamp].wall_ns - wall) / 1e6 for stamp, _, wall in sent
                 if stamp in results]
    counted = {key: int(diagnostics.get(f'frames_{key}', 0))
               for key in ('received', 'classified', 'dropped', 'rejected', 'failed')}
    missing = len(sent) - len(results)
    explained = counted['dropped'] + counted['rejected'] + counted['failed']
    wrong = [stamp for stamp, topic, _ in sent if stamp in results
             and _verdict(replay, topic, stamp, results[stamp].msg).startswith('EXPECTED')]
    print(f'[demo] summary: frames in {len(sent)}, results out {len(results)}, dropped by the '
          f'node (latest frame wins) {counted["dropped"]}, rejected {counted["rejected"]}, '
          f'failed {counted["failed"]}; node received {counted["received"]}')
    print(f'[demo] latency, frame published -> result received: {_percentiles(latencies)}')
    if diagnostics:
        print(f'[demo] node: callback -> publish p50 {diagnostics.get("end_to_end_ms_p50")} '
              f'ms, p95 {diagnostics.get("end_to_end_ms_p95")} ms; inference p50 '
              f'{diagnostics.get("infer_ms_p50")} ms; backend {diagnostics.get("backend")}')
    if replay.expected:
        print(f"[demo] top-1 is the photo's class in {len(results) - len(wrong)} of "
              f'{len(results)} results')
    ok = bool(results) and not wrong and missing == explained
    if missing != explained:
        print(f'[demo] {missing} frames have no result but the node counted {explained} '
              'dropped/rejected/failed: frames were lost before reaching it', file=sys.stderr)
    return 0 if ok else 1
