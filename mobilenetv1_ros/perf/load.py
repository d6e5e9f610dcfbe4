"""Sustained load on the classifier node: camera frames at a fixed rate for a set duration.

Starts the node (`python -m mobilenetv1_ros.node`) in a child process, or measures one that
already runs, plays a camera on its input topic at the requested size, encoding and rate, and
samples, every interval: the frames sent, the node's input and output rates and drops (from its
/diagnostics), the age of each classification (its arrival here minus the stamp of its input
frame; both clocks are this machine's), the node's RSS (/proc/<pid>/status) and CPU use
(/proc/<pid>/stat). The frames alternate between photos, and every result must name the class
the node gives that photo (a result attached to the wrong frame would show as a mismatch).

DDS stays on loopback (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, ROS_LOCALHOST_ONLY=1, a
reserved ROS_DOMAIN_ID and a temporary ROS_HOME unless already set). Only run_load imports rclpy.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any


from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.perf.machine import latency_stats, load_average

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from mobilenetv1_ros.core.frames import Frame

__all__ = [
    'DEFAULT_PHOTOS',
    'NAMESPACE',
    'PROFILE_ENV',
    'LoadSettings',
    'ProcessSample',
    'format_report',
    'machine_cpu_times',
    'read_process',
    'run_load',
]

#: Namespace of the node the load tool starts; its input is <NAMESPACE>/image.
NAMESPACE = '/mobilenetv1_load'
#: Bundled photos the frames are made of, alternated.
DEFAULT_PHOTOS = ('cat_1080p.jpg', 'hot_dog.jpg')
_START_TIMEOUT_S = 90.0
_DRAIN_S = 2.0
_TICKS = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100


@dataclass(frozen=True)
class ProcessSample:
    """One reading of a process' /proc files.

    Attributes:
        time: time.monotonic() of the reading.
        rss_mb: Resident set size (VmRSS) in MiB.
        cpu_s: User plus system CPU seconds since the process started.
        threads: Threads of the process.
    """

    time: float
    rss_mb: float
    cpu_s: float
    threads: int


def read_process(pid: int) -> ProcessSample | None:
    """Read RSS, CPU time and thread count of a process; None when it is gone."""
    now = time.monotonic()
    try:
        status = Path(f'/proc/{pid}/status').read_text(encoding='utf-8')
        stat = Path(f'/proc/{pid}/stat').read_text(encoding='utf-8')
    except OSError:
        return None
    fields = {}
    for line in status.splitlines():
        key, _, value = line.partition(':')
        fields[key] = value.split()
    # The command name in parentheses may hold spaces: count from the closing parenthesis.
    after = stat[stat.rindex(')') + 2:].split()
    utime, stime = int(after[11]), int(after[12])
    rss_kb = int(fields.get('VmRSS', ['0'])[0])
    return ProcessSample(now, rss_kb / 1024.0, (utime + stime) / _TICKS,
                         int(fields.get('Threads', ['0'])[0]))


def machine_cpu_times() -> tuple[float, float] | None:
    """Return (busy, total) CPU seconds of the whole machine from /proc/stat, or None."""
    try:
        with open('/proc/stat', encoding='utf-8') as stream:
            first = stream.readline().split()
    except OSError:
        return None
    values = [int(value) for value in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / _TICKS, total / _TICKS


@dataclass
class LoadSettings:
    """What to send and for how long.

    Attributes:
        width: Frame width.
        height: Frame height.
        encoding: Raw encoding ('bgr8', 'nv12', ...) or 'jpeg'/'png' (compressed input).
        fps: Frames per second sent.
        duration: Seconds of measured load (after the warm-up).
        interval: Seconds per row of the time series.
        warmup: Seconds of load before the measurement starts.
        photos: Image files the frames are made of (alternated); empty: DEFAULT_PHOTOS.
        parameters: Extra node parameters (name -> value).
        reliability: The camera publisher's reliability ('reliable' or 'best_effort').
        depth: The camera publisher's history depth.
        node_pid: Measure this running node instead of starting one.
        topic: Input topic of that node (default: <NAMESPACE>/image of the started one).
        namespace: Namespace of that node (where classification is published).
        node_log: Where the started node's output goes (default: a temporary file).
        rss_limit_mb: RSS growth allowed over the measurement.
        dds_profile: A Fast DDS XML profile both processes use (e.g. the package's
            scripts/fastdds_loopback.xml); None keeps the environment's choice.
    """

    width: int = 1920
    height: int = 1080
    encoding: str = 'bgr8'
    fps: float = 60.0
    duration: float = 10.0
    interval: float = 5.0
    warmup: float = 3.0
    photos: list[Path] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    reliability: str = 'reliable'
    depth: int = 1
    node_pid: int | None = None
    topic: str | None = None
    namespace: str = NAMESPACE
    node_log: Path | None = None
    rss_limit_mb: float = 20.0
    dds_profile: Path | None = None

    def check(self) -> None:
        """Raise ConfigError for values that cannot be run."""
        if self.width <= 0 or self.height <= 0:
            raise ConfigError(f'Frame size {self.width}x{self.height} must be positive')
        if self.fps <= 0 or self.duration <= 0 or self.interval <= 0 or self.warmup < 0:
            raise ConfigError(f'--fps {self.fps:g}, --duration {self.duration:g} and '
                              f'--interval {self.interval:g} must be positive, --warmup '
                              f'{self.warmup:g} not negative')
        if self.reliability not in ('reliable', 'best_effort'):
            raise ConfigError(f'Reliability {self.reliability!r} is not reliable or best_effort')
        if self.depth < 1:
            raise ConfigError(f'Publisher depth {self.depth} must be at least 1')
        if self.dds_profile is not None and not Path(self.dds_profile).is_file():
            raise ConfigError(f'Fast DDS profile {self.dds_profile} does not exist')
        if self.node_pid is not None and not self.topic:
            raise ConfigError('Measuring a running node (--node-pid) needs its input --topic')

    @property
    def compressed(self) -> bool:
        """Whether frames go out as sensor_msgs/CompressedImage."""
        return self.encoding in ('jpeg', 'png')


#: Environment variables naming a Fast DDS XML profile file (Fast DDS 3.x, then 2.x: Humble).
PROFILE_ENV = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')


def _photo_paths(requested: Sequence[Path]) -> list[Path]:
    if requested:
        missing = [str(path) for path in requested if not Path(path).is_file()]
        if missing:
            raise ConfigError(f'Image file {", ".join(missing)} does not exist')
        return [Path(path) for path in requested]
    from mobilenetv1_ros.core.assets import photos_dir

    paths = [photos_dir() / name for name in DEFAULT_PHOTOS]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise ConfigError(f'The bundled photos {", ".join(missing)} are missing; '
                          'pass --image FILE')
    return paths


def _frames(settings: LoadSettings) -> list[tuple[str, Frame]]:
    from mobilenetv1_ros.harness.frames import photo_frame
    from mobilenetv1_ros.core.frames import read_image

    frames = []
    for path in _photo_paths(settings.photos):
        frame = photo_frame(read_image(path), settings.encoding, settings.width, settings.height)
        frames.append((path.name, frame))
    return frames


class _Sender:
    """Publishes prepared messages at a fixed rate; skips (never bursts) when it falls behind."""

    def __init__(self, peer: Any, msgs: Sequence[Any], fps: float) -> None:
        self.peer = peer
        self.msgs = msgs
        self.period = 1.0 / fps
        self.sent: list[tuple[int, int, float]] = []  # (stamp ns, frame index, monotonic)
        self.skipped = 0
        self.publish_ms: list[float] = []

    def run_for(self, seconds: float, on_tick: Callable[[float], None] | None = None) -> None:
        from mobilenetv1_ros.ros.convert import stamp_from_ns

        start = time.monotonic()
        end = start + seconds
        next_time = start
        index = len(self.sent)
        while True:
            now = time.monotonic()
            if now >= end:
                break
            if on_tick is not None:
                on_tick(now)
            if next_time > now:
                time.sleep(min(next_time - now, end - now))
                continue
            behind = int((now - next_time) / self.period)
            if behind:
                self.skipped += behind
                next_time += behind * self.period
            which = index % len(self.msgs)
            msg = self.msgs[which]
            stamp = self.peer.now_ns()
            msg.header.stamp = stamp_from_ns(stamp)
            before = time.perf_counter()
            self.peer.publish_msg(msg)
            self.publish_ms.append((time.perf_counter() - before) * 1e3)
            self.sent.append((stamp, which, time.monotonic()))
            index += 1
            next_time += self.period


def _diag_int(values: Mapping[str, str], key: str) -> int:
    try:
        return int(values.get(key, '0'))
    except ValueError:
        return 0


def _diag_float(values: Mapping[str, str], key: str) -> float | None:
    try:
        return float(values[key])
    except (KeyError, ValueError):
        return None


class _Windows:
    """The time series: one row per interval."""

    def __init__(self, peer: Any, pid: int, start: float, interval: float, sent: int) -> None:
        self.peer = peer
        self.pid = pid
        self.interval = interval
        self.rows: list[dict[str, Any]] = []
        self._start = start
        self._next = start + interval
        self._process = read_process(pid)
        self._diag = self._diagnostics()
        self._sent = sent

    def _diagnostics(self) -> tuple[float, dict[str, str]]:
        return time.monotonic(), self.peer.latest_diagnostics()

    def tick(self, now: float, sender: _Sender, force: bool = False) -> None:
        if now < self._next and not force:
            return
        process = read_process(self.pid)
        diag = self._diagnostics()
        window_start = self._next - self.interval
        sent_now = len(sender.sent)
        ages = [(received.wall_ns - stamp) / 1e6 for stamp, _, _ in sender.sent[self._sent:]
                if (received := self.peer.results.get(stamp)) is not None]
        previous, current = self._diag[1], diag[1]
        span = max(diag[0] - self._diag[0], 1e-9)
        row: dict[str, Any] = {
            't_s': round(now - self._start, 1),
            'sent': sent_now - self._sent,
            'sent_hz': round((sent_now - self._sent) / max(now - window_start, 1e-9), 1),
            'node_in_hz': round((_diag_int(current, 'frames_received')
                                 - _diag_int(previous, 'frames_received')) / span, 1),
            'node_out_hz': round((_diag_int(current, 'frames_classified')
                                  - _diag_int(previous, 'frames_classified')) / span, 1),
            'dropped': _diag_int(current, 'frames_dropped') - _diag_int(previous,
                                                                        'frames_dropped'),
            'results': len(ages),
            'age_ms': latency_stats(ages),
        }
        if process is not None and self._process is not None:
            row['rss_mb'] = round(process.rss_mb, 1)
            row['cpu_pct'] = round(100.0 * (process.cpu_s - self._process.cpu_s)
                                   / max(process.time - self._process.time, 1e-9), 1)
            row['threads'] = process.threads
        self.rows.append(row)
        self._sent = sent_now
        self._process, self._diag = process, diag
        self._next += self.interval


def run_load(settings: LoadSettings, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the load and return the report (see format_report).

    Raises:
        ConfigError: Bad settings, photos not found, or the node did not come up.
    """
    from mobilenetv1_ros.harness.loopback import isolate_ros

    settings.check()
    say = log or (lambda message: None)
    frames = _frames(settings)
    created_home = isolate_ros()
    try:
        return _run(settings, frames, say)
    finally:
        if created_home is not None:
            shutil.rmtree(created_home, ignore_errors=True)


