"""The bag tools against hostile bags and an unlucky operator (issue 13).

Bombs and undecodable frames among good ones, SIGTERM/SIGHUP/SIGINT mid-run and right at the
start, a full disk, --overwrite aimed at directories that are not bags, metadata that declares
more than the storage holds, Foxy-era metadata whose QoS text differs from the storage's, and
an unwritable --summary-json. Every bag is written here; the CLI runs as a real subprocess.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from bag_helpers import (
    compressed_bytes_msg,
    compressed_msg,
    consistent_counts,
    header,
    image_msg,
    jpeg_bomb,
    photo,
    png_bomb,
    string_msg,
    write_bag,
)
from rosbags.rosbag2 import Reader

from mobilenetv1_ros.bag.bagio import (
    add_connection,
    check_output,
    not_a_bag_reason,
    open_reader,
    open_writer,
    prepare_output,
)
from mobilenetv1_ros.bag.errors import BagError, BagOutputExistsError
from mobilenetv1_ros.bag.messages import typestore
from mobilenetv1_ros.bag.offline import classify_bag
from mobilenetv1_ros.bag.results import read_classifications

REPO = Path(__file__).resolve().parents[2]
PHOTOS = ('bulbul.JPEG', 'parrot.jpg', 'hot_dog.jpg', 'cat.bmp')
#: Top-1 class of each photo above (ImageNet ids), as the golden sample bag also says.
TOPS = (16, 88, 934, 285)


def _command(*args: str | Path) -> list[str]:
    return [sys.executable, '-m', 'mobilenetv1_ros', 'bag', *map(str, args)]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    env.update(extra or {})
    return env


def _cli(*args: str | Path, timeout: float = 120, env: dict[str, str] | None = None,
         **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(_command(*args), cwd=REPO, capture_output=True, text=True,
                            timeout=timeout, env=env or _env(), **kwargs)
    assert 'Traceback' not in result.stderr + result.stdout, result.stderr
    return result


# --- 3. per-frame failures are counted rejections, the run goes on -----------------------------


def _bombed_bag(path: Path) -> Path:
    """good, good, PNG bomb, garbage CDR, JPEG bomb, 16UC1, good, good, good (9 frames)."""
    import numpy as np

    store = typestore()
    writer = open_writer(path)
    image = add_connection(writer, '/cam', 'sensor_msgs/msg/Image')
    compressed = add_connection(writer, '/cam/compressed', 'sensor_msgs/msg/CompressedImage')
    frames: list[tuple[Any, Any]] = [
        (image, image_msg(0, photo(PHOTOS[0], 320, 240))),
        (compressed, compressed_msg(1, photo(PHOTOS[1], 320, 240), 'jpeg')),
        (compressed, compressed_bytes_msg(2, png_bomb(40000, 40000), 'png')),
        (image, b'\x00\x01\x00\x00garbage'),
        (compressed, compressed_bytes_msg(4, jpeg_bomb(40000, 40000), 'jpeg')),
        (image, image_msg(5, np.full((24, 32), 7, np.uint16), encoding='16UC1')),
        (image, image_msg(6, photo(PHOTOS[2], 320, 240))),
        (compressed, compressed_msg(7, photo(PHOTOS[3], 320, 240), 'png')),
        (image, image_msg(8, photo(PHOTOS[0], 640, 480))),
    ]
    for index, (connection, message) in enumerate(frames):
        data = message if isinstance(message, bytes) else store.serialize_cdr(
            message, message.__msgtype__)
        writer.write(connection, 1_700_000_000_000_000_000 + index * 33_333_333, data)
    writer.close()
    return path


def test_bombs_and_garbage_are_rejected_and_every_good_frame_classified(
        tmp_path: Path, classifier: Any) -> None:
    bag = _bombed_bag(tmp_path / 'bombed')
    summary = classify_bag(bag, tmp_path / 'out', classifier)
    assert summary.read_error is None, summary.read_error
    assert (summary.frames, summary.classified, summary.rejected_count) == (9, 5, 4)
    assert summary.exit_code == 1 and not summary.ok
    records = read_classifications(tmp_path / 'out')
    assert [r.top_class for r in records] == [16, 88, 934, 285, 16]
    rejected = {f.timestamp % 10**9 // 33_333_333: f for f in summary.rejected_frames}
    assert sorted(rejected) == [2, 3, 4, 5]
    assert rejected[3].stamp_ns is None and 'cannot be deserialized' in rejected[3].reason
    assert rejected[2].stamp_ns == 1_700_000_000_066_666_666
    assert "Encoding '16UC1' is not supported" in rejected[5].reason
    assert all(f.reason for f in summary.rejected_frames)
    assert consistent_counts(tmp_path / 'out') == {'/cam/classification': 3,
                                                    '/cam/compressed/classification': 2}


def test_cli_lists_the_rejected_frames_and_exits_1(tmp_path: Path) -> None:
    bag = _bombed_bag(tmp_path / 'bombed')
    result = _cli('classify', bag, '-o', tmp_path / 'out', '--summary-json',
                  tmp_path / 'summary.json')
    assert result.returncode == 1, result.stderr
    assert 'frames: 9 read, 5 classified, 4 rejected' in result.stdout
    assert '4 of 9 frames were rejected' in result.stderr
    assert 'corrupt' not in result.stderr
    listed = [line for line in result.stdout.splitlines() if '(bag time ' in line]
    assert len(listed) == 4
    assert '/cam/compressed stamp 1700000000.066666666 (bag time' in listed[0]
    document = json.loads((tmp_path / 'summary.json').read_text())
    assert document['exit_code'] == 1 and len(document['rejected_frames']) == 4
    assert len(read_classifications(tmp_path / 'out')) == 5


# --- 4 and 9. stop signals: what was done is committed, metadata equals contents ----------------


@pytest.fixture(scope='module')
def long_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1500 JPEG frames of 320x240: several seconds of work for the offline tool."""
    pictures = [photo(name, 320, 240) for name in PHOTOS]
    path = tmp_path_factory.mktemp('long') / 'long'
    return write_bag(path, [('/cam/compressed', compressed_msg(i, pictures[i % 4], 'jpg'))
                            for i in range(1500)])


