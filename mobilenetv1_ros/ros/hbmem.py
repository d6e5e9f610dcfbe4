"""TROS shared-memory image messages (hbm_img_msgs/msg/HbmMsg*) as core frames.

The board's camera (mipi_cam, io_method shared_mem) publishes fixed-size HbmMsg1080P messages
on /hbmem_img: no header and no frame_id, a NUL-padded encoding in uint8[12] and the pixels in
the first data_size bytes of a fixed array. hbm_img_msgs is imported only when the node takes
this input, so the package is needed on the board (and in the pip environment's tests) only.
"""

from __future__ import annotations

import importlib
import string
from typing import TYPE_CHECKING, Any

import numpy as np

from mobilenetv1_ros.core.errors import ConfigError, ImageError, UnsupportedEncodingError
from mobilenetv1_ros.core.frames import ENCODINGS, RawFrame

if TYPE_CHECKING:
    from builtin_interfaces.msg import Time

__all__ = [
    'HBM_PACKAGE',
    'HBM_TYPES',
    'HBM_TYPE_CHOICES',
    'frame_from_hbm',
    'hbm_encoding',
    'hbm_message_class',
    'hbm_stamp',
    'hbm_type_name',
]

#: The interface package of the messages.
HBM_PACKAGE = 'hbm_img_msgs'
#: The message types the node takes, largest first (mipi_cam's default first).
HBM_TYPES = ('HbmMsg1080P', 'HbmMsg540P', 'HbmMsg480P')
#: Values of the hbmem_type parameter: auto takes the type the publishers on the topic have.
HBM_TYPE_CHOICES = ('auto', *HBM_TYPES)

_PRINTABLE = frozenset(string.ascii_letters + string.digits + '_-.;: ')


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
        raise ImageError(f'data_size {size} exceeds the {data.size}-byte data array of '
                         f'{type(msg).__name__}')
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
