"""The node's building blocks without a running node: statistics, QoS choice, conversions."""

from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.qos import DurabilityPolicy, HistoryPolicy, ReliabilityPolicy
from std_msgs.msg import Header

from mobilenetv1_ros.core.frames import CompressedFrame, RawFrame, read_image
from mobilenetv1_ros.core.labels import Labels
from mobilenetv1_ros.core.postprocess import Prediction
from mobilenetv1_ros.core.preprocess import Preprocessor
from mobilenetv1_ros.harness.frames import FRAME_ENCODINGS, photo_frame
from mobilenetv1_ros.harness.peer import diagnostic_values
from mobilenetv1_ros.core.stamps import split_ns, stamp_ns
from rclpy.serialization import serialize_message

from mobilenetv1_ros.ros.image_cdr import image_view
from mobilenetv1_ros.ros.convert import (
    classification_msg,
    frame_from_compressed,
    frame_msg,
    image_msg,
    label_info_msg,
    stamp_from_ns,
)
from mobilenetv1_ros.ros.diagnostics import diagnostic_status
from mobilenetv1_ros.ros.qos import (
    IMAGE_QUEUE_DEPTH,
    LATCHED_QOS,
    choose_reliability,
    image_qos,
    matched_reliability,
    reliability_override_name,
)
from mobilenetv1_ros.ros.stats import NodeStats, Throttle

RELIABLE, BEST_EFFORT = ReliabilityPolicy.RELIABLE, ReliabilityPolicy.BEST_EFFORT


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(('publishers', 'expected'), [
    ([], None),
    ([RELIABLE], 'reliable'),
    ([RELIABLE, RELIABLE], 'reliable'),
    ([BEST_EFFORT], 'best_effort'),
    ([RELIABLE, BEST_EFFORT], 'best_effort'),
])
def test_matched_reliability(publishers, expected):
    assert matched_reliability(publishers) == expected


@pytest.mark.parametrize(('override', 'requested', 'publishers', 'expected'), [
    ('best_effort', 'reliable', [RELIABLE], ('best_effort', 'set by qos_overrides./cam.'
                                             'subscription.reliability', False)),
    ('auto', 'reliable', [BEST_EFFORT], ('reliable', 'set by the reliability parameter', False)),
    ('auto', 'auto', [], ('best_effort', 'no publisher yet; matching the first ones', True)),
    ('auto', 'auto', [RELIABLE], ('reliable', 'matched to the publishers on /cam', True)),
    ('auto', 'auto', [RELIABLE, BEST_EFFORT], ('best_effort', 'matched to the publishers on /cam',
                                               True)),
])
def test_choose_reliability_override_then_parameter_then_publishers(override, requested,
                                                                    publishers, expected):
    assert choose_reliability(override, requested, '/cam', publishers) == expected


def test_image_qos_keeps_a_short_burst_queue():
    for name, policy in (('reliable', RELIABLE), ('best_effort', BEST_EFFORT)):
        profile = image_qos(name)
        assert profile.depth == IMAGE_QUEUE_DEPTH == 10
        assert profile.history == HistoryPolicy.KEEP_LAST
        assert profile.reliability == policy
        assert profile.durability == DurabilityPolicy.VOLATILE
    assert LATCHED_QOS.durability == DurabilityPolicy.TRANSIENT_LOCAL
    assert reliability_override_name('/image_raw') == \
        'qos_overrides./image_raw.subscription.reliability'


def test_stats_rates_counts_and_percentiles():
    clock = FakeClock()
    stats = NodeStats(history=100, clock=clock)
    for index in range(10):
        stats.received()
        stats.classified(convert=1.0, wait=0.5, infer=10.0 + index, postprocess=0.2,
                         publish=0.1, end_to_end=12.0 + index)
    stats.dropped(3)
    stats.rejected('bad_frame')
    stats.rejected('bad_frame')
    stats.failed('BackendError')
    clock.now += 2.0
    snapshot = stats.snapshot()
    assert (snapshot.received, snapshot.classified, snapshot.dropped) == (10, 10, 3)
    assert snapshot.rejected_by_reason == {'bad_frame': 2}
    assert snapshot.failed == snapshot.new_failed == 1
    assert snapshot.input_rate_hz == pytest.approx(5.0)
    assert snapshot.output_rate_hz == pytest.approx(5.0)
    assert snapshot.latency['infer'].p50_ms == pytest.approx(14.5)
    assert snapshot.latency['overhead'].p50_ms == pytest.approx(2.0)
    assert snapshot.latency['infer'].p95_ms == pytest.approx(np.percentile(range(10, 20), 95))
    assert snapshot.seconds_since_input == pytest.approx(2.0)
    clock.now += 1.0
    later = stats.snapshot()
    assert later.input_rate_hz == 0.0 and later.new_rejected == 0 and later.new_failed == 0
    assert later.rejected == 2