@contextlib.contextmanager
def _running(args: list[str], **kwargs: Any) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, **kwargs)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGHUP, signal.SIGINT],
                         ids=['SIGTERM', 'SIGHUP', 'SIGINT'])
def test_signal_mid_run_leaves_a_readable_bag_whose_metadata_equals_its_contents(
        signum: int, long_bag: Path, tmp_path: Path) -> None:
    output = tmp_path / 'out'
    with _running(_command('classify', long_bag, '-o', output, '-v', '--summary-json',
                           tmp_path / 'summary.json'), env=_env()) as process:
        assert process.stdout is not None
        seen = 0
        for line in process.stdout:
            seen += line.startswith('/cam/compressed ')
            if seen == 100:
                break
        assert seen == 100
        sent = time.monotonic()
        process.send_signal(signum)
        out, err = process.communicate(timeout=30)
        seconds = time.monotonic() - sent
    assert process.returncode == 128 + signum, err
    assert 'Traceback' not in err
    assert seconds < 5, seconds
    summary = json.loads((tmp_path / 'summary.json').read_text())
    assert summary['interrupted'] and summary['signal'] == signal.Signals(signum).name
    assert 100 <= summary['classified'] < 1500
    assert f'stopped by {signal.Signals(signum).name}' in out
    counts = consistent_counts(output)
    assert counts == {'/cam/compressed/classification': summary['classified']}
    records = read_classifications(output)
    assert [r.top_class for r in records] == [TOPS[i % 4] for i in range(len(records))]


