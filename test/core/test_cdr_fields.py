"""core/cdr.py: image messages packed here by hand, in every byte order and encapsulation."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from mobilenetv1_ros.core.cdr import CDR_BYTE_ORDERS, read_image
from mobilenetv1_ros.core.errors import ImageError
from mobilenetv1_ros.core.frames import CompressedFrame, RawFrame

pytestmark = pytest.mark.board


def _string(order: str, text: bytes, pos: int) -> tuple[bytes, int]:
    padding = b'\0' * (-(pos - 4) % 4)
    out = padding + struct.pack(order + 'I', len(text) + 1) + text + b'\0'
    return out, pos + len(out)


def _image(kind: int, *, compressed: bool = False, pixels: bytes = bytes(range(12)),
           frame_id: bytes = b'camera') -> bytes:
    order = '<' if kind % 2 else '>'
    data = bytes([0, kind, 0, 0]) + struct.pack(order + 'iI', -5, 7)
    part, pos = _string(order, frame_id, len(data))
    data += part
    if compressed:
        part, pos = _string(order, b'jpeg', pos)
        data += part
    else:
        data += b'\0' * (-(pos - 4) % 4) + struct.pack(order + 'II', 2, 6)
        part, pos = _string(order, b'mono8', len(data))
        data += part + b'\1'
        data += b'\0' * (-(len(data) - 4) % 4) + struct.pack(order + 'I', 6)
    data += b'\0' * (-(len(data) - 4) % 4) + struct.pack(order + 'I', len(pixels)) + pixels
    return data


@pytest.mark.parametrize('kind', [0, 1, 6, 7])
def test_an_image_is_read_in_every_byte_order_and_encapsulation(kind: int) -> None:
    data = _image(kind)
    record = read_image(data)
    assert (record.sec, record.nanosec, record.frame_id) == (-5, 7, 'camera')
    frame = record.frame
    assert isinstance(frame, RawFrame)
    assert (frame.encoding, frame.width, frame.height, frame.step) == ('mono8', 6, 2, 6)
    assert bytes(frame.data) == bytes(range(12))
    assert np.shares_memory(frame.data, np.frombuffer(data, np.uint8))


def test_a_compressed_image_and_plain_cdr_only() -> None:
    record = read_image(_image(1, compressed=True, pixels=b'\xff\xd8'), compressed=True)
    assert isinstance(record.frame, CompressedFrame)
    assert (record.frame.format, bytes(record.frame.data)) == ('jpeg', b'\xff\xd8')
    with pytest.raises(ImageError, match=r"Serialized message has the unknown encapsulation "
                                         r"b'\\x00\\x07'"):
        read_image(_image(7), what='message', byte_orders=CDR_BYTE_ORDERS)


def test_every_cut_and_bad_field_is_refused_naming_it() -> None:
    data = _image(1)
    for cut in range(len(data)):
        with pytest.raises(ImageError, match='Serialized Image'):
            read_image(data[:cut])
    with pytest.raises(ImageError, match="its header frame_id b'\\\\xff' is not UTF-8"):
        read_image(_image(1, frame_id=b'\xff'))
    with pytest.raises(ImageError, match='4 bytes after its last field'):
        read_image(data + b'\0' * 4, exact=True)
    assert read_image(data + b'\0' * 3, exact=True).frame_id == 'camera'
