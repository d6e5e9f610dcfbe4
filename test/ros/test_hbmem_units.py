"""hbm_img_msgs messages read in place, and the overlap filter of the reliability switch.

Real messages serialized by rclpy (the bytes a camera sends) are read by `hbm_view` and turned
into frames the core classifies; malformed fields must raise errors naming the value.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from rclpy.serialization import serialize_message

from mobilenetv1_ros.core.errors import ImageError, UnsupportedEncodingError
from mobilenetv1_ros.core.frames import bgr_to_nv12, frame_to_bgr
from mobilenetv1_ros.ros.hbmem import (
    frame_from_hbm,
    hbm_encoding,
    hbm_type_name,
    hbm_view,
)
from mobilenetv1_ros.ros.params import HBM_TYPES
from mobilenetv1_ros.ros.qos import OverlapFilter

hbm_msgs = pytest.importorskip('hbm_img_msgs.msg', reason='hbm_img_msgs is not built here')


def _message(name, nv12, width, height, *, encoding=b'nv12', data_size=None, stamp=(7, 9)):
    cls = getattr(hbm_msgs, name)
    msg = cls()
    msg.index = 3
    msg.time_stamp.sec, msg.time_stamp.nanosec = stamp
    msg.width, msg.height, msg.step = width, height, width
    msg.data_size = nv12.size if data_size is None else data_size
    msg.encoding = np.frombuffer(encoding.ljust(12, b'\0')[:12], np.uint8)
    data = np.full(cls.MAX_SIZE, 200, dtype=np.uint8)  # padding that must not be read
    data[:nv12.size] = nv12.reshape(-1)
    msg.data = data
    return msg


@pytest.fixture(scope='module')
def parrot(images_dir):
    return cv2.resize(cv2.imread(str(images_dir / 'parrot.jpg')), (640, 480))


@pytest.mark.parametrize('name', HBM_TYPES)
def test_serialized_message_reads_back_as_the_frame(name, parrot):
    nv12 = bgr_to_nv12(parrot)
    msg = _message(name, nv12, 640, 480, stamp=(1_700_000_000, 5))
    view = hbm_view(serialize_message(msg), type(msg))
    assert (view.type_name, view.index, view.width, view.height) == (name, 3, 640, 480)
    assert (view.time_stamp.sec, view.time_stamp.nanosec) == (1_700_000_000, 5)
    for source in (view, msg):
        frame = frame_from_hbm(source)
        assert (frame.encoding, frame.width, frame.height, frame.step) == ('nv12', 640, 480, 640)
        assert np.array_equal(np.asarray(frame.data), nv12)
        assert np.array_equal(frame_to_bgr(frame), frame_to_bgr(frame_from_hbm(msg)))


def test_a_message_of_another_size_is_not_read(parrot):
    msg = _message('HbmMsg480P', bgr_to_nv12(parrot), 640, 480)
    with pytest.raises(ImageError, match='is not a HbmMsg1080P'):
        hbm_view(serialize_message(msg), hbm_msgs.HbmMsg1080P)
    serialized = bytearray(serialize_message(msg))
    serialized[1] = 9
    with pytest.raises(ImageError, match='unknown encapsulation'):
        hbm_view(bytes(serialized), hbm_msgs.HbmMsg480P)


@pytest.mark.parametrize(('raw', 'text'), [
    (b'nv12', 'nv12'), (b'bgr8', 'bgr8'), (b'yuv422_yuy2', 'yuv422_yuy2'),
    (b'0123456789ab', '0123456789ab')])
def test_encoding_is_the_text_before_the_padding(raw, text):
    assert hbm_encoding(np.frombuffer(raw.ljust(12, b'\0'), np.uint8)) == text


@pytest.mark.parametrize('raw', [b'', b'nv12\0x', b'\xffnv12', b'nv 12\n', b'\0nv12'])
def test_bad_encoding_bytes_are_rejected_naming_them(raw):
    field = np.frombuffer(raw.ljust(12, b'\0'), np.uint8)
    with pytest.raises(UnsupportedEncodingError, match='Encoding field b'):
        hbm_encoding(field)


def test_data_size_must_fit_the_array_and_the_frame(parrot):
    nv12 = bgr_to_nv12(parrot)
    over = _message('HbmMsg480P', nv12, 640, 480, data_size=640 * 480 * 3 + 1)
    with pytest.raises(ImageError, match='data_size 921601 exceeds the 921600-byte data array '
                                         'of HbmMsg480P'):
        frame_from_hbm(hbm_view(serialize_message(over), hbm_msgs.HbmMsg480P))
    short = _message('HbmMsg480P', nv12, 640, 480, data_size=640 * 480)
    with pytest.raises(ImageError, match=r'data_size 307200 does not match step x height x '
                                         r'3/2 = 640 x 480 x 3/2 = 460800'):
        frame_from_hbm(short)


def test_type_name_of_the_graph():
    assert hbm_type_name('hbm_img_msgs/msg/HbmMsg540P') == 'HbmMsg540P'
    assert hbm_type_name('hbm_img_msgs/msg/HbmMsg4K') is None
    assert hbm_type_name('sensor_msgs/msg/Image') is None


def test_overlap_filter_drops_a_stamp_another_subscription_delivered():
    overlap = OverlapFilter(history=4, window=2.0)
    assert overlap.admit(1, 100, now=0.0)
    assert not overlap.admit(2, 100, now=0.1)  # the same frame through the other subscription
    assert overlap.admit(1, 100, now=0.2)  # one subscription's frames are never dropped
    assert overlap.admit(2, 200, now=0.3)
    assert not overlap.admit(1, 200, now=0.4)
    assert overlap.admit(2, 100, now=2.5)  # long after: a new frame with an old stamp
    for stamp in range(300, 305):
        overlap.admit(1, stamp, now=3.0)
    assert overlap.admit(2, 300, now=3.1)  # forgotten: only `history` stamps are kept
