"""Pre-flight check: what is installed and working on this board or laptop.

Checks Python, ROS 2 (distro, RMW, rclpy, vision_msgs), the BPU path (hobot_dnn and the
board's model file), the CPU path (onnxruntime and the bundled model), and lists the camera
topics publishing right now with their encodings, sizes and QoS.
Exit code 0 when at least one backend can classify, 1 otherwise.

Examples:
  mobilenetv1-ros doctor
  mobilenetv1-ros doctor --json --timeout 5
  mobilenetv1-ros doctor --no-topics
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

__all__ = ['Check', 'add_arguments', 'run']

IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
#: Seconds the list of image topics must stay the same before discovery is taken as done.
DISCOVERY_SETTLE_S = 0.5
#: Seconds of frames listened to per topic to tell its rate.
RATE_WINDOW_S = 1.0


@dataclass
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail: str
    hint: str = ''
    data: dict[str, Any] = field(default_factory=dict)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the doctor arguments."""
    parser.add_argument('--json', action='store_true', help='print the report as JSON')
    parser.add_argument('--no-topics', action='store_true',
                        help='skip joining the ROS graph to look for camera topics')
    parser.add_argument('--timeout', type=float, default=3.0, metavar='S',
                        help='seconds to wait for topic discovery and one frame per topic '
                             '(default: %(default)s)')
    parser.add_argument('--model', dest='bpu_model', default=None, metavar='PATH',
                        help='the BPU model file to check (default: the installed '
                             'models/mobilenetv1_224x224_nv12.bin)')


def _version(module_name: str) -> str | None:
    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - any import failure means "not usable here"
        return None
    return str(getattr(module, '__version__', 'installed'))


def check_python() -> Check:
    """Python and platform."""
    return Check('python', True, f'Python {platform.python_version()} on '
                                 f'{platform.machine()} ({platform.platform(terse=True)})')


def _ros_distro() -> str:
    """Name the ROS 2 distro: $ROS_DISTRO, a ros-<distro>-rclpy wheel, or /opt/ros/<distro>."""
    distro = os.environ.get('ROS_DISTRO', '')
    if distro:
        return distro
    from importlib import metadata

    for dist in metadata.distributions():
        name = (dist.metadata['Name'] or '').lower()
        if name.startswith('ros-') and name.endswith('-rclpy') and name.count('-') == 2:
            return f'{name.split("-")[1]} (pip wheels)'
    import rclpy

    parts = Path(rclpy.__file__).parts
    if 'ros' in parts and parts.index('ros') + 1 < len(parts):
        return parts[parts.index('ros') + 1]
    return 'unknown'


def _discovery() -> str:
    """Describe how far DDS discovery reaches, from the ROS environment variables."""
    domain = os.environ.get('ROS_DOMAIN_ID') or '0 (default)'
    reach = os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE', '')
    if not reach:
        reach = 'LOCALHOST' if os.environ.get('ROS_LOCALHOST_ONLY') == '1' else 'SUBNET (default)'
    return f'ROS_DOMAIN_ID {domain}, discovery {reach}'


def check_ros() -> list[Check]:
    """ROS 2 distro, rclpy, RMW, discovery settings and the message packages the node needs."""
    checks = []
    try:
        from rclpy.utilities import get_rmw_implementation_identifier
        rmw = get_rmw_implementation_identifier()
        distro = _ros_distro()
    except Exception as error:  # noqa: BLE001
        checks.append(Check('rclpy', False, f'rclpy does not import: {error}',
                            'source /opt/ros/<distro>/setup.bash, or run scripts/setup.sh'))
        return checks
    checks.append(Check('rclpy', True, f'distro {distro}, RMW {rmw}, {_discovery()}',
                        data={'distro': distro, 'rmw': rmw,
                              'domain_id': os.environ.get('ROS_DOMAIN_ID', '')}))
    for package in ('sensor_msgs', 'vision_msgs', 'diagnostic_msgs'):
        try:
            importlib.import_module(f'{package}.msg')
        except Exception as error:  # noqa: BLE001
            hint = ('sudo apt install ros-$ROS_DISTRO-vision-msgs' if package == 'vision_msgs'
                    else f'install ros-$ROS_DISTRO-{package.replace("_", "-")}')
            checks.append(Check(package, False, f'does not import: {error}', hint))
        else:
            checks.append(Check(package, True, 'imports'))
    return checks