def test_sigkill_keeps_what_was_committed(long_bag: Path, tmp_path: Path) -> None:
    """No handler runs on SIGKILL; the commit points (every second) keep the work before."""
    output = tmp_path / 'out'
    with _running(_command('classify', long_bag, '-o', output, '-v'), env=_env()) as process:
        assert process.stdout is not None
        seen = 0
        first = 0.0
        for line in process.stdout:
            if line.startswith('/cam/compressed '):
                seen += 1
                first = first or time.monotonic()
            if first and time.monotonic() - first > 1.5:
                break
        process.kill()
        process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert not (output / 'metadata.yaml').exists()
    reader = open_reader(output, warn=False)
    try:
        kept = sum(1 for _ in reader.messages())
    finally:
        reader.close()
    assert 0 < kept <= seen


def test_sigterm_as_soon_as_the_output_exists(long_bag: Path, tmp_path: Path) -> None:
    output = tmp_path / 'out'
    with _running(_command('classify', long_bag, '-o', output), env=_env()) as process:
        deadline = time.monotonic() + 60
        while not output.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 143, err
    assert 'Traceback' not in err
    counts = consistent_counts(output)
    assert sum(counts.values()) == len(read_classifications(output)) < 1500


def test_sigterm_right_at_start(long_bag: Path, tmp_path: Path) -> None:
    """Signals from 0.25 s to 1.75 s after start: imports, model loading, output creation."""
    codes = []
    for step in range(7):
        output = tmp_path / f'out{step}'
        with _running(_command('classify', long_bag, '-o', output), env=_env()) as process:
            time.sleep(0.25 + 0.25 * step)
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
        # Before Python has installed the handler the default action ends the process (-15)
        # and nothing was written; an import cut short by the signal is still a stop (143).
        assert process.returncode in (143, -signal.SIGTERM), err
        assert 'Traceback' not in err and 'error:' not in err, err
        if output.exists():
            consistent_counts(output)
        codes.append(process.returncode)
    assert 143 in codes, codes


def test_third_signal_exits_at_once() -> None:
    code = ('import os, signal, time\n'
            'from mobilenetv1_ros.console.signals import stop_signals\n'
            'with stop_signals() as s:\n'
            '    with s.polling():\n'
            '        for _ in range(3):\n'
            '            os.kill(os.getpid(), signal.SIGHUP)\n'
            '            time.sleep(0.05)\n'
            '        print("not reached")\n')
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 129
    assert 'not reached' not in result.stdout
    assert 'already stopping' in result.stderr
    assert 'SIGHUP received 3 times: exiting at once' in result.stderr


def test_signals_raise_once_or_only_set_the_event() -> None:
    # In a child process: a handler that is not installed would end the test run itself.
    code = (
        'import os, signal, time\n'
        'from mobilenetv1_ros.console.signals import Interrupted, stop_signals\n'
        'before = signal.getsignal(signal.SIGTERM)\n'
        'with stop_signals() as state:\n'
        '    try:\n'
        '        os.kill(os.getpid(), signal.SIGTERM)\n'
        '        time.sleep(2)\n'
        '        print("no exception")\n'
        '    except Interrupted as error:\n'
        '        print("raised", error.exit_code, state.exit_code)\n'
        '    os.kill(os.getpid(), signal.SIGTERM)\n'
        '    time.sleep(0.1)\n'
        '    print("second signal did not raise; count", state.count)\n'
        'print("restored", signal.getsignal(signal.SIGTERM) is before)\n'
        'with stop_signals() as state, state.polling() as event:\n'
        '    os.kill(os.getpid(), signal.SIGHUP)\n'
        '    print("polling: event", event.wait(2), "code", state.exit_code)\n')
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        'raised 143 143', 'second signal did not raise; count 2', 'restored True',
        'polling: event True code 129']
    assert 'SIGTERM: already stopping' in result.stderr


