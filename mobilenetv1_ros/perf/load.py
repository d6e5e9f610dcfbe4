"""Sustained load on the classifier node: camera frames at a fixed rate for a set duration.

Starts the node (`python -m mobilenetv1_ros.node`) in a child process, or measures one that
already runs, plays a camera on its input topic at the requested size, encoding and rate, and
samples, every interval: the frames sent, the node's input and output rates and drops (from its
/diagnostics), the age of each classification (its arrival here minus the stamp of its input
frame; both clocks are this machine's), the node's RSS and its CPU time per thread role
(perf.thread_roles). The frames alternate between photos, and every result must name the class
the node gives that photo (a result attached to the wrong frame would show as a mismatch).

The camera publishes sensor_msgs/Image, CompressedImage (jpeg, png) or, with `hbmem`, the
board's TROS shared-memory images (hbm_img_msgs HbmMsg*, nv12, best effort as mipi_cam) as
serialized bytes made by harness.hbm_camera, to a node with input:=hbmem.

DDS stays on loopback (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, ROS_LOCALHOST_ONLY=1, a
reserved ROS_DOMAIN_ID and a temporary ROS_HOME unless already set). The camera (this process)
and the node can each have a Fast DDS profile of their own, or none, to tell which side's
profile a direction needs; with `overlay`, this process also views the node's overlay images.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from std_msgs.msg import Header

from mobilenetv1_ros.core.assets import photos_dir
from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.core.frames import as_bytes, read_image
from mobilenetv1_ros.harness.fastdds import (check_profile, node_environ, profile_in_use,
                                             use_profile)
from mobilenetv1_ros.harness.frames import photo_frame
from mobilenetv1_ros.harness.hbm_camera import HbmCamera
from mobilenetv1_ros.harness.loopback import isolate_ros
from mobilenetv1_ros.harness.peer import ClassifierPeer
from mobilenetv1_ros.harness.process import NodeProcess, node_command, wait_for_subscription
from mobilenetv1_ros.perf.load_sender import RateSender
from mobilenetv1_ros.perf.load_series import Windows, diag_int
from mobilenetv1_ros.perf.load_settings import DEFAULT_PHOTOS, NAMESPACE
from mobilenetv1_ros.perf.load_summary import exit_check, node_exit, read_all, summarize
from mobilenetv1_ros.perf.load_viewer import OverlayViewer
from mobilenetv1_ros.perf.machine import load_average
from mobilenetv1_ros.procfs.procstat import read_process
from mobilenetv1_ros.ros.convert import frame_msg, stamp_from_ns
from mobilenetv1_ros.ros.hbmem import hbm_message_class

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from mobilenetv1_ros.core.frames import Frame
    from mobilenetv1_ros.perf.load_settings import LoadSettings

__all__ = ['run_load']

#: The module `--baseline` runs instead of the classifier node.
BASELINE_MODULE = 'mobilenetv1_ros.perf.baseline_node'
_START_TIMEOUT_S = 90.0
_DRAIN_S = 2.0
#: Seconds to wait for the node's next diagnostics message.
_DIAGNOSTICS_WAIT_S = 3.0


def _photo_paths(requested: Sequence[Path]) -> list[Path]:
    if requested:
        missing = [str(path) for path in requested if not Path(path).is_file()]
        if missing:
            raise ConfigError(f'Image file {", ".join(missing)} does not exist')
        return [Path(path) for path in requested]
    paths = [photos_dir() / name for name in DEFAULT_PHOTOS]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise ConfigError(f'The bundled photos {", ".join(missing)} are missing; '
                          'pass --image FILE')
    return paths


def _frames(settings: LoadSettings) -> list[tuple[str, Frame]]:
    return [(path.name, photo_frame(read_image(path), settings.encoding, settings.width,
                                    settings.height))
            for path in _photo_paths(settings.photos)]


def run_load(settings: LoadSettings, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the load and return the report (see perf.load_text.format_report).

    Raises:
        ConfigError: Bad settings, photos or DDS profile not found, or the node did not come
            up.
    """
    settings.check()
    check_profile(settings.node_profile)
    say = log or (lambda message: None)
    inherited = dict(os.environ)  # the node's profile when it has no setting of its own
    with use_profile(settings.camera_profile):
        frames = _frames(settings)
        created_home = isolate_ros()
        try:
            return _run(settings, frames, say, inherited)
        finally:
            if created_home is not None:
                shutil.rmtree(created_home, ignore_errors=True)


def _node_parameters(settings: LoadSettings) -> dict[str, Any]:
    parameters: dict[str, Any] = {'publish_overlay': settings.overlay}
    if settings.input_mode != 'raw':
        parameters['input'] = settings.input_mode
    if settings.hbm_type is not None:
        parameters['hbmem_type'] = settings.hbm_type
    parameters.update(settings.parameters)
    return parameters


def _baseline_parameters(settings: LoadSettings) -> dict[str, Any]:
    parameters: dict[str, Any] = {'reliability': settings.reliability}
    if settings.hbmem:
        parameters.update(input='hbmem', hbmem_type=settings.camera_hbm_type)
    return parameters


def _sender(settings: LoadSettings, peer: ClassifierPeer,
            frames: list[tuple[str, Frame]]) -> tuple[RateSender, int]:
    """Return the camera's sender of the frames and the bytes of one message.

    Those are the serialized HbmMsg's with `hbmem` (its whole fixed array), else the pixels'.
    """
    if settings.hbmem:
        camera = HbmCamera(peer)
        messages = [camera.message(as_bytes(frame.data), settings.width, settings.height)
                    for _, frame in frames]

        def send_hbm(which: int, stamp: int) -> None:
            camera.send(messages[which], stamp)

        return (RateSender(peer.now_ns, send_hbm, len(messages), settings.fps),
                len(messages[0]))
    msgs = [frame_msg(frame, Header(frame_id='load_camera')) for _, frame in frames]

    def send(which: int, stamp: int) -> None:
        msg = msgs[which]
        msg.header.stamp = stamp_from_ns(stamp)
        peer.publish_msg(msg)

    return RateSender(peer.now_ns, send, len(msgs), settings.fps), as_bytes(frames[0][1].data).size


