"""Pre-flight check: what is installed and working on this board or laptop.

Checks Python, ROS 2 (distro, RMW, rclpy, vision_msgs), the Fast DDS profile environment, the
BPU path (hobot_dnn, whether this user can open the BPU device nodes, the board's model file and
every place searched for it), the CPU path (onnxruntime and the bundled model), and lists the
camera topics publishing right now (sensor_msgs images and TROS's shared-memory hbm_img_msgs,
e.g. mipi_cam's /hbmem_img) with their encodings, sizes and QoS.
Exit code 0 when at least one backend can classify, 1 otherwise.

Examples:
  mobilenetv1-ros doctor
  mobilenetv1-ros doctor --json --timeout 5
  mobilenetv1-ros doctor --no-topics
"""

from __future__ import annotations

import grp
import importlib
import json
import os
import platform
import stat
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mobilenetv1_ros.ros.dds_profile import profile_variable
from mobilenetv1_ros.ros.params import HBM_PACKAGE
from mobilenetv1_ros.ros.params import HBM_TYPES as HBM_MESSAGE_TYPES

if TYPE_CHECKING:
    import argparse

__all__ = ['Check', 'add_arguments', 'run']

#: TROS's shared-memory image messages (hbm_img_msgs, D-Robotics/hobot_msgs): mipi_cam's default
#: io_method shared_mem publishes only these, on /hbmem_img, best effort.
HBM_TYPES = tuple(f'{HBM_PACKAGE}/msg/{name}' for name in HBM_MESSAGE_TYPES)
IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage', *HBM_TYPES)
#: Device nodes of the RDK X5's BPU and of the ION allocator its runtime takes tensor memory
#: from, as the board kernel registers them (D-Robotics/x5-kernel: drivers/soc/hobot/bpu/
#: bpu_drv.c `bpu`, bpu_core.c `bpu_core%d`, drivers/staging/android/ion `ion`). Globs, under
#: the device directory.
BPU_DEVICE_NODES = ('bpu', 'bpu_core*', 'ion')
#: Fast DDS profile variables: the file (Fast DDS 3.x name, then 2.x, which Humble's reads) and
#: whether rmw_fastrtps takes QoS from it. TROS's hobot_shm launch sets them when unset.
FASTDDS_ENV = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE',
               'RMW_FASTRTPS_USE_QOS_FROM_XML', 'RMW_IMPLEMENTATION')
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
                        help='the BPU model file to check (default: the first '
                             'mobilenetv1_224x224_nv12.bin the model search finds)')
    parser.add_argument('--dev', dest='dev_dir', default='/dev', metavar='DIR',
                        help='device directory holding the BPU nodes (default: %(default)s)')


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
    dnn: Any = None
    try:
        dnn = import_pyeasy_dnn()
    except BackendUnavailableError as error:
        checks.append(Check('hobot_dnn', False, str(error),
                            'only on an RDK X5 board image; elsewhere use backend onnx'))
    else:
        checks.append(Check('hobot_dnn', True, f'{dnn.__name__} imports'))
    search = find_bpu_model()
    # The search table, in order, whether or not --model skips it: where an empty model_path
    # would look and what is there now.
    data: dict[str, Any] = {
        'given': model,
        'search': [{'path': str(candidate), 'exists': candidate.is_file()}
                   for candidate in search.tried],
        'found': str(search.found) if search.found else None,
    }
    path = Path(model) if model else search.found
    if path is None or not path.is_file():
        tried = ', '.join(str(candidate) for candidate in ([path] if path else search.tried))
        checks.append(Check('bpu model', False, f'not found (looked for {tried})',
                            'the board image keeps mobilenetv1_224x224_nv12.bin in '
                            '/opt/hobot/model/x5/basic; or pass model_path', data))
    elif dnn is None:
        checks.append(Check('bpu model', True, f'{path} ({path.stat().st_size} bytes; not '
                                               'loaded: no hobot_dnn here)', data=data))
    else:
        try:
            backend = BpuBackend(path)
        except ClassifierError as error:
            checks.append(Check('bpu model', False, str(error),
                                "use the model zoo's mobilenetv1_224x224_nv12.bin for the X5",
                                data))
        else:
            checks.append(Check('bpu model', True, backend.describe(), data=data))
            backend.close()
    return checks