def test_run_stoppable_turns_an_error_caused_by_the_stop_into_the_exit_code() -> None:
    code = ('import os, signal, sys, time\n'
            'from mobilenetv1_ros.console.signals import run_stoppable\n'
            'def main(signals):\n'
            '    try:\n'
            '        os.kill(os.getpid(), signal.SIGHUP)\n'
            '        time.sleep(2)\n'
            '    except KeyboardInterrupt:\n'
            '        raise ImportError("initialization failed")\n'
            '    return 0\n'
            'sys.exit(run_stoppable(main, "tool"))\n')
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 129, result.stderr
    assert result.stderr == 'tool: stopped by SIGHUP (ImportError while stopping)\n'
    unstopped = subprocess.run(
        [sys.executable, '-c', 'from mobilenetv1_ros.console.signals import run_stoppable\n'
         'def main(signals):\n    raise ImportError("real")\nrun_stoppable(main, "tool")\n'],
        cwd=REPO, capture_output=True, text=True, timeout=30)
    assert unstopped.returncode == 1 and 'ImportError: real' in unstopped.stderr


# --- 9. disk full --------------------------------------------------------------------------------


@contextlib.contextmanager
def _small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f'cannot mount a small tmpfs here: {mounted.stderr.strip()}')
    try:
        yield path
    finally:
        subprocess.run(['umount', '-l', str(path)], check=False)


def _check_partial_output(output: Path, summary_path: Path) -> None:
    counts = consistent_counts(output)
    summary = json.loads(summary_path.read_text())
    assert summary['write_error']
    assert summary['messages_written'] == sum(counts.values())
    images = counts.get('/cam/compressed', 0)
    # A commit point every 16 MB of messages (1 s at most): at least one was reached before
    # the 24 MB ran out, and the long bag's 49 MB of frames do not fit.
    assert 200 < images < 1500, counts
    assert counts['/cam/compressed/classification'] in (images, images - 1)
    records = read_classifications(output)
    assert [r.top_class for r in records] == [TOPS[i % 4] for i in range(len(records))]


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_disk_full_keeps_what_was_committed_and_metadata_matches(storage: str, long_bag: Path,
                                                                 tmp_path: Path) -> None:
    with _small_tmpfs(tmp_path / 'small', '24m') as small:
        output = small / 'out'
        result = _cli('classify', long_bag, '-o', output, '--keep-inputs', '--summary-json',
                      tmp_path / 'summary.json', '--storage', storage)
        assert result.returncode == 1, result.stderr
        assert 'could not be written completely' in result.stderr
        assert 'disk is full' in result.stderr or 'No space left' in result.stderr
        _check_partial_output(output, tmp_path / 'summary.json')


def test_file_size_limit_keeps_what_was_committed(long_bag: Path, tmp_path: Path) -> None:
    """The same with writes that fail by RLIMIT_FSIZE (no root needed)."""
    size = 24 * 1024 * 1024

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    result = _cli('classify', long_bag, '-o', tmp_path / 'out', '--keep-inputs',
                  '--summary-json', tmp_path / 'summary.json', preexec_fn=limit)
    assert result.returncode == 1, result.stderr
    assert 'could not be written completely' in result.stderr
    _check_partial_output(tmp_path / 'out', tmp_path / 'summary.json')


def test_writer_rolls_back_to_the_last_commit(tmp_path: Path) -> None:
    """A real SQLITE_FULL (sqlite's max_page_count) in the middle of a transaction."""
    store = typestore()
    writer = open_writer(tmp_path / 'bag', commit_interval=3600)
    connection = add_connection(writer, '/chatter', 'std_msgs/msg/String')
    for index in range(5):
        writer.write(connection, index, store.serialize_cdr(string_msg(f'{index}'),
                                                            'std_msgs/msg/String'))
    writer.commit()
    database = writer._writer.storage.conn  # noqa: SLF001 - the real sqlite connection
    pages = database.execute('PRAGMA page_count').fetchone()[0]
    database.execute(f'PRAGMA max_page_count = {pages + 12}')
    big = store.serialize_cdr(string_msg('x' * 3000), 'std_msgs/msg/String')
    written = 0
    with pytest.raises(BagError, match='disk is full'):
        for index in range(5, 100):
            writer.write(connection, index, big)
            written += 1
    assert written > 2  # written, not committed: the rollback drops them
    with pytest.raises(BagError, match='cannot be written'):
        writer.write(connection, 100, big)
    with pytest.raises(BagError, match='closed with the 5 messages committed before'):
        writer.close()
    assert consistent_counts(tmp_path / 'bag') == {'/chatter': 5}