def _run(settings: LoadSettings, frames: list[tuple[str, Frame]],
         say: Callable[[str], None], inherited: dict[str, str]) -> dict[str, Any]:
    topic = settings.topic or f'{NAMESPACE}/image'
    namespace = settings.namespace if settings.node_pid is not None else NAMESPACE
    base_topic = topic.rsplit('/compressed', 1)[0] if settings.compressed else topic
    image_type = hbm_message_class(settings.camera_hbm_type) if settings.hbmem else None
    with tempfile.TemporaryDirectory(prefix='mobilenetv1-load.') as tmp, \
            ClassifierPeer(base_topic, node_namespace=namespace,
                           compressed=settings.compressed, reliability=settings.reliability,
                           depth=settings.depth, name='mobilenetv1_load_camera',
                           image_type=image_type) as peer:
        node = None
        node_profile = 'unknown (a running node)'
        if settings.baseline:
            command = node_command(_baseline_parameters(settings), {'image': base_topic},
                                   namespace=NAMESPACE, module=BASELINE_MODULE)
        else:
            command = node_command(_node_parameters(settings), {'image': base_topic},
                                   namespace=NAMESPACE)
        if settings.node_pid is None:
            env = node_environ(settings.node_profile, inherited)
            node_profile = profile_in_use(env)
            say(f'starting the node ({node_profile}): {" ".join(command)}')
            node = NodeProcess(command, settings.node_log or Path(tmp) / 'node.log', env=env)
            pid = node.pid
        else:
            pid = settings.node_pid
        viewer = OverlayViewer(peer, settings.reliability) if settings.overlay else None
        try:
            wait_for_subscription(peer, node, _START_TIMEOUT_S, settings.reliability)
            sender, message_bytes = _sender(settings, peer, frames)
            report = _measure(settings, peer, sender, pid, say, viewer)
            report['photos'] = [name for name, _ in frames]
            camera_profile = profile_in_use()
            report['dds_profile'] = camera_profile if camera_profile == node_profile else \
                f'camera {camera_profile}, node {node_profile}'
            report['dds_profiles'] = {'camera': camera_profile, 'node': node_profile}
            report['topic'] = peer.image_topic
            report['frame_bytes'] = as_bytes(frames[0][1].data).size
            report['message_bytes'] = message_bytes
            report['input'] = settings.input_mode
            report['message_type'] = _type_name(peer.image_type)
            if node is None:
                report['node'] = {'pid': pid, 'alive_at_end': read_process(pid) is not None}
            else:
                report['node'] = node_exit(node)
                report['checks'].append(exit_check(report['node']))
            report['baseline'] = settings.baseline
            return report
        finally:
            if node is not None:
                node.stop()


def _next_diagnostics(peer: ClassifierPeer) -> dict[str, str]:
    """Wait for the node's next diagnostics message; return its values."""
    seen = len(peer.diagnostics)
    peer.wait_for(lambda: len(peer.diagnostics) > seen, _DIAGNOSTICS_WAIT_S)
    return peer.latest_diagnostics()


def _type_name(msg_type: type) -> str:
    """Return 'sensor_msgs/msg/Image' of the Image class."""
    return f'{msg_type.__module__.split(".")[0]}/msg/{msg_type.__name__}'


def _measure(settings: LoadSettings, peer: ClassifierPeer, sender: RateSender, pid: int,
             say: Callable[[str], None], viewer: OverlayViewer | None = None) -> dict[str, Any]:
    say(f'warm-up: {settings.warmup:g} s at {settings.fps:g} fps')
    sender.run_for(settings.warmup)
    if not settings.baseline:
        peer.wait_for(lambda: bool(sender.sent) and sender.sent[-1].stamp in peer.results,
                      5.0)
    warm = len(sender.sent)
    warm_skipped = sender.skipped
    sender.publish_ms.clear()
    # A pause until the node's next diagnostics: its counters then hold the warm-up only.
    diag_start = _next_diagnostics(peer)
    load_start = load_average()
    start_reading = read_all(pid)
    if start_reading.node is None:
        raise ConfigError(f'The node process {pid} is gone before the measurement')
    if viewer is not None:
        viewer.start()
    start = time.monotonic()
    windows = Windows(peer, pid, start, settings.interval, warm,
                      guess_inference=not settings.baseline)
    say(f'load: {settings.duration:g} s of {settings.width}x{settings.height} '
        f'{settings.encoding} ({_type_name(peer.image_type)}) at {settings.fps:g} fps')
    sender.run_for(settings.duration, lambda now: windows.tick(now, sender))
    end = time.monotonic()
    end_reading = read_all(pid)
    measured = sender.sent[warm:]
    last = measured[-1].stamp if measured else None
    if not settings.baseline:
        peer.wait_for(lambda: last is None or last in peer.results, _DRAIN_S)
    windows.tick(time.monotonic(), sender, force=True)
    # The node's counters as they stand after the drain: its next diagnostics message.
    diag_end = _next_diagnostics(peer)
    report = summarize(settings, sender, measured, warm_skipped, peer, (diag_start, diag_end),
                       (start_reading, end_reading), load_start, end - start, windows.rows)
    if viewer is not None:
        published = diag_int(diag_end, 'overlays_published') - \
            diag_int(diag_start, 'overlays_published')
        report['overlay'] = viewer.summary(end - start, published)
    return report