def check_bpu(model: str | None) -> list[Check]:
    """hobot_dnn and the board's model file, loaded by the BPU backend when both are there."""
    from mobilenetv1_ros.core.backends.bpu import BpuBackend, import_pyeasy_dnn
    from mobilenetv1_ros.core.errors import BackendUnavailableError, ClassifierError
    from mobilenetv1_ros.core.assets import find_bpu_model

    checks = []
    try:
        dnn = import_pyeasy_dnn()
    except BackendUnavailableError as error:
        checks.append(Check('hobot_dnn', False, str(error),
                            'only on an RDK X5 board image; elsewhere use backend onnx'))
        dnn = None
    else:
        checks.append(Check('hobot_dnn', True, f'{dnn.__name__} imports'))
    search = find_bpu_model()
    path = Path(model) if model else search.found
    if path is None or not path.is_file():
        tried = ', '.join(str(candidate) for candidate in ([path] if path else search.tried))
        checks.append(Check('bpu model', False, f'not found (looked for {tried})',
                            'the board image keeps mobilenetv1_224x224_nv12.bin in '
                            '/opt/hobot/model/x5/basic; or pass model_path'))
    elif dnn is None:
        checks.append(Check('bpu model', True, f'{path} ({path.stat().st_size} bytes; not '
                                               'loaded: no hobot_dnn here)'))
    else:
        try:
            backend = BpuBackend(path)
        except ClassifierError as error:
            checks.append(Check('bpu model', False, str(error),
                                "use the model zoo's mobilenetv1_224x224_nv12.bin for the X5"))
        else:
            checks.append(Check('bpu model', True, backend.describe()))
            backend.close()
    return checks


def check_cpu() -> list[Check]:
    """Check onnxruntime and the bundled CPU model (built now if it is not cached yet)."""
    version = _version('onnxruntime')
    if version is None:
        return [Check('onnxruntime', False, 'does not import', 'pip install onnxruntime')]
    import onnxruntime

    checks = [Check('onnxruntime', True, f'{version}, providers '
                                         f'{", ".join(onnxruntime.get_available_providers())}')]
    from mobilenetv1_ros.core.backends import create_backend
    from mobilenetv1_ros.core.errors import ClassifierError
    from mobilenetv1_ros.loading import choose_backend, model_for
    from mobilenetv1_ros.options import ClassifierOptions

    try:
        start = time.perf_counter()
        options = ClassifierOptions(backend='onnx')
        backend = create_backend('onnx', model_for(choose_backend(options), options))
        detail = f'{backend.describe()} (ready in {time.perf_counter() - start:.1f} s)'
        backend.close()
    except ClassifierError as error:
        checks.append(Check('cpu model', False, str(error)))
    else:
        checks.append(Check('cpu model', True, detail))
    return checks


def _policy_name(policy: Any) -> str:
    return str(getattr(policy, 'name', policy)).lower()


def _discover_topics(node: Any, executor: Any, timeout: float) -> list[tuple[str, str]]:
    """Return the image topics seen, waiting until the list stops growing (or the timeout)."""
    deadline = time.monotonic() + timeout
    topics: list[tuple[str, str]] = []
    stable_since = None
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
        seen = sorted((name, kind) for name, kinds in node.get_topic_names_and_types()
                      for kind in kinds if kind in IMAGE_TYPES)
        if seen != topics:
            topics, stable_since = seen, time.monotonic()
        elif topics and stable_since is not None and \
                time.monotonic() - stable_since >= DISCOVERY_SETTLE_S:
            break
    return topics


