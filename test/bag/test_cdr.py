"""The in-place CDR reader and the direct Classification writer against rosbags' serializer."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from bag_helpers import compressed_msg, header, image_msg, photo

from mobilenetv1_ros.bag.cdr import Header, Stamp, classification_cdr, read_frame
from mobilenetv1_ros.bag.messages import (
    CLASSIFICATION_TYPE,
    COMPRESSED_IMAGE_TYPE,
    IMAGE_TYPE,
    classification_message,
    frame_from_message,
    typestore,
)
from mobilenetv1_ros.core.errors import ImageError
from mobilenetv1_ros.core.frames import as_bytes
from mobilenetv1_ros.core.postprocess import Prediction


def _messages() -> list[tuple[str, Any]]:
    picture = photo('bulbul.JPEG', 64, 48)
    odd = image_msg(3, picture[:, :63], 'bgr8')
    return [
        (IMAGE_TYPE, image_msg(1, picture, 'bgr8')),
        (IMAGE_TYPE, image_msg(2, picture[:, :, 0], 'mono8')),
        (IMAGE_TYPE, odd),
        (COMPRESSED_IMAGE_TYPE, compressed_msg(4, picture, 'jpeg')),
        (COMPRESSED_IMAGE_TYPE, compressed_msg(5, picture, 'png')),
    ]


def _same(data: bytes, msgtype: str) -> None:
    message: Any = typestore().deserialize_cdr(data, msgtype)
    got_header, got = read_frame(data, msgtype)
    expected = frame_from_message(message)
    assert got_header == Header(Stamp(message.header.stamp.sec, message.header.stamp.nanosec),
                                message.header.frame_id)
    assert type(got) is type(expected)
    for name in ('encoding', 'width', 'height', 'step', 'format'):
        assert getattr(got, name, None) == getattr(expected, name, None), name
    assert np.array_equal(as_bytes(got.data), as_bytes(expected.data))


@pytest.mark.parametrize('little_endian', [True, False])
def test_read_frame_equals_rosbags(little_endian: bool) -> None:
    store = typestore()
    for msgtype, message in _messages():
        data = bytes(store.serialize_cdr(message, msgtype, little_endian=little_endian))
        _same(data, msgtype)


def test_read_frame_keeps_the_pixels_in_place() -> None:
    data = bytes(typestore().serialize_cdr(_messages()[0][1], IMAGE_TYPE))
    _, frame = read_frame(data, IMAGE_TYPE)
    assert isinstance(frame.data, np.ndarray) and frame.data.base is not None
    assert not frame.data.flags.owndata


def test_read_frame_accepts_nothing_rosbags_refuses() -> None:
    """Truncated, extended and mutated messages: read in place only what rosbags reads alike."""
    store = typestore()
    generator = random.Random(7)
    refused = 0
    for msgtype, message in _messages():
        data = bytes(store.serialize_cdr(message, msgtype))
        variants = [data[:cut] for cut in range(0, 80)] + [data[:-4], data + b'\x00' * 4]
        for _ in range(300):
            mutated = bytearray(data)
            for _ in range(generator.randint(1, 3)):
                mutated[generator.randrange(min(len(data), 96))] = generator.randrange(256)
            variants.append(bytes(mutated))
        for variant in variants:
            try:
                read_frame(variant, msgtype)
            except (ImageError, UnicodeDecodeError):
                refused += 1
                continue
            _same(variant, msgtype)
    assert refused > 100


def test_read_frame_refuses_other_encapsulations_and_types() -> None:
    data = bytes(typestore().serialize_cdr(_messages()[0][1], IMAGE_TYPE))
    with pytest.raises(ImageError, match='encapsulation'):
        read_frame(b'\x00\x07' + data[2:], IMAGE_TYPE)
    with pytest.raises(ImageError, match='not an image type'):
        read_frame(data, 'std_msgs/msg/String')


@pytest.mark.parametrize('frame_id', ['', 'camera', 'cam_7', 'kamera_ü'])
def test_classification_cdr_equals_rosbags(frame_id: str) -> None:
    store = typestore()
    ros_header = header(11, frame_id)
    ours = Header(Stamp(ros_header.stamp.sec, ros_header.stamp.nanosec), frame_id)
    predictions = [Prediction(index * 101, 1.0 / (index + 1.5), 'x') for index in range(6)]
    for count in range(len(predictions) + 1):
        expected = store.serialize_cdr(classification_message(ros_header, predictions[:count]),
                                       CLASSIFICATION_TYPE)
        assert classification_cdr(ours, predictions[:count]) == bytes(expected)
