"""The player publishes a bag over real DDS (loopback) and the recorder writes it back."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from humble_check import humble_problems

from mobilenetv1_ros.bag.bagio import open_reader
from mobilenetv1_ros.bag.errors import BagError
from mobilenetv1_ros.bag.messages import typestore
from mobilenetv1_ros.bag.player import BagPlayer, PlayOptions, parse_remaps
from mobilenetv1_ros.bag.recorder import BagRecorder, discover_types


def _stamps(bag: Path, topic: str) -> list[tuple[int, str, bytes]]:
    reader = open_reader(bag)
    store = typestore()
    try:
        out = []
        for connection, _, data in reader.messages():
            if connection.topic == topic:
                msg = store.deserialize_cdr(data, connection.msgtype)
                out.append((msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec,
                            msg.encoding, bytes(msg.data)))
        return out
    finally:
        reader.close()


def test_play_and_record_round_trip(ros_node: Any, sample_bag_path: Path,
                                    tmp_path: Path) -> None:
    published = []
    player = BagPlayer(ros_node, sample_bag_path,
                       PlayOptions(topics=['/image_raw'], remap={'/image_raw': '/replayed'},
                                   rate=3.0, loops=2),
                       on_publish=published.append)
    try:
        assert player.topics == ['/replayed'] and player.message_count == 90
        types = {'/replayed': 'sensor_msgs/msg/Image'}
        recorder = BagRecorder(ros_node, tmp_path / 'recorded', types)
        assert player.wait_for_subscribers(10.0)
        stats = player.play()
    finally:
        player.close()
    deadline = threading.Event()
    for _ in range(100):
        if recorder.total >= 180:
            break
        deadline.wait(0.05)
    bag = recorder.close()
    assert stats.total == 180 and stats.loops == 2
    assert 1.7 < stats.seconds < 4.0, stats
    assert recorder.counts == {'/replayed': 180}
    recorded = _stamps(bag, '/replayed')
    original = _stamps(sample_bag_path, '/image_raw')
    assert recorded == original + original
    assert [p.timestamp for p in published[:90]] == [p.timestamp for p in published[90:]]
    gaps = [(b.wall_ns - a.wall_ns) / 1e6 for a, b in zip(published[1:90], published[2:90])]
    assert 5 < sorted(gaps)[len(gaps) // 2] < 20
    assert humble_problems(bag) == []


def test_discover_types_and_errors(ros_node: Any, sample_bag_path: Path) -> None:
    with pytest.raises(BagError, match='did not appear within 0.2 s'):
        discover_types(ros_node, ['/no_such_topic'], 0.2)
    player = BagPlayer(ros_node, sample_bag_path, PlayOptions(topics=['/image_raw']))
    try:
        assert discover_types(ros_node, ['/image_raw'], 5.0) == {
            '/image_raw': 'sensor_msgs/msg/Image'}
    finally:
        player.close()
    with pytest.raises(BagError, match='Topics /nope are not in bag'):
        BagPlayer(ros_node, sample_bag_path, PlayOptions(topics=['/nope']))
    with pytest.raises(BagError, match='Rate 0 must be positive'):
        BagPlayer(ros_node, sample_bag_path, PlayOptions(rate=0))
    with pytest.raises(BagError, match="Remap 'a=b' is not of the form FROM:=TO"):
        parse_remaps(['a=b'])