def _node_parameters(settings: LoadSettings) -> dict[str, Any]:
    parameters: dict[str, Any] = {'publish_overlay': False}
    if settings.compressed:
        parameters['input'] = 'compressed'
    parameters.update(settings.parameters)
    return parameters


def _run(settings: LoadSettings, frames: list[tuple[str, Frame]],
         say: Callable[[str], None]) -> dict[str, Any]:
    from std_msgs.msg import Header

    from mobilenetv1_ros.harness.peer import ClassifierPeer
    from mobilenetv1_ros.harness.process import node_command
    from mobilenetv1_ros.ros.convert import frame_msg

    topic = settings.topic or f'{NAMESPACE}/image'
    namespace = settings.namespace if settings.node_pid is not None else NAMESPACE
    process: subprocess.Popen[bytes] | None = None
    command: list[str] = []
    tmp = tempfile.mkdtemp(prefix='mobilenetv1-load.')
    log_path = settings.node_log or Path(tmp) / 'node.log'
    saved_env = {name: os.environ.get(name) for name in PROFILE_ENV}
    if settings.dds_profile is not None:
        # Fast DDS reads it once, when this process creates its first participant. Fast DDS
        # 2.x (Humble, Iron) reads the old name; 3.x warns that it is deprecated.
        old_fast_dds = os.environ.get('ROS_DISTRO', '') in ('humble', 'iron')
        for name in PROFILE_ENV:
            os.environ.pop(name, None)
        os.environ[PROFILE_ENV[1] if old_fast_dds else PROFILE_ENV[0]] = str(
            Path(settings.dds_profile).resolve())
    base_topic = topic.rsplit('/compressed', 1)[0] if settings.compressed else topic
    try:
        with ClassifierPeer(base_topic, node_namespace=namespace,
                            compressed=settings.compressed, reliability=settings.reliability,
                            depth=settings.depth, name='mobilenetv1_load_camera') as peer:
            if settings.node_pid is None:
                command = node_command(_node_parameters(settings), {'image': base_topic},
                                       namespace=NAMESPACE)
                say(f'starting the node: {" ".join(command)}')
                with open(log_path, 'wb') as log_file:
                    process = subprocess.Popen(command, stdout=log_file,
                                               stderr=subprocess.STDOUT, env=dict(os.environ))
                pid = process.pid
            else:
                pid = settings.node_pid
            _wait_for_node(peer, process, log_path, settings)
            msgs = [frame_msg(frame, Header(frame_id='load_camera')) for _, frame in frames]
            report = _measure(settings, peer, msgs, pid, say)
            report['photos'] = [name for name, _ in frames]
            report['dds_profile'] = _profile_in_use()
            report['topic'] = peer.image_topic
            report['frame_bytes'] = len(bytes(memoryview(frames[0][1].data)))
            if process is not None:
                report['node'] = _stop_node(process, log_path)
                report['node']['command'] = ' '.join(command)
                report['checks'].append({
                    'name': 'node exits with code 0 on SIGINT, no traceback',
                    'ok': report['node']['exit_code'] == 0 and not report['node']['traceback'],
                    'value': report['node']['exit_code']})
            else:
                report['node'] = {'pid': pid, 'alive_at_end': read_process(pid) is not None}
            return report
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(tmp, ignore_errors=True)


