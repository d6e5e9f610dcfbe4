"""Serialized (CDR) image messages read in place: the fields at their offsets, no copies.

A camera frame arrives as the serialized bytes of a sensor_msgs/Image or CompressedImage (the
node's raw subscription, a bag's stored record). Building a message object copies the pixels;
reading the few fields needed at their offsets keeps them a view of those bytes. The node
(ros/image_cdr.py) and the offline bag tool (bag/cdr.py) both read through this one walker and
wrap the result in their own header types.

Plain CDR and XCDR2, both byte orders: neither message has an 8-byte field, so the two
encodings lay them out alike.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mobilenetv1_ros.core.errors import ImageError
from mobilenetv1_ros.core.frames import CompressedFrame, Frame, RawFrame

__all__ = ['CDR_BYTE_ORDERS', 'XCDR_BYTE_ORDERS', 'CdrFields', 'ImageRecord', 'read_image']

#: Encapsulation kind (second byte of the serialized message) -> struct byte order, plain CDR.
CDR_BYTE_ORDERS = {0: '>', 1: '<'}
#: The same with XCDR2 (what Fast DDS may send for types without 8-byte fields).
XCDR_BYTE_ORDERS = {**CDR_BYTE_ORDERS, 6: '>', 7: '<'}
#: Fields are aligned from the end of the 4-byte encapsulation header.
_ORIGIN = 4
#: Padding a serializer may leave after the last field.
_MAX_PADDING = 3


class CdrFields:
    """Walks the fields of one serialized message, checking every length against the data.

    Args:
        data: The serialized message, encapsulation header included.
        what: What the message is, for error messages (e.g. 'Image').
        byte_orders: The encapsulation kinds accepted (CDR_BYTE_ORDERS or XCDR_BYTE_ORDERS).

    Raises:
        ImageError: An encapsulation that is not one of byte_orders.
    """

    def __init__(self, data: bytes, what: str,
                 byte_orders: dict[int, str] = XCDR_BYTE_ORDERS) -> None:
        order = byte_orders.get(data[1]) if len(data) >= _ORIGIN and data[0] == 0 else None
        if order is None:
            raise ImageError(f'Serialized {what} has the unknown encapsulation '
                             f'{bytes(data[:2])!r}')
        self.data = data
        self.what = what
        self.order = order
        self.pos = _ORIGIN

    def _need(self, count: int, field: str) -> None:
        if count < 0 or self.pos + count > len(self.data):
            raise ImageError(f'Serialized {self.what} of {len(self.data)} bytes ends inside its '
                             f'{field} (at byte {self.pos}, {count} more needed)')

    def _number(self, code: str, field: str) -> int:
        self.pos += -(self.pos - _ORIGIN) % 4
        self._need(4, field)
        (value,) = struct.unpack_from(self.order + code, self.data, self.pos)
        self.pos += 4
        return int(value)

    def uint32(self, field: str) -> int:
        """Read an aligned uint32."""
        return self._number('I', field)

    def int32(self, field: str) -> int:
        """Read an aligned int32."""
        return self._number('i', field)

    def string(self, field: str) -> str:
        """Read a string: length (NUL included), UTF-8 bytes, NUL.

        Raises:
            ImageError: Past the end, not NUL-terminated, or not UTF-8.
        """
        length = self.uint32(field)
        self._need(length, field)
        raw = self.data[self.pos:self.pos + length]
        self.pos += length
        if not raw or raw[-1] != 0:
            raise ImageError(f'Serialized {self.what}: its {field} is not a NUL-terminated '
                             'string')
        try:
            return raw[:-1].decode('utf-8')
        except UnicodeDecodeError:
            raise ImageError(f'Serialized {self.what}: its {field} {raw[:-1]!r} is not '
                             'UTF-8') from None

    def octets(self, field: str) -> npt.NDArray[np.uint8]:
        """Read a uint8[] sequence as a view of the data (no copy)."""
        size = self.uint32(field)
        self._need(size, field)
        view = np.frombuffer(self.data, np.uint8, size, self.pos)
        self.pos += size
        return view

    def skip(self, count: int, field: str) -> None:
        """Step over `count` bytes."""
        self._need(count, field)
        self.pos += count

    def end(self) -> None:
        """Check that at most a serializer's padding follows the last field.

        Raises:
            ImageError: More bytes follow.
        """
        if len(self.data) - self.pos > _MAX_PADDING:
            raise ImageError(f'Serialized {self.what} has {len(self.data) - self.pos} bytes '
                             'after its last field')


@dataclass(frozen=True)
class ImageRecord:
    """An image message's header fields and its pixels as a core frame (a view, no copy).

    Attributes:
        sec: Stamp seconds (signed, as builtin_interfaces/Time has them).
        nanosec: Stamp nanoseconds.
        frame_id: The header's frame_id.
        frame: The pixels: a RawFrame of an Image, a CompressedFrame of a CompressedImage.
    """

    sec: int
    nanosec: int
    frame_id: str
    frame: Frame


def read_image(data: bytes, *, compressed: bool = False, what: str | None = None,
               byte_orders: dict[int, str] = XCDR_BYTE_ORDERS,
               exact: bool = False) -> ImageRecord:
    """Read a serialized sensor_msgs/Image (or CompressedImage) without copying its pixels.

    Args:
        data: The serialized message.
        compressed: A CompressedImage (format, data) instead of an Image.
        what: The message's name in errors (default 'Image' or 'CompressedImage').
        byte_orders: The encapsulations accepted.
        exact: Refuse bytes after the last field beyond a serializer's padding.

    Raises:
        ImageError: An unknown encapsulation, a length past the end, a string that is not
            NUL-terminated UTF-8, or (exact) trailing bytes.
    """
    name = what or ('CompressedImage' if compressed else 'Image')
    fields = CdrFields(data, name, byte_orders)
    sec = fields.int32('header stamp')
    nanosec = fields.uint32('header stamp')
    frame_id = fields.string('header frame_id')
    frame: Frame
    if compressed:
        image_format = fields.string('format')
        frame = CompressedFrame(image_format, fields.octets('data'))
    else:
        height = fields.uint32('height')
        width = fields.uint32('width')
        encoding = fields.string('encoding')
        fields.skip(1, 'is_bigendian')
        step = fields.uint32('step')
        frame = RawFrame(encoding, width, height, step, fields.octets('data'))
    if exact:
        fields.end()
    return ImageRecord(sec, nanosec, frame_id, frame)