# --- 5. --overwrite removes only a provable rosbag2 bag ------------------------------------------


def _params_dir(path: Path) -> Path:
    path.mkdir()
    (path / 'robot_params.yaml').write_text('robot: {wheels: 4}\n')
    (path / 'nav2.yaml').write_text('bt_navigator: {}\n')
    return path


def test_overwrite_refuses_what_is_not_provably_a_bag(tmp_path: Path) -> None:
    params = _params_dir(tmp_path / 'params')
    with pytest.raises(BagOutputExistsError,
                       match=r'no metadata.yaml \(it holds nav2.yaml, robot_params.yaml\)'):
        prepare_output(params, overwrite=True)
    assert sorted(p.name for p in params.iterdir()) == ['nav2.yaml', 'robot_params.yaml']

    recordings = tmp_path / 'recordings'
    recordings.mkdir()
    for name in ('monday', 'tuesday'):
        write_bag(tmp_path / name, [('/chatter', string_msg(name))])
        (tmp_path / name / f'{name}.db3').rename(recordings / f'{name}.db3')
    assert not_a_bag_reason(recordings) == (
        'it has no metadata.yaml (it holds monday.db3, tuesday.db3)')

    extra = write_bag(tmp_path / 'extra', [('/chatter', string_msg('x'))])
    (extra / 'notes.txt').write_text('keep me')
    assert not_a_bag_reason(extra) == (
        'its metadata.yaml names extra.db3 but it holds extra.db3, metadata.yaml, notes.txt')

    renamed = write_bag(tmp_path / 'renamed', [('/chatter', string_msg('x'))])
    (renamed / 'renamed.db3').rename(renamed / 'other.db3')
    assert 'names renamed.db3 but it holds metadata.yaml, other.db3' in not_a_bag_reason(renamed)

    fake = tmp_path / 'fake'
    fake.mkdir()
    (fake / 'metadata.yaml').write_text('robot: {wheels: 4}\n')
    (fake / 'data.db3').write_bytes(b'precious')
    assert 'is not rosbag2 metadata' in not_a_bag_reason(fake)
    (fake / 'metadata.yaml').write_text('rosbag2_bagfile_information: [unclosed\n')
    assert 'does not parse' in not_a_bag_reason(fake)

    for path in (recordings, extra, renamed, fake):
        before = sorted(p.name for p in path.iterdir())
        with pytest.raises(BagOutputExistsError, match='refusing to replace it'):
            check_output(path, overwrite=True)
        with pytest.raises(BagOutputExistsError, match='refusing to replace it'):
            prepare_output(path, overwrite=True)
        assert sorted(p.name for p in path.iterdir()) == before

    real = write_bag(tmp_path / 'real', [('/chatter', string_msg('x'))], storage='mcap')
    assert not_a_bag_reason(real) is None
    prepare_output(real, overwrite=True)
    assert not real.exists()
    (tmp_path / 'empty').mkdir()
    prepare_output(tmp_path / 'empty', overwrite=True)
    assert not (tmp_path / 'empty').exists()


def test_cli_overwrite_of_a_params_directory_exits_2_and_keeps_it(tmp_path: Path) -> None:
    bag = write_bag(tmp_path / 'in', [('/cam', image_msg(0, photo(PHOTOS[0], 64, 48)))])
    params = _params_dir(tmp_path / 'params')
    result = _cli('classify', bag, '-o', params, '--overwrite')
    assert result.returncode == 2
    assert ('exists and is not a rosbag2 bag: it has no metadata.yaml (it holds nav2.yaml, '
            'robot_params.yaml); refusing to replace it') in result.stderr
    assert sorted(p.name for p in params.iterdir()) == ['nav2.yaml', 'robot_params.yaml']
    assert 'Summary' not in result.stdout
    done = _cli('classify', bag, '-o', tmp_path / 'out')
    assert done.returncode == 0, done.stderr
    again = _cli('classify', bag, '-o', tmp_path / 'out', '--overwrite')
    assert again.returncode == 0, again.stderr