def _profile_in_use() -> str:
    for name in PROFILE_ENV:
        if os.environ.get(name):
            return f'Fast DDS profile {os.environ[name]}'
    return 'RMW defaults'


def _wait_for_node(peer: Any, process: subprocess.Popen[bytes] | None, log_path: Path,
                   settings: LoadSettings) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not peer.wait_for_node(timeout=1.0):
        if process is not None and process.poll() is not None:
            raise ConfigError(f'The node exited with code {process.returncode} before '
                              f'subscribing: {_tail(log_path)}')
        if time.monotonic() > deadline:
            raise ConfigError(f'The node did not subscribe to {peer.image_topic} within '
                              f'{_START_TIMEOUT_S:g} s')
    # The node listens best effort until it has matched this camera's reliability.
    peer.wait_for(lambda: peer.node_reliability() == [settings.reliability], 5.0)
    peer.wait_for_node(5.0)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return '\n'.join(path.read_text(errors='replace').splitlines()[-lines:])
    except OSError:
        return ''


def _warnings(text: str) -> int:
    return sum(1 for line in text.splitlines()
               if line.startswith(('[WARN]', '[ERROR]', '[FATAL]')) or ' WARN' in line[:40])


def _stop_node(process: subprocess.Popen[bytes], log_path: Path) -> dict[str, Any]:
    alive = process.poll() is None
    if alive:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    text = _tail(log_path, 10_000)
    return {'pid': process.pid, 'alive_at_end': alive, 'exit_code': process.returncode,
            'log_lines': len(text.splitlines()), 'warning_lines': _warnings(text),
            'traceback': 'Traceback' in text,
            'log_tail': _tail(log_path, 15) if process.returncode else ''}


