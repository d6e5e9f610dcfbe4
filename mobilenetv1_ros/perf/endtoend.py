"""The node end to end over DDS: image published -> classification received, per frame size.

Starts the classifier node (`python -m mobilenetv1_ros.node`) as a subprocess on loopback only
(ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, ROS_LOCALHOST_ONLY=1, a reserved ROS_DOMAIN_ID and a
temporary ROS_HOME unless already set), plays the camera with ros.client.ClassifierPeer and
times every frame from just before publish to the arrival of the classification with its
stamp. One frame is in flight at a time, so each figure is a latency, not a queueing delay.
This module imports rclpy (through ros.client) only inside measure_node.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.harness.loopback import isolate_ros
from mobilenetv1_ros.perf.machine import latency_stats

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np
    import numpy.typing as npt

    from mobilenetv1_ros.options import ClassifierOptions

__all__ = ['NAMESPACE', 'isolate_ros', 'measure_node', 'node_parameters']

#: Namespace the benchmarked node runs in; its input is <NAMESPACE>/image.
NAMESPACE = '/mobilenetv1_benchmark'
_START_TIMEOUT_S = 90.0
_RESULT_TIMEOUT_S = 10.0
_WARMUP_FRAMES = 3
def node_parameters(spec: str, base: ClassifierOptions) -> dict[str, Any]:
    """Return the node parameters that run the model a spec names with the base options.

    Raises:
        ConfigError: The spec names a peer runtime, which the node cannot run.
    """
    from mobilenetv1_ros.perf.subjects import PEER_NAMES, PRECISIONS, parse_spec

    name, argument = parse_spec(spec)
    if name in PEER_NAMES:
        raise ConfigError(f'Model spec {spec!r} is a peer runtime; the node runs auto, bpu or '
                          'onnx')
    parameters: dict[str, Any] = {
        'backend': name, 'crop': base.crop, 'interpolation': base.interpolation,
        'num_threads': base.num_threads, 'publish_overlay': False, 'reliability': 'reliable',
        'top_k': base.top_k,
    }
    if argument in PRECISIONS:
        parameters['precision'] = argument
    elif argument:
        parameters['model_path'] = argument
    if base.labels_path:
        parameters['labels_path'] = base.labels_path
    return parameters


def _stop(process: subprocess.Popen[bytes]) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    return process.returncode


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return '\n'.join(path.read_text(errors='replace').splitlines()[-lines:])
    except OSError:
        return ''


def measure_node(spec: str, base: ClassifierOptions, image: npt.NDArray[np.uint8],
                 sizes: Sequence[tuple[int, int]], encodings: Sequence[str], frames: int,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Start the node and time publish -> classification for every encoding and frame size.

    Args:
        spec: The model the node runs ('onnx:int8', 'bpu', ...).
        base: Pipeline options (crop, interpolation, threads, labels).
        image: The BGR photo the frames are made from.
        sizes: Frame sizes (width, height).
        encodings: Raw encodings published (bgr8, nv12, ...).
        frames: Timed frames per size and encoding (after a few untimed ones).
        log: Progress messages.

    Returns:
        {'runs': [...], 'description': ..., 'node': ...}, or {'skipped': reason} when the node
        module or rclpy is missing or the node does not come up.
    """
    say = log or (lambda message: None)
    created_home = isolate_ros()
    try:
        try:
            from mobilenetv1_ros.harness.peer import ClassifierPeer
            from mobilenetv1_ros.harness.process import node_command
            from mobilenetv1_ros.harness.frames import photo_frame
            from mobilenetv1_ros.ros.convert import frame_msg
        except ImportError as error:
            return {'skipped': f'rclpy or the ROS message packages do not import: {error}'}
        try:
            import mobilenetv1_ros.node  # noqa: F401 - checks the node is there
        except ImportError as error:
            return {'skipped': f'the node module mobilenetv1_ros.node does not import: {error}'}
        parameters = node_parameters(spec, base)
        command = node_command(parameters, namespace=NAMESPACE, log_level='warn')
        log_path = Path(os.environ['ROS_HOME']) / 'benchmark-node.log'
        with log_path.open('wb') as log_file:
            process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                       env=dict(os.environ))
        try:
            return _measure(process, log_path, command, parameters, image, sizes, encodings,
                            frames, say, ClassifierPeer, photo_frame, frame_msg)
        finally:
            _stop(process)
    finally:
        if created_home is not None:
            shutil.rmtree(created_home, ignore_errors=True)


def _measure(process: subprocess.Popen[bytes], log_path: Path, command: list[str],
             parameters: dict[str, Any], image: npt.NDArray[np.uint8],
             sizes: Sequence[tuple[int, int]], encodings: Sequence[str], frames: int,
             say: Callable[[str], None], peer_type: Any, photo_frame: Any,
             frame_msg: Any) -> dict[str, Any]:
    from std_msgs.msg import Header

    from mobilenetv1_ros.ros.convert import stamp_from_ns

    runs = []
    with peer_type(f'{NAMESPACE}/image', node_namespace=NAMESPACE, reliability='reliable',
                   depth=1, name='mobilenetv1_benchmark_camera') as peer:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not peer.wait_for_node(timeout=1.0):
            if process.poll() is not None or time.monotonic() > deadline:
                return {'skipped': f'the node did not come up (exit code {process.poll()}): '
                                   f'{_tail(log_path)}'}
        peer.wait_for(lambda: peer.node_reliability() == ['reliable'], 5.0)
        for encoding in encodings:
            for width, height in sizes:
                say(f'node: {encoding} {width}x{height}')
                msg = frame_msg(photo_frame(image, encoding, width, height), Header(
                    frame_id='camera'))
                samples, sent, received = [], 0, 0
                for index in range(frames + _WARMUP_FRAMES):
                    stamp = peer.now_ns()
                    msg.header.stamp = stamp_from_ns(stamp)
                    start = time.monotonic()
                    peer.publish_msg(msg)
                    timed = index >= _WARMUP_FRAMES
                    sent += int(timed)
                    if peer.wait_result(stamp, _RESULT_TIMEOUT_S) is None:
                        if process.poll() is not None:
                            return {'skipped': f'the node exited ({process.returncode}): '
                                               f'{_tail(log_path)}'}
                        continue
                    if timed:
                        received += 1
                        samples.append((peer.results[stamp].monotonic - start) * 1e3)
                runs.append({'encoding': encoding, 'width': width, 'height': height,
                             'sent': sent, 'received': received, 'ms': latency_stats(samples)})
    rmw = os.environ.get('RMW_IMPLEMENTATION') or 'default RMW'
    return {
        'runs': runs,
        'node': ' '.join(command[1:]),
        'parameters': parameters,
        'description': (f'Node `{" ".join(["python", *command[1:]])}` in its own process, '
                        f'{rmw}, loopback only; one frame in flight; time from publish() to '
                        'the Classification with the same stamp arriving.'),
    }
