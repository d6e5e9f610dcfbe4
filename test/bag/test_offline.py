"""Offline bag classification: the sample bag against its golden file, options, bad bags."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from bag_helpers import GOLDEN, compressed_msg, image_msg, photo, string_msg, write_bag

from mobilenetv1_ros.bag.bagio import open_reader
from mobilenetv1_ros.bag.errors import (
    BagOutputExistsError,
    BagReadError,
    NoImageTopicsError,
)
from mobilenetv1_ros.bag.messages import typestore
from mobilenetv1_ros.bag.offline import BagClassifyOptions, classify_bag, output_topic
from mobilenetv1_ros.bag.results import compare_to_golden, load_golden, read_classifications
from mobilenetv1_ros.bag.sample import CAMERAS, expected_frames


def _topic_map(*topics: str) -> dict[str, str]:
    return {topic: output_topic(topic) for topic in topics}


def test_golden_file_is_what_the_generator_describes() -> None:
    assert load_golden(GOLDEN) == expected_frames()
    document = json.loads(GOLDEN.read_text())
    assert document['topics'] == {c.topic: {'encoding': c.encoding, 'width': c.width,
                                            'height': c.height} for c in CAMERAS}


def test_sample_bag_has_camera_sized_nv12_and_bgr8_frames(sample_bag_path: Path) -> None:
    reader = open_reader(sample_bag_path)
    try:
        counts = {c.topic: c.msgcount for c in reader.connections}
        assert counts == {'/image_raw': 90, '/camera/color/image_raw': 90}
        seen = {}
        for connection, _, data in reader.messages():
            msg = typestore().deserialize_cdr(data, connection.msgtype)
            seen[connection.topic] = (msg.encoding, msg.width, msg.height, msg.step)
        assert seen == {'/image_raw': ('nv12', 960, 544, 960),
                        '/camera/color/image_raw': ('bgr8', 640, 480, 1920)}
        assert reader.duration / 1e9 == pytest.approx(3.0, abs=0.05)
    finally:
        reader.close()


def test_sample_bag_matches_golden(sample_bag_path: Path, classifier, tmp_path: Path) -> None:
    output = tmp_path / 'classified'
    summary = classify_bag(sample_bag_path, output, classifier)
    assert summary.ok, summary.format()
    assert (summary.frames, summary.classified, summary.rejected_count) == (180, 180, 0)
    records = read_classifications(output)
    assert len(records) == 180
    mismatches = compare_to_golden(records, load_golden(GOLDEN),
                                   _topic_map('/image_raw', '/camera/color/image_raw'))
    assert not mismatches, '\n'.join(map(str, mismatches))
    assert {r.frame_id for r in records} == {'camera_optical_frame',
                                             'camera_color_optical_frame'}
    reader = open_reader(sample_bag_path)
    try:
        inputs = {(c.topic, t) for c, t, _ in reader.messages()}
    finally:
        reader.close()
    assert {(r.topic.rsplit('/classification', 1)[0], r.timestamp) for r in records} == inputs
    assert all(len(r.results) == 5 and r.results[0][1] >= r.results[1][1] for r in records)
    assert sum(summary.classes.values()) == 180
    assert {class_id for class_id, _ in summary.classes} == {16, 285, 88, 934, 19}


def test_topic_selection_keep_inputs_mcap(sample_bag_path: Path, classifier,
                                          tmp_path: Path) -> None:
    output = tmp_path / 'nv12_only'
    summary = classify_bag(sample_bag_path, output, classifier,
                           BagClassifyOptions(topics=['/image_raw'], keep_inputs=True,
                                              storage='mcap'))
    assert summary.ok and summary.classified == 90 and summary.messages_written == 180
    assert list(output.glob('*.mcap'))
    reader = open_reader(output)
    try:
        assert {c.topic: c.msgcount for c in reader.connections} == {
            '/image_raw': 90, '/image_raw/classification': 90}
        copied = [data for c, _, data in reader.messages() if c.topic == '/image_raw']
    finally:
        reader.close()
    source = open_reader(sample_bag_path)
    try:
        original = [bytes(d) for c, _, d in source.messages() if c.topic == '/image_raw']
    finally:
        source.close()
    assert [bytes(d) for d in copied] == original
    mismatches = compare_to_golden(read_classifications(output), load_golden(GOLDEN),
                                   _topic_map('/image_raw'))
    assert not mismatches


def test_compressed_images(tmp_path: Path, classifier) -> None:
    bag = write_bag(tmp_path / 'compressed', [
        ('/cam/compressed', compressed_msg(0, photo('bulbul.JPEG'), 'jpeg')),
        ('/cam/compressed', compressed_msg(1, photo('parrot.jpg'), 'png')),
        ('/cam/image', image_msg(2, photo('hot_dog.jpg', 640, 480))),
    ])
    summary = classify_bag(bag, tmp_path / 'out', classifier)
    assert summary.ok
    tops = {(r.topic, r.top_class) for r in read_classifications(tmp_path / 'out')}
    assert tops == {('/cam/compressed/classification', 16),
                    ('/cam/compressed/classification', 88),
                    ('/cam/image/classification', 934)}


def test_unsupported_encoding_is_rejected_with_reason(tmp_path: Path, classifier) -> None:
    import numpy as np

    depth = np.full((48, 64), 1000, dtype=np.uint16)
    bag = write_bag(tmp_path / 'depth', [
        ('/cam/image', image_msg(0, photo('bulbul.JPEG', 640, 480))),
        ('/cam/image', image_msg(1, depth, encoding='16UC1')),
        ('/cam/image', image_msg(2, depth, encoding='16UC1')),
        ('/cam/image', image_msg(3, photo('parrot.jpg', 480, 640))),
    ])
    summary = classify_bag(bag, tmp_path / 'out', classifier)
    assert not summary.ok
    assert (summary.frames, summary.classified, summary.rejected_count) == (4, 2, 2)
    [((topic, reason), count)] = summary.rejected.items()
    assert topic == '/cam/image' and count == 2
    assert "Encoding '16UC1' is not supported" in reason
    assert '16UC1' in summary.format() and 'rejected frames: 2' in summary.format()
    assert [r.top_class for r in read_classifications(tmp_path / 'out')] == [16, 88]


def test_bag_without_image_topics(tmp_path: Path, classifier) -> None:
    bag = write_bag(tmp_path / 'strings', [('/chatter', string_msg('hello'))])
    with pytest.raises(NoImageTopicsError, match=r'no sensor_msgs/msg/Image or '
                       r'CompressedImage topic \(topics: /chatter \(std_msgs/msg/String\)\)'):
        classify_bag(bag, tmp_path / 'out', classifier)
    assert not (tmp_path / 'out').exists()


def test_requested_topics_must_be_image_topics(sample_bag_path: Path, tmp_path: Path,
                                               classifier) -> None:
    with pytest.raises(NoImageTopicsError, match="Topic '/nope' is not in bag"):
        classify_bag(sample_bag_path, tmp_path / 'out', classifier,
                     BagClassifyOptions(topics=['/nope']))
    bag = write_bag(tmp_path / 'mixed', [('/chatter', string_msg('x')),
                                         ('/cam', image_msg(0, photo('cat.bmp', 64, 48)))])
    with pytest.raises(NoImageTopicsError, match="'/chatter' has type std_msgs/msg/String"):
        classify_bag(bag, tmp_path / 'out', classifier, BagClassifyOptions(topics=['/chatter']))


def test_existing_output_is_kept_unless_overwrite(tmp_path: Path, classifier) -> None:
    bag = write_bag(tmp_path / 'in', [('/cam', image_msg(0, photo('bulbul.JPEG', 320, 240)))])
    classify_bag(bag, tmp_path / 'out', classifier)
    before = sorted(p.name for p in (tmp_path / 'out').iterdir())
    with pytest.raises(BagOutputExistsError, match='exists; pass --overwrite'):
        classify_bag(bag, tmp_path / 'out', classifier)
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == before
    summary = classify_bag(bag, tmp_path / 'out', classifier, BagClassifyOptions(overwrite=True))
    assert summary.ok and len(read_classifications(tmp_path / 'out')) == 1
    (tmp_path / 'notabag').mkdir()
    (tmp_path / 'notabag' / 'thesis.tex').write_text('precious')
    with pytest.raises(BagOutputExistsError, match=r'is not a rosbag2 bag: it has no '
                       r'metadata.yaml \(it holds thesis.tex\); refusing'):
        classify_bag(bag, tmp_path / 'notabag', classifier, BagClassifyOptions(overwrite=True))
    assert (tmp_path / 'notabag' / 'thesis.tex').read_text() == 'precious'
    with pytest.raises(BagOutputExistsError, match='is the input bag'):
        classify_bag(bag, bag, classifier, BagClassifyOptions(overwrite=True))


def _damage(path: Path, offset_fraction: float, length: int) -> None:
    storage = next(p for p in path.iterdir() if p.suffix in ('.db3', '.mcap'))
    size = storage.stat().st_size
    with storage.open('r+b') as handle:
        handle.seek(int(size * offset_fraction))
        handle.write(b'\xff' * length)


def test_corrupt_region_keeps_the_frames_before_it(sample_bag_path: Path, tmp_path: Path,
                                                   classifier) -> None:
    damaged = tmp_path / 'damaged'
    shutil.copytree(sample_bag_path, damaged)
    _damage(damaged, 0.5, 200_000)
    summary = classify_bag(damaged, tmp_path / 'out', classifier)
    assert summary.read_error is not None and 'malformed' in summary.read_error
    assert not summary.ok
    assert 30 < summary.classified < 180
    records = read_classifications(tmp_path / 'out')
    assert len(records) == summary.classified
    golden = [f for f in load_golden(GOLDEN)
              if (f['topic'], f['stamp_ns']) in {(r.topic.rsplit('/', 1)[0], r.stamp_ns)
                                                 for r in records}]
    assert len(golden) == len(records)
    assert not compare_to_golden(records, golden,
                                 _topic_map('/image_raw', '/camera/color/image_raw'))


def test_truncated_and_garbage_bags_raise_clear_errors(sample_bag_path: Path,
                                                       tmp_path: Path, classifier) -> None:
    truncated = tmp_path / 'truncated'
    shutil.copytree(sample_bag_path, truncated)
    storage = next(truncated.glob('*.db3'))
    with storage.open('r+b') as handle:
        handle.truncate(storage.stat().st_size // 2)
    with pytest.raises(BagReadError, match=r'cannot be read: .*malformed.*damaged or truncated'):
        classify_bag(truncated, tmp_path / 'out', classifier)
    garbage = tmp_path / 'garbage.db3'
    garbage.write_bytes(b'\x00not a database' * 1000)
    with pytest.raises(BagReadError, match='garbage.db3 cannot be read'):
        classify_bag(garbage, tmp_path / 'out', classifier)
    (tmp_path / 'badmeta').mkdir()
    (tmp_path / 'badmeta' / 'metadata.yaml').write_text('rosbag2_bagfile_information: {')
    with pytest.raises(BagReadError, match='badmeta cannot be read'):
        classify_bag(tmp_path / 'badmeta', tmp_path / 'out', classifier)
    with pytest.raises(BagReadError, match='does not exist'):
        classify_bag(tmp_path / 'missing', tmp_path / 'out', classifier)
    (tmp_path / 'empty').mkdir()
    with pytest.raises(BagReadError, match='no metadata.yaml and no .db3 or .mcap'):
        classify_bag(tmp_path / 'empty', tmp_path / 'out', classifier)
    assert not (tmp_path / 'out').exists()


def test_bag_without_metadata_is_read_from_its_storage_file(tmp_path: Path, classifier,
                                                            capsys) -> None:
    bag = write_bag(tmp_path / 'unclosed', [
        ('/cam', image_msg(0, photo('bulbul.JPEG', 640, 480))),
        ('/cam', image_msg(1, photo('hot_dog.jpg', 640, 480)))])
    (bag / 'metadata.yaml').unlink()
    summary = classify_bag(bag, tmp_path / 'out', classifier)
    assert summary.ok
    assert 'has no metadata.yaml' in capsys.readouterr().err
    assert [r.top_class for r in read_classifications(tmp_path / 'out')] == [16, 934]