def _measure(settings: LoadSettings, peer: Any, msgs: list[Any], pid: int,
             say: Callable[[str], None]) -> dict[str, Any]:
    sender = _Sender(peer, msgs, settings.fps)
    say(f'warm-up: {settings.warmup:g} s at {settings.fps:g} fps')
    sender.run_for(settings.warmup)
    peer.wait_for(lambda: bool(sender.sent) and sender.sent[-1][0] in peer.results, 5.0)
    warm = len(sender.sent)
    warm_skipped = sender.skipped
    sender.publish_ms.clear()
    # A pause until the node's next diagnostics: its counters then hold the warm-up only.
    seen = len(peer.diagnostics)
    peer.wait_for(lambda: len(peer.diagnostics) > seen, 3.0)
    diag_start = peer.latest_diagnostics()
    load_start = load_average()
    machine_start = machine_cpu_times()
    own_start = read_process(os.getpid())
    start_sample = read_process(pid)
    if start_sample is None:
        raise ConfigError(f'The node process {pid} is gone before the measurement')
    start = time.monotonic()
    windows = _Windows(peer, pid, start, settings.interval, warm)
    say(f'load: {settings.duration:g} s of {settings.width}x{settings.height} '
        f'{settings.encoding} at {settings.fps:g} fps')
    sender.run_for(settings.duration, lambda now: windows.tick(now, sender))
    end = time.monotonic()
    end_sample = read_process(pid)
    own_end = read_process(os.getpid())
    machine_end = machine_cpu_times()
    measured = sender.sent[warm:]
    last = measured[-1][0] if measured else None
    peer.wait_for(lambda: last is None or last in peer.results, _DRAIN_S)
    windows.tick(time.monotonic(), sender, force=True)
    # The node's counters as they stand after the drain: its next diagnostics message.
    seen = len(peer.diagnostics)
    peer.wait_for(lambda: len(peer.diagnostics) > seen, 3.0)
    diag_end = peer.latest_diagnostics()
    return _report(settings, sender, measured, warm_skipped, peer, diag_start, diag_end,
                   start_sample, end_sample, own_start, own_end, machine_start, machine_end,
                   load_start, end - start, windows.rows)


