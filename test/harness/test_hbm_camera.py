"""harness.hbm_camera: serialized HbmMsg frames, read back by the node's own reader (no DDS)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from shared import IMAGES_DIR

from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.core.frames import bgr_to_nv12
from mobilenetv1_ros.perf.load_settings import HBM_DATA_BYTES
from mobilenetv1_ros.ros.params import HBM_TYPES

hbm_msgs = pytest.importorskip('hbm_img_msgs.msg', reason='hbm_img_msgs is not built here')
from rclpy.serialization import deserialize_message  # noqa: E402

from mobilenetv1_ros.harness.hbm_camera import HbmFrames  # noqa: E402
from mobilenetv1_ros.ros.hbmem import frame_from_hbm, hbm_view  # noqa: E402


@pytest.fixture(scope='module')
def rows() -> np.ndarray:
    photo = cv2.imread(str(IMAGES_DIR / 'cat_720p.jpg'), cv2.IMREAD_COLOR)
    assert photo is not None
    small = cv2.resize(photo, (320, 240), interpolation=cv2.INTER_AREA)
    return bgr_to_nv12(small).reshape(-1)


def test_the_load_tool_knows_each_types_data_array() -> None:
    assert {name: int(getattr(hbm_msgs, name).MAX_SIZE) for name in HBM_TYPES} == HBM_DATA_BYTES


@pytest.mark.parametrize('name', HBM_TYPES)
def test_a_message_reads_back_as_the_frame_it_was_made_of(name: str, rows: np.ndarray) -> None:
    msg_type = getattr(hbm_msgs, name)
    frames = HbmFrames(msg_type)
    message = frames.message(rows, 320, 240)
    serialized = frames.stamp(message, 41, 1_700_000_000_123_456_789)
    view = hbm_view(serialized, msg_type)
    assert (view.index, view.time_stamp.sec, view.time_stamp.nanosec) == (
        41, 1_700_000_000, 123_456_789)
    frame = frame_from_hbm(view)
    assert (frame.encoding, frame.width, frame.height, frame.step) == ('nv12', 320, 240, 320)
    assert np.array_equal(np.asarray(frame.data), rows)
    # rclpy reads the same bytes the same way: the layout is the message's.
    typed = deserialize_message(serialized, msg_type)
    assert (typed.width, typed.height, typed.data_size, typed.step) == (320, 240, rows.size, 320)
    assert bytes(typed.encoding[:4]) == b'nv12' and not any(typed.encoding[4:])
    # Stamping again changes the stamp only; the pixels stay.
    again = hbm_view(frames.stamp(message, 42, 5), msg_type)
    assert (again.index, again.time_stamp.sec, again.time_stamp.nanosec) == (42, 0, 5)
    assert np.array_equal(np.asarray(frame_from_hbm(again).data), rows)


def test_a_message_can_lie_about_its_fields(rows: np.ndarray) -> None:
    frames = HbmFrames(hbm_msgs.HbmMsg480P)
    padded = np.full((360, 384), 77, np.uint8)
    padded[:, :320] = rows.reshape(360, 320)
    view = hbm_view(frames.stamp(frames.message(padded, 320, 240, step=384, encoding=b'nv21',
                                                data_size=7), 1, 0), hbm_msgs.HbmMsg480P)
    assert (view.step, view.data_size, bytes(view.encoding)) == (384, 7, b'nv21'.ljust(12, b'\0'))


def test_a_frame_larger_than_the_array_is_refused_naming_both_sizes() -> None:
    frames = HbmFrames(hbm_msgs.HbmMsg480P)
    with pytest.raises(ConfigError, match='3110400 bytes does not fit the 921600-byte data '
                                          'array of HbmMsg480P'):
        frames.message(np.zeros(1920 * 1080 * 3 // 2, np.uint8), 1920, 1080)


def test_only_hbm_messages_are_made() -> None:
    from sensor_msgs.msg import Image
    with pytest.raises(ConfigError, match='sensor_msgs.msg._image.Image is not an hbm_img_msgs'):
        HbmFrames(Image)