def _mode_allows(info: os.stat_result, uid: int, gids: set[int]) -> bool:
    """Whether a user may open a node for reading and writing, from its owner, group and mode.

    Decided from the mode bits rather than os.access so that another user's view can be
    checked (os.access always says yes to root).
    """
    if uid == 0:
        return True
    if info.st_uid == uid:
        bits = stat.S_IRUSR | stat.S_IWUSR
    elif info.st_gid in gids:
        bits = stat.S_IRGRP | stat.S_IWGRP
    else:
        bits = stat.S_IROTH | stat.S_IWOTH
    return info.st_mode & bits == bits


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def check_bpu_device(dev_dir: Path = Path('/dev'), uid: int | None = None,
                     gids: set[int] | None = None) -> Check:
    """Whether this user can open the BPU's device nodes (the official samples use sudo).

    Args:
        dev_dir: The device directory (tests pass one with stand-in nodes).
        uid: The user to check for (default: the effective user).
        gids: That user's groups (default: the effective and supplementary groups).
    """
    uid = os.geteuid() if uid is None else uid
    gids = {os.getegid(), *os.getgroups()} if gids is None else gids
    nodes = [node for pattern in BPU_DEVICE_NODES for node in sorted(dev_dir.glob(pattern))]
    if not any(node.name != 'ion' for node in nodes):
        return Check('bpu device', False, f'no {dev_dir}/bpu or {dev_dir}/bpu_core* here',
                     'only on an RDK board image with the BPU driver loaded',
                     {'nodes': [], 'present': False})
    rows: list[dict[str, Any]] = []
    for node in nodes:
        info = node.stat()
        rows.append({'path': str(node), 'mode': stat.filemode(info.st_mode),
                     'owner': f'{info.st_uid}', 'group': _group_name(info.st_gid),
                     'usable': _mode_allows(info, uid, gids)})
    blocked = [row for row in rows if not row['usable']]
    detail = ', '.join(f"{row['path']} {row['mode']} group {row['group']}"
                       f"{'' if row['usable'] else ' (no access)'}" for row in rows)
    hint = ''
    if blocked:
        groups = sorted({row['group'] for row in blocked})
        hint = ('the official samples run as root (sudo); to run as this user, add it to the '
                f"nodes' group ({', '.join(groups)}) when that group may read and write them: "
                f"sudo usermod -aG {groups[0]} $USER (log in again); otherwise a udev rule, "
                'e.g. /etc/udev/rules.d/99-bpu.rules: KERNEL=="bpu*|ion", GROUP="video", '
                'MODE="0660", then sudo udevadm control --reload && sudo udevadm trigger')
    return Check('bpu device', not blocked, detail, hint,
                 {'nodes': rows, 'present': True, 'uid': uid})