# --- 6. declared vs read -------------------------------------------------------------------------

#: The QoS text a Foxy-era recorder stored in the sqlite topics table (infinite durations)...
_FOXY_STORAGE_QOS = (
    '- history: 3\n  depth: 0\n  reliability: 1\n  durability: 2\n  deadline:\n'
    '    sec: 2147483647\n    nsec: 4294967295\n  lifespan:\n    sec: 2147483647\n'
    '    nsec: 4294967295\n  liveliness: 1\n  liveliness_lease_duration:\n'
    '    sec: 2147483647\n    nsec: 4294967295\n  avoid_ros_namespace_conventions: false')
#: ... and the one it wrote into metadata.yaml for the same topic (durations 0).
_FOXY_METADATA_QOS = (
    '- history: 3\n  depth: 0\n  reliability: 1\n  durability: 2\n  deadline:\n'
    '    sec: 0\n    nsec: 0\n  lifespan:\n    sec: 0\n    nsec: 0\n  liveliness: 1\n'
    '  liveliness_lease_duration:\n    sec: 0\n    nsec: 0\n'
    '  avoid_ros_namespace_conventions: false')


def _foxy_bag(path: Path) -> Path:
    """A talker bag like ros2/rosbag2's Foxy-era test resources.

    10 + 10 messages; metadata version 4 whose QoS strings differ from the storage's.
    """
    store = typestore()
    types = store.types
    writer = open_writer(path)
    topic = add_connection(writer, '/topic', 'std_msgs/msg/String')
    rosout = add_connection(writer, '/rosout', 'rcl_interfaces/msg/Log')
    add_connection(writer, '/parameter_events', 'rcl_interfaces/msg/ParameterEvent')
    start = 1_585_866_235_112_411_371
    for index in range(10):
        stamp = start + index * 500_000_000
        writer.write(topic, stamp, store.serialize_cdr(
            string_msg(f'Hello World: {index + 1}'), 'std_msgs/msg/String'))
        log = types['rcl_interfaces/msg/Log'](
            stamp=header(index).stamp, level=20, name='talker',
            msg=f'Publishing: "Hello World: {index + 1}"', file='talker.cpp', function='run',
            line=42)
        writer.write(rosout, stamp + 1000, store.serialize_cdr(log, 'rcl_interfaces/msg/Log'))
    writer.close()
    with contextlib.closing(sqlite3.connect(path / f'{path.name}.db3')) as database:
        database.execute('UPDATE topics SET offered_qos_profiles = ?', (_FOXY_STORAGE_QOS,))
        database.commit()
    counts = {'/topic': 10, '/rosout': 10, '/parameter_events': 0}
    types_of = {'/topic': 'std_msgs/msg/String', '/rosout': 'rcl_interfaces/msg/Log',
                '/parameter_events': 'rcl_interfaces/msg/ParameterEvent'}
    metadata = {'rosbag2_bagfile_information': {
        'version': 4, 'storage_identifier': 'sqlite3',
        'relative_file_paths': [f'{path.name}.db3'],
        'duration': {'nanoseconds': 4_500_001_000},
        'starting_time': {'nanoseconds_since_epoch': start}, 'message_count': 20,
        'topics_with_message_count': [
            {'topic_metadata': {'name': name, 'type': types_of[name],
                                'serialization_format': 'cdr',
                                'offered_qos_profiles': _FOXY_METADATA_QOS},
             'message_count': count} for name, count in counts.items()],
        'compression_format': '', 'compression_mode': ''}}
    (path / 'metadata.yaml').write_text(yaml.safe_dump(metadata, sort_keys=False))
    return path