def _age_stats(peer: Any, measured: Sequence[tuple[int, int, float]]) -> tuple[
        list[float], int, int]:
    """Return (ages ms, results received, results whose class is not the photo's usual one)."""
    by_frame: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    ages, tops = [], []
    for stamp, which, _ in measured:
        received = peer.results.get(stamp)
        if received is None:
            continue
        ages.append((received.wall_ns - stamp) / 1e6)
        results = received.msg.results
        top = results[0].class_id if results else ''
        tops.append((which, top))
        by_frame[which][top] += 1
    usual = {which: counts.most_common(1)[0][0] for which, counts in by_frame.items()}
    mismatched = sum(1 for which, top in tops if top != usual[which])
    return ages, len(tops), mismatched


def _report(settings: LoadSettings, sender: _Sender, measured: Sequence[tuple[int, int, float]],
            warm_skipped: int, peer: Any, diag_start: Mapping[str, str],
            diag_end: Mapping[str, str], start_sample: ProcessSample,
            end_sample: ProcessSample | None, own_start: ProcessSample | None,
            own_end: ProcessSample | None, machine_start: tuple[float, float] | None,
            machine_end: tuple[float, float] | None, load_start: list[float] | None,
            seconds: float, rows: list[dict[str, Any]]) -> dict[str, Any]:
    ages, results, mismatched = _age_stats(peer, measured)
    period_ms = 1e3 / settings.fps

    def delta(key: str) -> int:
        return _diag_int(diag_end, key) - _diag_int(diag_start, key)

    infer_p95 = _diag_float(diag_end, 'infer_ms_p95')
    node_age_p95 = _diag_float(diag_end, 'end_to_end_ms_p95')
    bound = None if infer_p95 is None else infer_p95 + period_ms
    age = latency_stats(ages)
    report: dict[str, Any] = {
        'settings': {key: str(value) if isinstance(value, Path) else value
                     for key, value in asdict(settings).items()
                     if key not in ('photos', 'node_log')},
        'seconds': round(seconds, 2),
        'sent': len(measured),
        'sent_hz': round(len(measured) / max(seconds, 1e-9), 2),
        'skipped_by_sender': sender.skipped - warm_skipped,
        'publish_ms': latency_stats(sender.publish_ms),
        'node_received': delta('frames_received'),
        'node_classified': delta('frames_classified'),
        'node_dropped': delta('frames_dropped'),
        'node_rejected': delta('frames_rejected'),
        'node_failed': delta('frames_failed'),
        'not_delivered': max(0, len(measured) - delta('frames_received')),
        'node_in_hz': round(delta('frames_received') / max(seconds, 1e-9), 2),
        'node_out_hz': round(delta('frames_classified') / max(seconds, 1e-9), 2),
        'results': results,
        'results_hz': round(results / max(seconds, 1e-9), 2),
        'mismatched': mismatched,
        'age_ms': age,
        'node_infer_ms': {'p50': _diag_float(diag_end, 'infer_ms_p50'), 'p95': infer_p95},
        'node_age_ms': {'p50': _diag_float(diag_end, 'end_to_end_ms_p50'),
                        'p95': node_age_p95},
        'frame_period_ms': round(period_ms, 3),
        'age_bound_ms': None if bound is None else round(bound, 3),
        'rss_mb': {'start': round(start_sample.rss_mb, 1),
                   'end': None if end_sample is None else round(end_sample.rss_mb, 1),
                   'peak': max([start_sample.rss_mb, *(row.get('rss_mb', 0) for row in rows)]),
                   'growth': None if end_sample is None else round(
                       end_sample.rss_mb - start_sample.rss_mb, 1)},
        'threads': {'start': start_sample.threads,
                    'end': None if end_sample is None else end_sample.threads},
        'node_cpu_pct': None if end_sample is None else round(
            100.0 * (end_sample.cpu_s - start_sample.cpu_s)
            / max(end_sample.time - start_sample.time, 1e-9), 1),
        'load_tool_cpu_pct': None if own_start is None or own_end is None else round(
            100.0 * (own_end.cpu_s - own_start.cpu_s) / max(own_end.time - own_start.time,
                                                              1e-9), 1),
        'machine': {'cpus': os.cpu_count(), 'loadavg_start': load_start,
                    'loadavg_end': load_average(), 'busy_pct': _busy(machine_start,
                                                                     machine_end)},
        'series': rows,
    }
    report['checks'] = _checks(settings, report, end_sample is not None)
    return report