def check_fastdds(environ: dict[str, str] | None = None) -> Check:
    """Report the Fast DDS profile environment and how it sits with TROS's hobot_shm profile."""
    environ = dict(os.environ) if environ is None else environ
    values = {name: environ.get(name, '') for name in FASTDDS_ENV}
    shown = ', '.join(f'{name}={value}' for name, value in values.items() if value)
    problems = []
    for name in FASTDDS_ENV[:2]:
        if values[name] and not Path(values[name]).is_file():
            problems.append(f'{name} names a missing file')
    notes = []
    distro = environ.get('ROS_DISTRO', '')
    if (profile_variable(environ) == FASTDDS_ENV[1] and values[FASTDDS_ENV[0]]
            and not values[FASTDDS_ENV[1]]):
        problems.append(f"{distro}'s Fast DDS 2.x reads FASTRTPS_DEFAULT_PROFILES_FILE, not "
                        'FASTDDS_DEFAULT_PROFILES_FILE')
    profile = values[FASTDDS_ENV[1]] or values[FASTDDS_ENV[0]]
    if profile and 'hobot_shm' in profile:
        notes.append("TROS's hobot_shm profile (as mipi_cam's launch sets it)")
    elif profile:
        notes.append("mipi_cam's launch keeps this profile instead of TROS's hobot_shm one "
                     '(it sets them only when unset): start the camera from a shell without it')
    detail = (shown or 'no profile variables set (RMW defaults; mipi_cam sets its own)')
    if notes:
        detail += '; ' + '; '.join(notes)
    return Check('fast dds profile', not problems, detail,
                 '; '.join(problems) + ('; see docs/board.md' if problems else ''),
                 {'env': values})


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
        if kind in HBM_TYPES:
            module = importlib.import_module('hbm_img_msgs.msg')
            self.message_type = getattr(module, kind.rsplit('/', 1)[1])
        else:
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
        if self.kind in HBM_TYPES:
            msg = self.first
            encoding = bytes(msg.encoding).split(b'\0', 1)[0].decode('ascii', 'replace')
            data.update(encoding=encoding, width=msg.width, height=msg.height,
                        data_size=msg.data_size)
            supported = encoding.lower() in ENCODINGS
            what = f'{encoding} {msg.width}x{msg.height} (shared memory, {msg.data_size} bytes)'
            hint = ('the node reads it with input:=hbmem' if supported else
                    f'the node reads {", ".join(sorted(ENCODINGS))}')
        elif self.message_type.__name__ == 'Image':
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
            return [Check('camera topics', False, f'no Image/CompressedImage topic seen (nor '
                                                  f'an hbm_img_msgs one) in {timeout:g} s '
                                                  f'({_discovery()})',
                          'start the camera (e.g. ros2 launch mipi_cam mipi_cam.launch.py); '
                          'a camera on another machine needs the same ROS_DOMAIN_ID and a '
                          'discovery range that reaches it')]
        listeners, checks = [], []
        for name, kind in topics:
            try:
                listeners.append(_Listener(node, name, kind))
            except ImportError as error:
                checks.append(Check(f'topic {name}', False, f'{kind}: {error}',
                                    'source the TROS setup (hbm_img_msgs) to read it',
                                    {'topic': name, 'type': kind}))
        start = time.monotonic()
        deadline = start + max(timeout, RATE_WINDOW_S)
        while time.monotonic() < deadline and not all(item.done for item in listeners):
            executor.spin_once(timeout_sec=0.05)
        waited = time.monotonic() - start
        return [item.check(waited) for item in listeners] + checks
    finally:
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()


def run(args: argparse.Namespace) -> int:
    """Run every check and print the report."""
    checks = [check_python(), *check_ros(), check_fastdds(), *check_bpu(args.bpu_model),
              check_bpu_device(Path(args.dev_dir)), *check_cpu()]
    ros_ok = any(c.name == 'rclpy' and c.ok for c in checks)
    if not args.no_topics and ros_ok:
        try:
            checks += check_topics(args.timeout)
        except Exception as error:  # noqa: BLE001 - a report, not a crash
            checks.append(Check('camera topics', False, f'could not look: {error}'))
    # A BPU device node this user cannot open makes the BPU unusable; no node at all (not a
    # board, e.g. the test double) leaves hobot_dnn's import as the judge.
    device = next(c for c in checks if c.name == 'bpu device')
    bpu_needs = ('hobot_dnn', 'bpu model', 'bpu device') if device.data['present'] else (
        'hobot_dnn', 'bpu model')
    usable = [name for name, needs in (('bpu', bpu_needs), ('onnx', ('onnxruntime', 'cpu model')))
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
            for row in check.data.get('search', []):
                print(f'     {"":<22} {"found " if row["exists"] else "absent"} {row["path"]}')
        print(f'usable backends: {", ".join(usable) or "none"}')
    return 0 if usable else 1
