"""TROS shared-memory image messages (hbm_img_msgs/msg/HbmMsg*) as core frames.

The board's camera (mipi_cam, io_method shared_mem) publishes fixed-size HbmMsg1080P messages
on /hbmem_img: no header and no frame_id, a NUL-padded encoding in uint8[12] and the pixels in
the first data_size bytes of a fixed array. hbm_img_msgs is imported only when the node takes
this input, so the package is needed on the board (and in the pip environment's tests) only.

rclpy turns a message into Python by copying every field, the whole fixed array included,
which for HbmMsg1080P costs more than the rest of the frame's handling. The node therefore
takes the serialized bytes (a raw subscription) and reads the fixed-offset fields with
`hbm_view`, keeping the pixels as a view of those bytes.
"""

from __future__ import annotations

import importlib
import string
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from builtin_interfaces.msg import Time

from mobilenetv1_ros.core.errors import ConfigError, ImageError, UnsupportedEncodingError
from mobilenetv1_ros.core.frames import ENCODINGS, RawFrame
from mobilenetv1_ros.ros.params import HBM_PACKAGE, HBM_TYPES

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    'HbmView',
    'frame_from_hbm',
    'hbm_encoding',
    'hbm_message_class',
    'hbm_stamp',
    'hbm_type_name',
    'hbm_view',
]


_PRINTABLE = frozenset(string.ascii_letters + string.digits + '_-.;: ')


#: index, time_stamp.sec, time_stamp.nanosec, height, width, data_size, step: the fields before
#: encoding, all 4 bytes wide, so the layout has no padding in XCDR1 and XCDR2 alike.
_HEAD = 'iiIIIII'
#: Byte offsets in the serialized message, after the 4-byte encapsulation header.
_HEAD_AT, _ENCODING_AT, _DATA_AT = 4, 32, 44
#: Encapsulation kind (second header byte) -> byte order: CDR and XCDR2 plain, BE and LE.
_BYTE_ORDERS = {0: '>', 1: '<', 6: '>', 7: '<'}


@dataclass(frozen=True)
class HbmView:
    """The fields of a serialized HbmMsg, read in place (the pixels are not copied).

    It has the message's field names, so frame_from_hbm takes either.

    Attributes:
        type_name: The message type, e.g. 'HbmMsg1080P'.
    """

    type_name: str
    index: int
    time_stamp: Time
    height: int
    width: int
    data_size: int
    step: int
    encoding: npt.NDArray[np.uint8]
    data: npt.NDArray[np.uint8]


def hbm_view(serialized: bytes, msg_type: type) -> HbmView:
    """Read a serialized message of `msg_type` (one of the HbmMsg classes).

    Raises:
        ImageError: The bytes are not such a message (length or encapsulation).
    """
    array_size = int(msg_type.MAX_SIZE)  # type: ignore[attr-defined]
    if len(serialized) != _DATA_AT + array_size:
        raise ImageError(f'Serialized message of {len(serialized)} bytes is not a '
                         f'{msg_type.__name__} ({_DATA_AT + array_size} bytes)')
    order = _BYTE_ORDERS.get(serialized[1])
    if serialized[0] != 0 or order is None:
        raise ImageError(f'Serialized message has the unknown encapsulation '
                         f'{bytes(serialized[:2])!r}')
    index, sec, nanosec, height, width, size, step = struct.unpack_from(
        order + _HEAD, serialized, _HEAD_AT)
    buffer = np.frombuffer(serialized, np.uint8)
    return HbmView(msg_type.__name__, index, Time(sec=sec, nanosec=nanosec), height, width,
                   size, step, buffer[_ENCODING_AT:_DATA_AT], buffer[_DATA_AT:])


def hbm_message_class(name: str) -> type:
    """Import hbm_img_msgs and return one of its message classes.

    Raises:
        ConfigError: `name` is not one of HBM_TYPES, or hbm_img_msgs does not import.
    """
    if name not in HBM_TYPES:
        raise ConfigError(f'Shared-memory image type {name!r} is not one of: '
                          f'{", ".join(HBM_TYPES)}')
    try:
        module = importlib.import_module(f'{HBM_PACKAGE}.msg')
    except ImportError as error:
        raise ConfigError(f'input hbmem needs the {HBM_PACKAGE} interface package (TROS '
                          f'hobot_msgs; source its setup file): {error}') from None
    cls = getattr(module, name, None)
    if not isinstance(cls, type):
        raise ConfigError(f'{HBM_PACKAGE}.msg has no message {name!r}')
    return cls


def hbm_type_name(topic_type: str) -> str | None:
    """Return 'HbmMsg1080P' of 'hbm_img_msgs/msg/HbmMsg1080P', None for any other type."""
    package, _, name = topic_type.partition('/msg/')
    return name if package == HBM_PACKAGE and name in HBM_TYPES else None


def hbm_encoding(raw: Any) -> str:
    """Return the text of a NUL-padded uint8[12] encoding field.

    Raises:
        UnsupportedEncodingError: The bytes are empty, carry bytes after the padding starts,
            or are not printable ASCII; the message shows the bytes.
    """
    data = bytes(np.asarray(raw, dtype=np.uint8).reshape(-1))
    text, _, padding = data.partition(b'\0')
    if not text or padding.strip(b'\0') or not set(text.decode('latin-1')) <= _PRINTABLE:
        raise UnsupportedEncodingError(
            f'Encoding field {data!r} is not NUL-padded printable text (known: '
            f'{", ".join(sorted(ENCODINGS))})')
    return text.decode('ascii')


def hbm_stamp(msg: Any) -> Time:
    """Return the message's time_stamp (builtin_interfaces/Time)."""
    stamp: Time = msg.time_stamp
    return stamp


def frame_from_hbm(msg: Any) -> RawFrame:
    """Wrap the valid bytes of an HbmMsg as a core frame, without copying them.

    Raises:
        ImageError: data_size exceeds the message's array, or does not match step x height
            (x 3/2 for nv12) of a known encoding; the message names the values.
        UnsupportedEncodingError: The encoding field is not NUL-padded text.
    """
    data = np.asarray(msg.data, dtype=np.uint8).reshape(-1)
    encoding = hbm_encoding(msg.encoding)
    size, step, height = int(msg.data_size), int(msg.step), int(msg.height)
    if size > data.size:
        name = getattr(msg, 'type_name', type(msg).__name__)
        raise ImageError(f'data_size {size} exceeds the {data.size}-byte data array of {name}')
    spec = ENCODINGS.get(encoding.lower())
    if spec is not None:
        nv12 = spec.layout == 'nv12'
        expected = step * height * 3 // 2 if nv12 else step * height
        if size != expected:
            formula = 'step x height x 3/2' if nv12 else 'step x height'
            raise ImageError(
                f'data_size {size} does not match {formula} = {step} x {height}'
                f'{" x 3/2" if nv12 else ""} = {expected} ({encoding} {msg.width}x{height})')
    return RawFrame(encoding, int(msg.width), height, step, data[:size])