def _busy(start: tuple[float, float] | None, end: tuple[float, float] | None) -> float | None:
    if start is None or end is None or end[1] <= start[1]:
        return None
    return round(100.0 * (end[0] - start[0]) / (end[1] - start[1]), 1)


def _checks(settings: LoadSettings, report: dict[str, Any], alive: bool) -> list[dict[str, Any]]:
    growth = report['rss_mb']['growth']
    bound = report['age_bound_ms']
    age_p95 = report['age_ms'].get('p95')
    node_p95 = report['node_age_ms']['p95']
    return [
        {'name': 'node alive through the load', 'ok': alive},
        {'name': f'RSS growth <= {settings.rss_limit_mb:g} MB',
         'ok': growth is not None and growth <= settings.rss_limit_mb,
         'value': growth},
        {'name': "every result names its photo's class", 'ok': report['mismatched'] == 0,
         'value': report['mismatched']},
        {'name': 'results received', 'ok': report['results'] > 0, 'value': report['results']},
        {'name': 'p95 frame age (stamp to result here) <= inference p95 + one frame period',
         'ok': bound is not None and age_p95 is not None and age_p95 <= bound,
         'value': age_p95, 'bound': bound},
        {'name': 'p95 frame age in the node (callback to publish) <= inference p95 + one '
                 'frame period',
         'ok': bound is not None and node_p95 is not None and node_p95 <= bound,
         'value': node_p95, 'bound': bound},
    ]


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return 'n/a'
    if isinstance(value, float):
        return f'{value:.{digits}f}'
    return str(value)