class _Listener:
    """Frames of one topic: the first message, how many came and when."""

    def __init__(self, node: Any, name: str, kind: str) -> None:
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CompressedImage, Image

        self.name = name
        self.kind = kind
        self.publishers = node.get_publishers_info_by_topic(name)
        best_effort = any(info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                          for info in self.publishers)
        # Best effort matches every publisher; reliable keeps large frames from being lost.
        profile = QoSProfile(depth=5, durability=DurabilityPolicy.VOLATILE,
                             reliability=ReliabilityPolicy.BEST_EFFORT if best_effort
                             else ReliabilityPolicy.RELIABLE)
        self.message_type = Image if kind.endswith('/Image') else CompressedImage
        self.first: Any = None
        self.count = 0
        self.first_time = self.last_time = 0.0
        self.subscription = node.create_subscription(self.message_type, name, self._on_msg,
                                                     profile)

    def _on_msg(self, msg: Any) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first, self.first_time = msg, now
        self.count += 1
        self.last_time = now

    @property
    def done(self) -> bool:
        """Whether enough frames came to tell the rate."""
        return self.count >= 2 and self.last_time - self.first_time >= RATE_WINDOW_S

    def qos(self) -> list[str]:
        """Reliability/durability of each publisher, e.g. ['best_effort/volatile']."""
        return sorted({f'{_policy_name(info.qos_profile.reliability)}/'
                       f'{_policy_name(info.qos_profile.durability)}'
                       for info in self.publishers})

    def check(self, waited: float) -> Check:
        """Describe the topic: encoding, size, rate, publishers' QoS; ok when the node reads it."""
        from mobilenetv1_ros.core.frames import COMPRESSED_FORMATS, ENCODINGS

        publishers = f'{len(self.publishers)} publisher(s) {", ".join(self.qos())}'
        data: dict[str, Any] = {'topic': self.name, 'type': self.kind, 'qos': self.qos(),
                                'publishers': len(self.publishers), 'frames': self.count}
        if self.first is None:
            return Check(f'topic {self.name}', False,
                         f'{self.kind}, {publishers}, no frame in {waited:.1f} s',
                         'is the camera streaming? a publisher with an incompatible QoS '
                         'is seen but never delivers', data)
        rate = ''
        if self.count >= 2 and self.last_time > self.first_time:
            data['rate_hz'] = round((self.count - 1) / (self.last_time - self.first_time), 1)
            rate = f', {data["rate_hz"]:g} Hz'
        if self.message_type.__name__ == 'Image':
            msg = self.first
            data.update(encoding=msg.encoding, width=msg.width, height=msg.height)
            supported = msg.encoding.lower() in ENCODINGS
            what = f'{msg.encoding} {msg.width}x{msg.height}'
            hint = '' if supported else (f'the node reads {", ".join(sorted(ENCODINGS))}; '
                                         'publish one of those (e.g. through image_proc)')
        else:
            fmt = self.first.format
            data.update(format=fmt)
            supported = not fmt or any(name in fmt.lower() for name in COMPRESSED_FORMATS)
            what = f'compressed {fmt or "(no format)"}'
            hint = '' if supported else 'the node decodes jpeg and png (input:=compressed)'
        data['supported'] = supported
        note = '' if supported else ' (not an encoding the node reads)'
        return Check(f'topic {self.name}', supported, f'{what}{rate}, {publishers}{note}',
                     hint, data)


def check_topics(timeout: float) -> list[Check]:
    """Camera topics publishing now: encoding, size, rate and the publishers' QoS."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    context = Context()
    rclpy.init(args=[], context=context)
    node = rclpy.create_node('mobilenetv1_doctor', context=context,
                             start_parameter_services=False)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        topics = _discover_topics(node, executor, timeout)
        if not topics:
            return [Check('camera topics', False, f'no Image/CompressedImage topic seen in '
                                                  f'{timeout:g} s ({_discovery()})',
                          'start the camera (e.g. ros2 launch mipi_cam mipi_cam.launch.py); '
                          'a camera on another machine needs the same ROS_DOMAIN_ID and a '
                          'discovery range that reaches it')]
        listeners = [_Listener(node, name, kind) for name, kind in topics]
        start = time.monotonic()
        deadline = start + max(timeout, RATE_WINDOW_S)
        while time.monotonic() < deadline and not all(item.done for item in listeners):
            executor.spin_once(timeout_sec=0.05)
        waited = time.monotonic() - start
        return [item.check(waited) for item in listeners]
    finally:
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()


def run(args: argparse.Namespace) -> int:
    """Run every check and print the report."""
    checks = [check_python(), *check_ros(), *check_bpu(args.bpu_model), *check_cpu()]
    ros_ok = any(c.name == 'rclpy' and c.ok for c in checks)
    if not args.no_topics and ros_ok:
        try:
            checks += check_topics(args.timeout)
        except Exception as error:  # noqa: BLE001 - a report, not a crash
            checks.append(Check('camera topics', False, f'could not look: {error}'))
    usable = [name for name, needs in (('bpu', ('hobot_dnn', 'bpu model')),
                                       ('onnx', ('onnxruntime', 'cpu model')))
              if all(c.ok for c in checks if c.name in needs)]
    if args.json:
        json.dump({'checks': [asdict(c) for c in checks], 'usable_backends': usable},
                  sys.stdout, indent=2)
        print()
    else:
        for check in checks:
            print(f'[{"ok" if check.ok else "--"}] {check.name:<22} {check.detail}')
            if check.hint and not check.ok:
                print(f'     {"":<22} hint: {check.hint}')
        print(f'usable backends: {", ".join(usable) or "none"}')
    return 0 if usable else 1