def test_foxy_metadata_qos_differs_from_storage_and_every_message_is_read(
        tmp_path: Path) -> None:
    bag = _foxy_bag(tmp_path / 'talker')
    raw = Reader(bag)  # the situation: rosbags alone reads none of the 20 messages
    raw.open()
    try:
        assert sum(c.msgcount for c in raw.connections) == 20
        assert sum(1 for _ in raw.messages()) == 0
    finally:
        raw.close()
    reader = open_reader(bag)
    try:
        read = [(c.topic, bytes(d)) for c, _, d in reader.messages()]
    finally:
        reader.close()
    assert [t for t, _ in read] == ['/topic', '/rosout'] * 10
    texts = [typestore().deserialize_cdr(d, 'std_msgs/msg/String').data
             for t, d in read if t == '/topic']
    assert texts == [f'Hello World: {i}' for i in range(1, 11)]


def test_foxy_bag_plays_all_20_messages(tmp_path: Path, ros_env: dict[str, str]) -> None:
    pytest.importorskip('rclpy', reason='rclpy is not installed')
    bag = _foxy_bag(tmp_path / 'talker')
    result = _cli('play', bag, '--rate', '20', env=_env(ros_env), timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'Published 20 messages' in result.stderr
    assert '(/rosout 10, /topic 10)' in result.stderr


def _overdeclared(path: Path) -> Path:
    pictures = [photo(name, 160, 120) for name in PHOTOS]
    bag = write_bag(path, [('/cam', image_msg(i, pictures[i % 4])) for i in range(30)])
    metadata = yaml.safe_load((bag / 'metadata.yaml').read_text())
    info = metadata['rosbag2_bagfile_information']
    info['message_count'] = 300
    info['topics_with_message_count'][0]['message_count'] = 300
    (bag / 'metadata.yaml').write_text(yaml.safe_dump(metadata))
    return bag


def test_classify_reports_fewer_messages_than_declared(tmp_path: Path) -> None:
    bag = _overdeclared(tmp_path / 'short')
    result = _cli('classify', bag, '-o', tmp_path / 'out')
    assert result.returncode == 1, result.stderr
    assert 'frames: 30 read, 30 classified, 0 rejected' in result.stdout
    assert ('fewer messages read than declared: /cam: the bag declares 300 messages, 30 were '
            'read') in result.stderr
    assert len(read_classifications(tmp_path / 'out')) == 30


def test_classify_of_an_empty_image_topic_is_not_success(tmp_path: Path) -> None:
    writer = open_writer(tmp_path / 'empty')
    add_connection(writer, '/cam', 'sensor_msgs/msg/Image')
    writer.close()
    result = _cli('classify', tmp_path / 'empty', '-o', tmp_path / 'out')
    assert result.returncode == 1, result.stderr
    assert 'no frame was read from /cam; nothing was classified' in result.stderr


def test_play_reports_fewer_messages_than_declared_and_empty_selections(
        tmp_path: Path, ros_env: dict[str, str]) -> None:
    pytest.importorskip('rclpy', reason='rclpy is not installed')
    bag = _overdeclared(tmp_path / 'short')
    result = _cli('play', bag, '--rate', '50', env=_env(ros_env), timeout=60)
    assert result.returncode == 1, result.stderr
    assert 'Published 30 messages' in result.stderr
    assert 'error: /cam: the bag declares 300 messages, 30 were read' in result.stderr
    empty = write_bag(tmp_path / 'mixed', [('/chatter', string_msg('x'))])
    writer_bag = _foxy_bag(tmp_path / 'talker')
    result = _cli('play', writer_bag, '--topics', '/parameter_events', env=_env(ros_env),
                  timeout=60)
    assert result.returncode == 1, result.stderr
    assert 'no message was read from /parameter_events' in result.stderr
    assert _cli('play', empty, '--rate', '50', env=_env(ros_env)).returncode == 0


def test_play_and_record_stop_cleanly_on_sigterm_and_sighup(
        sample_bag_path: Path, tmp_path: Path, ros_env: dict[str, str]) -> None:
    pytest.importorskip('rclpy', reason='rclpy is not installed')
    env = _env(ros_env)
    output = tmp_path / 'recorded'
    with _running(_command('record', output, '/image_raw', '--type',
                           '/image_raw:=sensor_msgs/msg/Image'), env=env) as recorder, \
            _running(_command('play', sample_bag_path, '--topics', '/image_raw', '--loop',
                              '--wait-for-subscribers', '20'), env=env) as player:
        assert player.stderr is not None
        for line in player.stderr:
            if line.startswith('Playing'):
                break
        time.sleep(2.0)
        sent = time.monotonic()
        recorder.send_signal(signal.SIGTERM)
        _, recorder_err = recorder.communicate(timeout=30)
        recorder_seconds = time.monotonic() - sent
        player.send_signal(signal.SIGHUP)
        _, player_err = player.communicate(timeout=30)
    assert recorder.returncode == 143, recorder_err
    assert player.returncode == 129, player_err
    assert 'Traceback' not in recorder_err + player_err
    assert 'Stopped by SIGTERM' in recorder_err and 'Stopped by SIGHUP' in player_err
    assert recorder_seconds < 5, recorder_seconds
    counts = consistent_counts(output)
    assert counts['/image_raw'] > 20
    assert f'Recorded {counts["/image_raw"]} messages' in recorder_err


def test_record_stops_by_itself_when_writing_fails(sample_bag_path: Path, tmp_path: Path,
                                                    ros_env: dict[str, str]) -> None:
    pytest.importorskip('rclpy', reason='rclpy is not installed')
    env = _env(ros_env)
    output = tmp_path / 'recorded'
    size = 40 * 1024 * 1024  # 960x544 nv12 frames: a commit point at 16 MB, full at 40 MB

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    with _running(_command('record', output, '/image_raw', '--type',
                           '/image_raw:=sensor_msgs/msg/Image'), env=env,
                  preexec_fn=limit) as recorder, \
            _running(_command('play', sample_bag_path, '--topics', '/image_raw', '--loop',
                              '--wait-for-subscribers', '20'), env=env) as player:
        _, recorder_err = recorder.communicate(timeout=60)
        player.send_signal(signal.SIGTERM)
        _, player_err = player.communicate(timeout=30)
    assert recorder.returncode == 1, recorder_err
    assert 'mobilenetv1-ros bag record: error: Bag ' in recorder_err
    assert 'Traceback' not in recorder_err + player_err
    assert player.returncode == 143, player_err
    counts = consistent_counts(output)
    assert 0 < counts['/image_raw'] < 60
    assert f'Recorded {counts["/image_raw"]} messages' in recorder_err


# --- 9. --summary-json to an unwritable path -----------------------------------------------------


@pytest.mark.parametrize('where', ['missing_dir', 'directory', 'proc', 'fifo'])
def test_unwritable_summary_json_fails_before_the_work(where: str, tmp_path: Path) -> None:
    bag = write_bag(tmp_path / 'in', [('/cam', image_msg(0, photo(PHOTOS[0], 64, 48)))])
    os.mkfifo(tmp_path / 'fifo')
    target = {'missing_dir': tmp_path / 'no' / 'such' / 'summary.json',
              'directory': tmp_path,
              'proc': Path('/proc/summary.json'),
              'fifo': tmp_path / 'fifo'}[where]
    result = _cli('classify', bag, '-o', tmp_path / 'out', '--summary-json', target)
    assert result.returncode == 2, result.stderr
    assert f'Summary file {target} cannot be written: ' in result.stderr
    assert not (tmp_path / 'out').exists()
    assert 'Summary:' not in result.stdout


def test_summary_json_that_fails_at_the_end_exits_1(tmp_path: Path) -> None:
    if not Path('/dev/full').exists():
        pytest.skip('no /dev/full here')
    bag = write_bag(tmp_path / 'in', [('/cam', image_msg(0, photo(PHOTOS[0], 64, 48)))])
    result = _cli('classify', bag, '-o', tmp_path / 'out', '--summary-json', '/dev/full')
    assert result.returncode == 1, result.stderr
    assert 'frames: 1 read, 1 classified, 0 rejected' in result.stdout
    assert 'summary file /dev/full cannot be written: No space left on device' in result.stderr
    assert consistent_counts(tmp_path / 'out') == {'/cam/classification': 1}