def test_stats_keep_only_the_recent_history():
    stats = NodeStats(history=5)
    for index in range(20):
        stats.classified(convert=0, wait=0, infer=index, postprocess=0, publish=0,
                         end_to_end=index)
    assert stats.samples('infer') == [15, 16, 17, 18, 19]
    assert stats.snapshot().latency['infer'].samples == 5


def test_throttle_lets_one_event_per_key_and_period_through():
    clock = FakeClock()
    throttle = Throttle(1.0, clock)
    assert throttle.ready('bad_frame')
    assert not throttle.ready('bad_frame')
    assert throttle.ready('undecodable')
    clock.now += 0.99
    assert not throttle.ready('bad_frame')
    clock.now += 0.02
    assert throttle.ready('bad_frame')


def test_diagnostic_levels_follow_new_problems():
    clock = FakeClock()
    stats = NodeStats(clock=clock)
    status = diagnostic_status(stats.snapshot(), name='n: classifier', hardware_id='onnx',
                               active=False)
    assert (status.level, status.message) == (DiagnosticStatus.OK, 'inactive')
    stats.received()
    stats.rejected('unsupported_encoding')
    status = diagnostic_status(stats.snapshot(), name='n: classifier', hardware_id='onnx',
                               active=True, details=[('backend', 'onnx')])
    assert status.level == DiagnosticStatus.WARN
    assert 'unsupported_encoding' in status.message
    values = diagnostic_values(status)
    assert values['rejected.unsupported_encoding'] == '1' and values['backend'] == 'onnx'
    stats.failed('BackendError')
    status = diagnostic_status(stats.snapshot(), name='n', hardware_id='onnx', active=True)
    assert status.level == DiagnosticStatus.ERROR
    status = diagnostic_status(stats.snapshot(), name='n', hardware_id='onnx', active=True)
    assert status.level == DiagnosticStatus.OK


@pytest.mark.parametrize('encoding', FRAME_ENCODINGS)
def test_frames_survive_the_trip_through_messages_without_copies(images_dir, encoding):
    photo = read_image(images_dir / 'bulbul.JPEG')
    frame = photo_frame(photo, encoding)
    msg = frame_msg(frame, Header(frame_id='cam'))
    assert msg.header.frame_id == 'cam'
    if isinstance(frame, CompressedFrame):
        back = frame_from_compressed(msg)
        assert back.format == frame.format
        assert np.shares_memory(back.data, np.frombuffer(msg.data, np.uint8))
    else:
        serialized = serialize_message(msg)
        view = image_view(serialized)
        back = view.frame
        assert view.header == msg.header
        assert (back.encoding, back.width, back.height, back.step) == \
            (frame.encoding, frame.width, frame.height, frame.step)
        assert np.shares_memory(back.data, np.frombuffer(serialized, np.uint8))
    assert bytes(back.data) == bytes(frame.data)
    preprocessor = Preprocessor(224, 224)
    assert np.array_equal(preprocessor(back), preprocessor(frame))


def test_image_msg_of_a_bgr_array_and_nv12_rows():
    bgr = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    msg = image_msg(bgr, 'bgr8')
    assert (msg.width, msg.height, msg.step, msg.encoding) == (6, 4, 18, 'bgr8')
    assert bytes(msg.data) == bgr.tobytes()
    nv12 = np.zeros((6, 6), np.uint8)
    msg = image_msg(nv12, 'nv12')
    assert (msg.width, msg.height, msg.step) == (6, 4, 6)
    assert isinstance(image_view(serialize_message(msg)).frame, RawFrame)


def test_result_and_label_messages():
    header = Header(frame_id='cam')
    header.stamp.sec, header.stamp.nanosec = 7, 9
    msg = classification_msg(header, [Prediction(16, 0.9, 'bulbul'), Prediction(20, 0.05, 'x')])
    assert msg.header == header
    assert [(h.class_id, h.score) for h in msg.results] == [('16', pytest.approx(0.9)),
                                                          ('20', pytest.approx(0.05))]
    labels = Labels(('a', 'b', 'c'))
    info = label_info_msg(labels, 0.25, header.stamp)
    assert [(c.class_id, c.class_name) for c in info.class_map] == [(0, 'a'), (1, 'b'),
                                                                    (2, 'c')]
    assert info.threshold == pytest.approx(0.25)


@pytest.mark.parametrize('nanoseconds', [0, 1, 999_999_999, 1_000_000_000,
                                         1_704_067_200_033_333_333])
def test_stamps_round_trip_through_messages(nanoseconds):
    stamp = stamp_from_ns(nanoseconds)
    assert (stamp.sec, stamp.nanosec) == split_ns(nanoseconds)
    assert 0 <= stamp.nanosec < 1_000_000_000
    assert stamp_ns(stamp) == nanoseconds
    header = Header(stamp=stamp)
    assert stamp_ns(header.stamp) == nanoseconds
