"""`mobilenetv1-ros bag ...` as a user runs it: exit codes, messages, never a traceback."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bag_helpers import GOLDEN, image_msg, photo, string_msg, write_bag
from shared import REPO_ROOT

from mobilenetv1_ros.bag.bagio import open_reader
from mobilenetv1_ros.bag.offline import output_topic
from mobilenetv1_ros.bag.results import compare_to_golden, load_golden, read_classifications


def _cli(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, '-m', 'mobilenetv1_ros', 'bag', *map(str, args)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    assert 'Traceback' not in result.stderr, result.stderr
    return result


def test_classify_sample_bag(sample_bag_path: Path, tmp_path: Path) -> None:
    result = _cli('classify', sample_bag_path, '-o', tmp_path / 'out', '--summary-json',
                  tmp_path / 'summary.json', '-v', '--top-k', '3')
    assert result.returncode == 0, result.stderr
    assert 'frames: 180 read, 180 classified, 0 rejected' in result.stdout
    assert 'frames/s' in result.stdout and 'classes seen (top-1): 5' in result.stdout
    assert '/image_raw 1704067200.000000000: bulbul 0.' in result.stdout
    records = read_classifications(tmp_path / 'out')
    assert {len(r.results) for r in records} == {3}
    topics = {t: output_topic(t) for t in ('/image_raw', '/camera/color/image_raw')}
    assert not compare_to_golden(records, load_golden(GOLDEN), topics)
    assert '"classified": 180' in (tmp_path / 'summary.json').read_text()
    again = _cli('classify', sample_bag_path, '-o', tmp_path / 'out')
    assert again.returncode == 2
    assert 'exists; pass --overwrite to replace it' in again.stderr


def _unsupported(tmp_path: Path) -> Path:
    import numpy as np

    return write_bag(tmp_path / 'depth', [
        ('/cam', image_msg(0, photo('bulbul.JPEG', 320, 240))),
        ('/cam', image_msg(1, np.zeros((24, 32), np.uint16), encoding='16UC1'))])


def _corrupt(tmp_path: Path, sample: Path) -> Path:
    bag = tmp_path / 'corrupt'
    shutil.copytree(sample, bag)
    storage = next(bag.glob('*.db3'))
    with storage.open('r+b') as handle:
        handle.seek(storage.stat().st_size // 2)
        handle.write(b'\xff' * 200_000)
    return bag


def _truncated(tmp_path: Path, sample: Path) -> Path:
    bag = tmp_path / 'truncated'
    shutil.copytree(sample, bag)
    storage = next(bag.glob('*.db3'))
    with storage.open('r+b') as handle:
        handle.truncate(storage.stat().st_size // 3)
    return bag


@pytest.mark.parametrize(('case', 'code', 'message'), [
    ('no_images', 2, 'has no sensor_msgs/msg/Image or CompressedImage topic (topics: '
                     '/chatter (std_msgs/msg/String))'),
    ('unsupported', 1, '1 of 2 frames were rejected'),
    ('corrupt', 1, 'is corrupt or truncated (CorruptError: database disk image is malformed)'),
    ('truncated', 2, 'the sqlite3 file is damaged or truncated'),
    ('not_a_bag', 2, 'is not a rosbag2 bag'),
])
def test_bad_bags_exit_non_zero_with_a_clear_message(case: str, code: int, message: str,
                                                     tmp_path: Path,
                                                     sample_bag_path: Path) -> None:
    if case == 'no_images':
        bag = write_bag(tmp_path / 'strings', [('/chatter', string_msg('hi'))])
    elif case == 'unsupported':
        bag = _unsupported(tmp_path)
    elif case == 'corrupt':
        bag = _corrupt(tmp_path, sample_bag_path)
    elif case == 'truncated':
        bag = _truncated(tmp_path, sample_bag_path)
    else:
        bag = tmp_path / 'notes.txt'
        bag.write_text('not a bag')
    result = _cli('classify', bag, '-o', tmp_path / 'out')
    assert result.returncode == code, result.stdout + result.stderr
    assert message in result.stderr
    if case == 'unsupported':
        assert "Encoding '16UC1' is not supported" in result.stdout
        assert [r.top_class for r in read_classifications(tmp_path / 'out')] == [16]
    if case == 'corrupt':
        written = read_classifications(tmp_path / 'out')
        assert 30 < len(written) < 180
        assert f'the {len(written)} frames before the damage were written' in result.stderr


def _digest(bag: Path) -> list[tuple[str, int, str]]:
    reader = open_reader(bag)
    try:
        return [(c.topic, t, hashlib.sha256(d).hexdigest()) for c, t, d in reader.messages()]
    finally:
        reader.close()


def test_make_sample_is_reproducible(tmp_path: Path, sample_bag_path: Path) -> None:
    result = _cli('make-sample', tmp_path / 'sample', '--golden', tmp_path / 'golden.json')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / 'sample')
    assert (tmp_path / 'golden.json').read_text() == GOLDEN.read_text()
    assert _digest(tmp_path / 'sample') == _digest(sample_bag_path)
    assert _cli('make-sample', tmp_path / 'sample').returncode == 2


def test_play_into_record_over_dds(sample_bag_path: Path, tmp_path: Path,
                                   ros_env: dict[str, str]) -> None:
    pytest.importorskip('rclpy', reason='rclpy is not installed')
    command = [sys.executable, '-m', 'mobilenetv1_ros', 'bag']
    recorder = subprocess.Popen(
        [*command, 'record', str(tmp_path / 'recorded'), '/camera/color/image_raw',
         '--count', '90', '--duration', '30', '--discovery-timeout', '20'],
        cwd=REPO_ROOT, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        player = subprocess.run(
            [*command, 'play', str(sample_bag_path), '--topics', '/camera/color/image_raw',
             '--remap', '/camera/color/image_raw:=/camera/color/image_raw', '--rate', '2',
             '--qos-depth', '60',
             '--wait-for-subscribers', '20'],
            cwd=REPO_ROOT, env=ros_env, capture_output=True, text=True, timeout=60)
        _, recorder_err = recorder.communicate(timeout=30)
    finally:
        if recorder.poll() is None:
            recorder.kill()
            recorder.wait()
    assert player.returncode == 0, player.stderr
    assert 'Published 90 messages' in player.stderr
    assert recorder.returncode == 0, recorder_err
    assert 'Traceback' not in player.stderr + recorder_err
    assert 'Recorded 90 messages' in recorder_err
    assert _digest(tmp_path / 'recorded') != []
    recorded = [(topic, digest) for topic, _, digest in _digest(tmp_path / 'recorded')]
    original = [(topic, digest) for topic, _, digest in _digest(sample_bag_path)
                if topic == '/camera/color/image_raw']
    assert recorded == original
