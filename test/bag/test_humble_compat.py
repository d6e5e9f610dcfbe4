"""Bags written here are readable by ROS 2 Humble's rosbag2; bags Humble writes are read here.

Humble itself is not installable here, so `humble_check` encodes what Humble's reader needs
(see its docstring for where that was read); negative controls show the check can fail.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import yaml
from bag_helpers import image_msg, photo, write_bag
from humble_check import humble_problems
from rosbags.rosbag2 import Writer

from mobilenetv1_ros.bag.bagio import BAG_VERSION, default_qos
from mobilenetv1_ros.bag.messages import typestore
from mobilenetv1_ros.bag.offline import BagClassifyOptions, classify_bag
from mobilenetv1_ros.bag.results import read_classifications


def test_written_bags_use_version_8_sqlite3(sample_bag_path: Path) -> None:
    info = yaml.safe_load((sample_bag_path / 'metadata.yaml').read_text())
    info = info['rosbag2_bagfile_information']
    assert BAG_VERSION == 8
    assert (info['version'], info['storage_identifier']) == (8, 'sqlite3')


def test_sample_bag_is_humble_readable(sample_bag_path: Path) -> None:
    assert humble_problems(sample_bag_path) == []


def test_classified_bag_is_humble_readable(tmp_path: Path, classifier) -> None:
    bag = write_bag(tmp_path / 'in', [('/cam', image_msg(0, photo('bulbul.JPEG', 640, 480))),
                                      ('/cam', image_msg(1, photo('cat.bmp', 640, 480)))])
    classify_bag(bag, tmp_path / 'out', classifier, BagClassifyOptions(keep_inputs=True))
    assert humble_problems(tmp_path / 'out') == []


def test_check_rejects_version_9_and_mcap(tmp_path: Path) -> None:
    store = typestore()
    with Writer(tmp_path / 'v9', version=9) as writer:
        connection = writer.add_connection('/cam', 'sensor_msgs/msg/Image', typestore=store,
                                           offered_qos_profiles=[default_qos()])
        writer.write(connection, 1, store.serialize_cdr(image_msg(0, photo('cat.bmp', 8, 6)),
                                                        'sensor_msgs/msg/Image'))
    assert any('offered_qos_profiles is list, Humble reads a string' in p
               for p in humble_problems(tmp_path / 'v9'))
    write_bag(tmp_path / 'mcap', [('/cam', image_msg(0, photo('cat.bmp', 8, 6)))], 'mcap')
    assert any("storage 'mcap'" in p for p in humble_problems(tmp_path / 'mcap'))


def _as_humble_recording(bag: Path) -> None:
    """Rewrite a bag the way Humble's recorder lays it out (metadata v5, db schema 3)."""
    meta_path = bag / 'metadata.yaml'
    document = yaml.safe_load(meta_path.read_text())
    info = document['rosbag2_bagfile_information']
    info['version'] = 5
    for key in ('custom_data', 'ros_distro'):
        info.pop(key, None)
    for topic in info['topics_with_message_count']:
        topic['topic_metadata'].pop('type_description_hash', None)
    meta_path.write_text(yaml.safe_dump(document))
    db = sqlite3.connect(bag / info['relative_file_paths'][0])
    db.executescript("""
        DROP TABLE message_definitions;
        CREATE TABLE topics_humble(id INTEGER PRIMARY KEY, name TEXT NOT NULL,
            type TEXT NOT NULL, serialization_format TEXT NOT NULL,
            offered_qos_profiles TEXT NOT NULL);
        INSERT INTO topics_humble SELECT id, name, type, serialization_format,
            offered_qos_profiles FROM topics;
        DROP TABLE topics;
        ALTER TABLE topics_humble RENAME TO topics;
        UPDATE schema SET schema_version = 3, ros_distro = 'humble';
    """)
    db.commit()
    db.close()


def test_bag_recorded_by_humble_is_classified(tmp_path: Path, classifier) -> None:
    bag = write_bag(tmp_path / 'humble', [
        ('/image_raw', image_msg(0, photo('parrot.jpg', 480, 640))),
        ('/image_raw', image_msg(1, photo('hot_dog.jpg', 640, 480)))])
    _as_humble_recording(bag)
    assert humble_problems(bag) == []
    summary = classify_bag(bag, tmp_path / 'out', classifier)
    assert summary.ok
    assert [r.top_class for r in read_classifications(tmp_path / 'out')] == [88, 934]
