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


def check_ros() -> list[Check]:
    """ROS 2 distro, rclpy, RMW and the message packages the node needs."""
    distro = os.environ.get('ROS_DISTRO', '')
    checks = []
    try:
        from rclpy.utilities import get_rmw_implementation_identifier
        rmw = get_rmw_implementation_identifier()
    except Exception as error:  # noqa: BLE001
        checks.append(Check('rclpy', False, f'rclpy does not import: {error}',
                            'source /opt/ros/<distro>/setup.bash, or run scripts/setup.sh'))
        return checks
    checks.append(Check('rclpy', True, f'distro {distro or "unknown (pip wheels)"}, '
                                       f'RMW {rmw}', data={'distro': distro, 'rmw': rmw}))
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
    """hobot_dnn and the board's model file."""
    from mobilenetv1_ros.core.backends.bpu import import_pyeasy_dnn
    from mobilenetv1_ros.core.errors import BackendUnavailableError
    from mobilenetv1_ros.core.models import default_bpu_model

    checks = []
    try:
        dnn = import_pyeasy_dnn()
    except BackendUnavailableError as error:
        checks.append(Check('hobot_dnn', False, str(error),
                            'only on an RDK X5 board image; elsewhere use backend onnx'))
    else:
        checks.append(Check('hobot_dnn', True, f'{dnn.__name__} imports'))
    path = Path(model) if model else default_bpu_model()
    if path.is_file():
        checks.append(Check('bpu model', True, f'{path} ({path.stat().st_size} bytes)'))
    else:
        checks.append(Check('bpu model', False, f'{path} does not exist',
                            'download mobilenetv1_224x224_nv12.bin from the RDK model zoo and '
                            'put it there, or pass model_path'))
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

    try:
        start = time.perf_counter()
        backend = create_backend('onnx')
        detail = f'{backend.describe()} (ready in {time.perf_counter() - start:.1f} s)'
        backend.close()
    except ClassifierError as error:
        checks.append(Check('cpu model', False, str(error)))
    else:
        checks.append(Check('cpu model', True, detail))
    return checks


def _reliability_name(policy: Any) -> str:
    return str(getattr(policy, 'name', policy)).lower()


def check_topics(timeout: float) -> list[Check]:
    """Camera topics publishing now: type, publishers' QoS, and one frame's encoding/size."""
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from sensor_msgs.msg import CompressedImage, Image

    rclpy.init(args=None)
    node = rclpy.create_node('mobilenetv1_doctor')
    checks: list[Check] = []
    try:
        deadline = time.monotonic() + timeout
        topics: list[tuple[str, str]] = []
        while time.monotonic() < deadline and not topics:
            rclpy.spin_once(node, timeout_sec=0.1)
            topics = [(name, kind) for name, kinds in node.get_topic_names_and_types()
                      for kind in kinds if kind in IMAGE_TYPES]
        if not topics:
            return [Check('camera topics', False, f'no Image/CompressedImage topic seen in '
                                                  f'{timeout:g} s',
                          'start the camera (e.g. ros2 launch mipi_cam mipi_cam.launch.py)')]
        for name, kind in sorted(topics):
            infos = node.get_publishers_info_by_topic(name)
            qos = sorted({f'{_reliability_name(i.qos_profile.reliability)}/depth '
                          f'{i.qos_profile.depth}' for i in infos})
            best_effort = any(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                              for i in infos)
            profile = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT
                                 if best_effort else ReliabilityPolicy.RELIABLE)
            received: list[Any] = []
            message_type = Image if kind.endswith('/Image') else CompressedImage
            subscription = node.create_subscription(message_type, name, received.append,
                                                    profile)
            frame_deadline = time.monotonic() + timeout
            while not received and time.monotonic() < frame_deadline:
                rclpy.spin_once(node, timeout_sec=0.05)
            node.destroy_subscription(subscription)
            if not received:
                detail = f'{kind}, {len(infos)} publisher(s) {", ".join(qos)}, no frame in ' \
                         f'{timeout:g} s'
            elif message_type is Image:
                msg = received[0]
                detail = f'{msg.encoding} {msg.width}x{msg.height}, publisher QoS ' \
                         f'{", ".join(qos)}'
            else:
                detail = f'compressed {received[0].format}, publisher QoS {", ".join(qos)}'
            checks.append(Check(f'topic {name}', bool(received), detail))
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return checks


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
