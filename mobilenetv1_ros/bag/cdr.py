"""Image messages read in place from their CDR bytes, Classification messages written directly.

The offline tool reads a bag's frames as stored bytes. A full rosbags deserialization builds a
message object per frame; here only the fields the tool needs are read at their offsets, and the
pixels stay a view of the stored bytes. The result message is packed in one pass the same way.
Both cover plain CDR (little and big endian, what rosbags reads); anything these readers refuse
goes back to rosbags (`bag.offline`), so its error messages stay the ones reported.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from mobilenetv1_ros.bag.messages import COMPRESSED_IMAGE_TYPE, IMAGE_TYPE
from mobilenetv1_ros.core.errors import ImageError
from mobilenetv1_ros.core.frames import CompressedFrame, RawFrame

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mobilenetv1_ros.core.frames import Frame
    from mobilenetv1_ros.core.postprocess import Prediction

__all__ = ['Header', 'Stamp', 'classification_cdr', 'read_frame']

#: Encapsulation kind (second byte) -> struct byte order: plain CDR, big and little endian.
_BYTE_ORDERS = {0: '>', 1: '<'}
#: Fields are aligned from the end of the 4-byte encapsulation header.
_ORIGIN = 4
#: Padding a serializer may leave after the last field.
_MAX_PADDING = 3
_LITTLE_HEADER = b'\x00\x01\x00\x00'


class Stamp(NamedTuple):
    """builtin_interfaces/Time."""

    sec: int
    nanosec: int


class Header(NamedTuple):
    """std_msgs/Header."""

    stamp: Stamp
    frame_id: str


class _Fields:
    """Walks the CDR fields of one message, checking every length against the data."""

    def __init__(self, data: bytes, order: str) -> None:
        self.data = data
        self.order = order
        self.pos = _ORIGIN

    def _need(self, count: int, what: str) -> None:
        if self.pos + count > len(self.data):
            raise ImageError(f'Serialized message of {len(self.data)} bytes ends inside its '
                             f'{what} (at byte {self.pos}, {count} more needed)')

    def uint32(self, what: str) -> int:
        self.pos += -(self.pos - _ORIGIN) % 4
        self._need(4, what)
        (value,) = struct.unpack_from(self.order + 'I', self.data, self.pos)
        self.pos += 4
        return int(value)

    def int32(self, what: str) -> int:
        self.pos += -(self.pos - _ORIGIN) % 4
        self._need(4, what)
        (value,) = struct.unpack_from(self.order + 'i', self.data, self.pos)
        self.pos += 4
        return int(value)

    def string(self, what: str) -> str:
        length = self.uint32(what)
        self._need(length, what)
        raw = self.data[self.pos:self.pos + length]
        self.pos += length
        if not raw or raw[-1] != 0:
            raise ImageError(f'Serialized message: its {what} is not a NUL-terminated string')
        return raw[:-1].decode('utf-8')

    def octets(self, what: str) -> np.ndarray:
        size = self.uint32(what)
        self._need(size, what)
        view = np.frombuffer(self.data, np.uint8, size, self.pos)
        self.pos += size
        return view

    def skip(self, count: int, what: str) -> None:
        self._need(count, what)
        self.pos += count

    def header(self) -> Header:
        sec = self.int32('header stamp')
        nanosec = self.uint32('header stamp')
        return Header(Stamp(sec, nanosec), self.string('header frame_id'))

    def end(self) -> None:
        if len(self.data) - self.pos > _MAX_PADDING:
            raise ImageError(f'Serialized message has {len(self.data) - self.pos} bytes after '
                             'its last field')


def read_frame(data: bytes, msgtype: str) -> tuple[Header, Frame]:
    """Read a serialized sensor_msgs/Image or CompressedImage without copying its pixels.

    Raises:
        ImageError: Not plain CDR, a length past the end, a string that is not NUL-terminated
            UTF-8, trailing bytes, or another message type.
        UnicodeDecodeError: A string that is not UTF-8.
    """
    order = _BYTE_ORDERS.get(data[1]) if len(data) >= _ORIGIN and data[0] == 0 else None
    if order is None:
        raise ImageError(f'Serialized message has the unknown encapsulation {bytes(data[:2])!r}')
    fields = _Fields(data, order)
    header = fields.header()
    frame: Frame
    if msgtype == IMAGE_TYPE:
        height = fields.uint32('height')
        width = fields.uint32('width')
        encoding = fields.string('encoding')
        fields.skip(1, 'is_bigendian')
        step = fields.uint32('step')
        frame = RawFrame(encoding, width, height, step, fields.octets('data'))
    elif msgtype == COMPRESSED_IMAGE_TYPE:
        image_format = fields.string('format')
        frame = CompressedFrame(image_format, fields.octets('data'))
    else:
        raise ImageError(f'Message type {msgtype} is not an image type')
    fields.end()
    return header, frame


def classification_cdr(header: Header, predictions: Sequence[Prediction]) -> bytes:
    """Serialize a vision_msgs/Classification (little-endian CDR), as rosbags would.

    `class_id` is the class index as a string, `score` the prediction's score.
    """
    frame_id = header.frame_id.encode('utf-8')
    parts = [_LITTLE_HEADER, struct.pack('<iII', header.stamp.sec, header.stamp.nanosec,
                                         len(frame_id) + 1), frame_id, b'\x00']
    size = 12 + len(frame_id) + 1
    size, padding = _align(size, 4)
    parts += [padding, struct.pack('<I', len(predictions))]
    size += 4
    for prediction in predictions:
        class_id = str(prediction.class_id).encode('ascii')
        size, padding = _align(size, 4)
        parts += [padding, struct.pack('<I', len(class_id) + 1), class_id, b'\x00']
        size += 4 + len(class_id) + 1
        size, padding = _align(size, 8)
        parts += [padding, struct.pack('<d', float(prediction.score))]
        size += 8
    return b''.join(parts)


def _align(size: int, alignment: int) -> tuple[int, bytes]:
    """Return `size` rounded up to `alignment` and the zero padding that gets there."""
    padding = -size % alignment
    return size + padding, b'\x00' * padding
