"""sensor_msgs/Image read in place from its serialized (CDR) bytes.

rclpy turns a received Image into Python by copying its pixels into a new array; the node takes
the serialized bytes instead (a raw subscription) and reads the few fields it needs at their
offsets, keeping the pixels as a view of those bytes: one full-frame copy less per frame.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from mobilenetv1_ros.core.errors import ImageError
from mobilenetv1_ros.core.frames import RawFrame

__all__ = ['ImageView', 'image_view']

#: Encapsulation kind (second byte of the serialized message) -> byte order: CDR and XCDR2,
#: big and little endian. Image has no 8-byte field, so both share one layout.
_BYTE_ORDERS = {0: '>', 1: '<', 6: '>', 7: '<'}
#: Fields are aligned from the end of the 4-byte encapsulation header.
_ORIGIN = 4


@dataclass(frozen=True)
class ImageView:
    """A serialized sensor_msgs/Image: its header and its pixels as a core frame (no copy)."""

    header: Header
    frame: RawFrame


class _Reader:
    """Walks CDR fields of one serialized message, checking every length against the data."""

    def __init__(self, data: bytes, order: str) -> None:
        self.data = data
        self.order = order
        self.pos = _ORIGIN

    def _need(self, count: int, what: str) -> None:
        if count < 0 or self.pos + count > len(self.data):
            raise ImageError(f'Serialized Image of {len(self.data)} bytes ends inside its '
                             f'{what} (at byte {self.pos}, {count} more needed)')

    def uint32(self, what: str) -> int:
        self.pos += -(self.pos - _ORIGIN) % 4
        self._need(4, what)
        (value,) = struct.unpack_from(self.order + 'I', self.data, self.pos)
        self.pos += 4
        return int(value)

    def string(self, what: str) -> str:
        length = self.uint32(what)
        self._need(length, what)
        raw = self.data[self.pos:self.pos + length]
        self.pos += length
        if not raw or raw[-1] != 0:
            raise ImageError(f'Serialized Image: its {what} is not a NUL-terminated string')
        try:
            return raw[:-1].decode('utf-8')
        except UnicodeDecodeError:
            raise ImageError(f'Serialized Image: its {what} {raw[:-1]!r} is not UTF-8') \
                from None

    def skip(self, count: int, what: str) -> None:
        self._need(count, what)
        self.pos += count


def image_view(serialized: bytes) -> ImageView:
    """Read a serialized sensor_msgs/Image.

    Raises:
        ImageError: The bytes are not an Image (encapsulation, or a length past the end).
    """
    order = _BYTE_ORDERS.get(serialized[1]) if len(serialized) >= _ORIGIN else None
    if order is None or serialized[0] != 0:
        raise ImageError(f'Serialized Image has the unknown encapsulation '
                         f'{bytes(serialized[:2])!r}')
    reader = _Reader(serialized, order)
    sec = reader.uint32('stamp')
    nanosec = reader.uint32('stamp')
    frame_id = reader.string('frame_id')
    height = reader.uint32('height')
    width = reader.uint32('width')
    encoding = reader.string('encoding')
    reader.skip(1, 'is_bigendian')
    step = reader.uint32('step')
    size = reader.uint32('data')
    reader.skip(size, 'data')
    pixels = np.frombuffer(serialized, np.uint8, size, reader.pos - size)
    stamp = Time(sec=struct.unpack('i', struct.pack('I', sec))[0], nanosec=nanosec)
    return ImageView(Header(stamp=stamp, frame_id=frame_id),
                     RawFrame(encoding, width, height, step, pixels))
