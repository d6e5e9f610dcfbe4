"""image_view reads what rclpy serializes, field for field, and refuses what is not an Image."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image

from mobilenetv1_ros.core.errors import ImageError
from mobilenetv1_ros.core.frames import ENCODINGS
from mobilenetv1_ros.ros.image_cdr import image_view


@settings(max_examples=150, deadline=None)
# A string field is a C string on the wire: a NUL ends it (rclpy's own round trip too).
@given(frame_id=st.text(st.characters(blacklist_characters='\x00'), max_size=40),
       encoding=st.sampled_from(sorted(ENCODINGS)),
       width=st.integers(0, 70), height=st.integers(0, 9), pad=st.integers(0, 5),
       sec=st.integers(-2**31, 2**31 - 1), nanosec=st.integers(0, 10**9 - 1),
       is_bigendian=st.integers(0, 1), seed=st.integers(0, 2**32 - 1))
def test_every_field_of_a_serialized_image_is_read_in_place(frame_id, encoding, width, height,
                                                            pad, sec, nanosec, is_bigendian,
                                                            seed):
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=is_bigendian,
                step=width * 3 + pad)
    msg.header.frame_id = frame_id
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    data = np.random.default_rng(seed).integers(0, 256, msg.step * height, np.uint8)
    msg.data = data.tobytes()
    serialized = serialize_message(msg)
    view = image_view(serialized)
    assert view.header == msg.header
    frame = view.frame
    assert (frame.encoding, frame.width, frame.height, frame.step) == \
        (encoding, width, height, msg.step)
    assert np.array_equal(frame.data, data)
    if data.size:
        assert np.shares_memory(frame.data, np.frombuffer(serialized, np.uint8))


def test_truncated_or_foreign_bytes_are_refused_naming_the_field():
    msg = Image(height=2, width=4, encoding='mono8', step=4, data=bytes(range(8)))
    msg.header.frame_id = 'camera'
    serialized = serialize_message(msg)
    for cut in range(len(serialized)):
        with pytest.raises(ImageError, match='Serialized Image'):
            image_view(serialized[:cut])
    with pytest.raises(ImageError, match='unknown encapsulation'):
        image_view(b'\x00\x09' + serialized[2:])
    assert image_view(serialized).frame.data.tobytes() == bytes(range(8))