def format_report(report: Mapping[str, Any]) -> str:
    """Render a load report as the text the `load` command prints."""
    settings = report['settings']
    lines = [
        f'load: {settings["width"]}x{settings["height"]} {settings["encoding"]} at '
        f'{settings["fps"]:g} fps for {report["seconds"]:.1f} s into {report["topic"]} '
        f'({report["frame_bytes"] / 1e6:.2f} MB per frame; photos '
        f'{", ".join(report["photos"])}; DDS: {report["dds_profile"]})',
        '',
        f'{"t s":>6} {"sent/s":>7} {"in/s":>6} {"out/s":>6} {"drop":>5} {"age p50":>8} '
        f'{"p95":>7} {"p99":>7} {"RSS MB":>7} {"CPU %":>6} {"thr":>4}',
    ]
    for row in report['series']:
        age = row['age_ms']
        lines.append(
            f'{row["t_s"]:6.1f} {row["sent_hz"]:7.1f} {row["node_in_hz"]:6.1f} '
            f'{row["node_out_hz"]:6.1f} {row["dropped"]:5d} {_fmt(age.get("p50")):>8} '
            f'{_fmt(age.get("p95")):>7} {_fmt(age.get("p99")):>7} '
            f'{_fmt(row.get("rss_mb")):>7} {_fmt(row.get("cpu_pct")):>6} '
            f'{_fmt(row.get("threads")):>4}')
    age = report['age_ms']
    rss = report['rss_mb']
    machine = report['machine']
    lines += [
        '',
        f'frames: sent {report["sent"]} ({report["sent_hz"]:.1f}/s, '
        f'{report["skipped_by_sender"]} skipped by the sender falling behind; publish p50 '
        f'{_fmt(report["publish_ms"].get("p50"), 2)} ms); not delivered by DDS '
        f'{report["not_delivered"]}; node received '
        f'{report["node_received"]} ({report["node_in_hz"]:.1f}/s), classified '
        f'{report["node_classified"]} ({report["node_out_hz"]:.1f}/s), dropped '
        f'{report["node_dropped"]} (latest frame wins), rejected {report["node_rejected"]}, '
        f'failed {report["node_failed"]}; results here {report["results"]} '
        f'({report["results_hz"]:.1f}/s), mismatched {report["mismatched"]}',
        f'frame age (result received here - frame stamp): p50 {_fmt(age.get("p50"))}, p95 '
        f'{_fmt(age.get("p95"))}, p99 {_fmt(age.get("p99"))}, max {_fmt(age.get("max"))} ms',
        f'in the node (callback entry to publish): p50 {_fmt(report["node_age_ms"]["p50"])}, '
        f'p95 {_fmt(report["node_age_ms"]["p95"])} ms; inference p50 '
        f'{_fmt(report["node_infer_ms"]["p50"])}, p95 {_fmt(report["node_infer_ms"]["p95"])} '
        f'ms; frame period {report["frame_period_ms"]:.1f} ms',
        f'RSS: start {_fmt(rss["start"])} MB, end {_fmt(rss["end"])} MB, peak '
        f'{_fmt(rss["peak"])} MB, growth {_fmt(rss["growth"])} MB; threads '
        f'{report["threads"]["start"]} -> {_fmt(report["threads"]["end"])}',
        f'CPU: node {_fmt(report["node_cpu_pct"])} % of one core, load tool '
        f'{_fmt(report["load_tool_cpu_pct"])} %; machine ({machine["cpus"]} CPUs) busy '
        f'{_fmt(machine["busy_pct"])} %, load average {machine["loadavg_start"]} -> '
        f'{machine["loadavg_end"]}',
    ]
    node = report.get('node', {})
    if 'exit_code' in node:
        lines.append(f'node: exit code {node["exit_code"]} after SIGINT, '
                     f'{node["warning_lines"]} warning/error lines of {node["log_lines"]}, '
                     f'traceback: {"yes" if node["traceback"] else "no"}')
        if node.get('log_tail'):
            lines.append(node['log_tail'])
    lines.append('checks:')
    for check in report['checks']:
        value = '' if 'value' not in check else f' ({_fmt(check["value"])}'
        if 'bound' in check:
            value += f' vs {_fmt(check["bound"])}'
        value += ')' if value else ''
        lines.append(f'  [{"ok" if check["ok"] else "FAIL"}] {check["name"]}{value}')
    return '\n'.join(lines)

