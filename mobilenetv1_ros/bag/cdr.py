"""Image messages read in place from their CDR bytes, Classification messages written directly.

The offline tool reads a bag's frames as stored bytes. A full rosbags deserialization builds a
message object per frame; here only the fields the tool needs are read at their offsets
(core/cdr.py, the node's reader too), and the pixels stay a view of the stored bytes. The result
message is packed in one pass.
Both cover plain CDR (little and big endian, what rosbags reads); anything these readers refuse
goes back to rosbags (`bag.offline`), so its error messages stay the ones reported.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, NamedTuple

from mobilenetv1_ros.bag.messages import COMPRESSED_IMAGE_TYPE, IMAGE_TYPE
from mobilenetv1_ros.core.cdr import CDR_BYTE_ORDERS, read_image
from mobilenetv1_ros.core.errors import ImageError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mobilenetv1_ros.core.frames import Frame
    from mobilenetv1_ros.core.postprocess import Prediction

__all__ = ['Header', 'Stamp', 'classification_cdr', 'read_frame']

_LITTLE_HEADER = b'\x00\x01\x00\x00'


class Stamp(NamedTuple):
    """builtin_interfaces/Time."""

    sec: int
    nanosec: int


class Header(NamedTuple):
    """std_msgs/Header."""

    stamp: Stamp
    frame_id: str


def read_frame(data: bytes, msgtype: str) -> tuple[Header, Frame]:
    """Read a serialized sensor_msgs/Image or CompressedImage without copying its pixels.

    Plain CDR only, nothing after the last field but padding: what rosbags reads.

    Raises:
        ImageError: Not plain CDR, a length past the end, a string that is not NUL-terminated
            UTF-8, trailing bytes, or another message type.
    """
    if msgtype not in (IMAGE_TYPE, COMPRESSED_IMAGE_TYPE):
        raise ImageError(f'Message type {msgtype} is not an image type')
    record = read_image(data, compressed=msgtype == COMPRESSED_IMAGE_TYPE, what='message',
                        byte_orders=CDR_BYTE_ORDERS, exact=True)
    return Header(Stamp(record.sec, record.nanosec), record.frame_id), record.frame


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
