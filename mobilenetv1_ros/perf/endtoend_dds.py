"""The DDS side of perf.endtoend: the node process, the camera, the timed frames."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from std_msgs.msg import Header

from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.harness.frames import photo_frame
from mobilenetv1_ros.harness.peer import ClassifierPeer
from mobilenetv1_ros.harness.process import NodeProcess, node_command, wait_for_subscription
from mobilenetv1_ros.perf.machine import latency_stats
from mobilenetv1_ros.procfs.procstat import read_threads
from mobilenetv1_ros.procfs.thread_roles import role_cpu
from mobilenetv1_ros.ros.convert import frame_msg, stamp_from_ns

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np
    import numpy.typing as npt

__all__ = ['NAMESPACE', 'run_node']

#: Namespace the benchmarked node runs in; its input is <NAMESPACE>/image.
NAMESPACE = '/mobilenetv1_benchmark'
_START_TIMEOUT_S = 90.0
_RESULT_TIMEOUT_S = 10.0
_WARMUP_FRAMES = 3


class _NodeExited(Exception):
    """The node process ended during the measurement."""


def run_node(parameters: dict[str, Any], image: npt.NDArray[np.uint8],
             sizes: Sequence[tuple[int, int]], encodings: Sequence[str], frames: int,
             say: Callable[[str], None]) -> dict[str, Any]:
    """Start the node with `parameters` and time every encoding and size (see perf.endtoend)."""
    command = node_command(parameters, namespace=NAMESPACE, log_level='warn')
    log_path = Path(os.environ['ROS_HOME']) / 'benchmark-node.log'
    with ClassifierPeer(f'{NAMESPACE}/image', node_namespace=NAMESPACE, reliability='reliable',
                        depth=1, name='mobilenetv1_benchmark_camera') as peer, \
            NodeProcess(command, log_path) as node:
        try:
            wait_for_subscription(peer, node, _START_TIMEOUT_S, 'reliable')
        except ConfigError as error:
            return {'skipped': f'the node did not come up: {error}'}
        runs = []
        try:
            for encoding in encodings:
                for width, height in sizes:
                    say(f'node: {encoding} {width}x{height}')
                    runs.append(_run(peer, node, image, encoding, width, height, frames))
        except _NodeExited:
            return {'skipped': f'the node exited ({node.returncode}): {node.tail(15)}'}
    rmw = os.environ.get('RMW_IMPLEMENTATION') or 'default RMW'
    return {
        'runs': runs,
        'node': ' '.join(command[1:]),
        'parameters': parameters,
        'description': (f'Node `{" ".join(["python", *command[1:]])}` in its own process, '
                        f'{rmw}, loopback only; one frame in flight; time from publish() to '
                        'the Classification with the same stamp arriving; node CPU per frame '
                        'by thread role from /proc over the timed frames.'),
    }


def _run(peer: ClassifierPeer, node: NodeProcess, image: npt.NDArray[np.uint8], encoding: str,
         width: int, height: int, frames: int) -> dict[str, Any]:
    """Time `frames` frames of one encoding and size, after a few untimed ones.

    Raises:
        _NodeExited: The node process ended.
    """
    msg = frame_msg(photo_frame(image, encoding, width, height), Header(frame_id='camera'))
    samples: list[float] = []
    sent = received = 0
    threads_start = None
    for index in range(frames + _WARMUP_FRAMES):
        timed = index >= _WARMUP_FRAMES
        if index == _WARMUP_FRAMES:
            threads_start = read_threads(node.pid)
        stamp = peer.now_ns()
        msg.header.stamp = stamp_from_ns(stamp)
        start = time.monotonic()
        peer.publish_msg(msg)
        sent += int(timed)
        if peer.wait_result(stamp, _RESULT_TIMEOUT_S) is None:
            if not node.running():
                raise _NodeExited(node.returncode)
            continue
        if timed:
            received += 1
            samples.append((peer.results[stamp].monotonic - start) * 1e3)
    threads_end = read_threads(node.pid)
    run: dict[str, Any] = {'encoding': encoding, 'width': width, 'height': height,
                           'sent': sent, 'received': received, 'ms': latency_stats(samples)}
    if threads_start is not None and threads_end is not None:
        run['thread_cpu'] = role_cpu(threads_start, threads_end).as_dict(received)
    return run
