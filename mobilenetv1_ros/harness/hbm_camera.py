"""A camera of TROS shared-memory images: serialized hbm_img_msgs/HbmMsg* frames from NV12 rows.

An HbmMsg has no header, a NUL-padded encoding in uint8[12] and the pixels in the first
data_size bytes of a fixed array (6.2 MB for HbmMsg1080P) whatever the frame's size. Building
such a message from Python copies that whole array field by field, so `HbmFrames` serializes
one message of the type once and makes every frame from those bytes, writing the fixed-offset
fields (index, time_stamp, height, width, data_size, step, encoding, data) in place; the array
past data_size holds seeded noise, which a reader must ignore. `HbmCamera` publishes such
frames as serialized bytes on the camera publisher of a `ClassifierPeer` created with the
HbmMsg type (one DDS participant cannot have two types on one topic, so the peer has no Image
publisher there).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import numpy as np
from rclpy.serialization import serialize_message

from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.ros.params import HBM_PACKAGE

if TYPE_CHECKING:
    import numpy.typing as npt

    from mobilenetv1_ros.harness.peer import ClassifierPeer

__all__ = ['HBM_OFFSETS', 'HbmCamera', 'HbmFrames']

#: Byte offsets of the fields in a serialized HbmMsg: the 4-byte encapsulation header, then the
#: fields in order, all 4 bytes wide up to encoding (no padding in XCDR1 and XCDR2 alike).
HBM_OFFSETS = {'index': 4, 'sec': 8, 'nanosec': 12, 'height': 16, 'width': 20, 'data_size': 24,
               'step': 28, 'encoding': 32, 'data': 44}
#: index, time_stamp.sec, time_stamp.nanosec: what changes from one frame to the next.
_STAMP = 'iiI'
#: height, width, data_size, step.
_GEOMETRY = 'IIII'
#: Seed of the noise past data_size (fixed: the bytes on the wire repeat from run to run).
_NOISE_SEED = 7


class HbmFrames:
    """Serialized messages of one HbmMsg type, made from one serialized template.

    Args:
        msg_type: An hbm_img_msgs message class (HbmMsg1080P, HbmMsg540P or HbmMsg480P).

    Attributes:
        msg_type: That class.
        array_bytes: Size of its data array (its MAX_SIZE).

    Raises:
        ConfigError: `msg_type` is not an hbm_img_msgs image, or serializes to a layout other
            than the one above.
    """

    def __init__(self, msg_type: type) -> None:
        size = getattr(msg_type, 'MAX_SIZE', None)
        if not msg_type.__module__.startswith(f'{HBM_PACKAGE}.') or not isinstance(size, int):
            raise ConfigError(f'{msg_type.__module__}.{msg_type.__name__} is not an '
                              f'{HBM_PACKAGE} image message')
        self.msg_type = msg_type
        self.array_bytes = size
        msg = msg_type()
        msg.data = np.random.default_rng(_NOISE_SEED).integers(0, 256, size, dtype=np.uint8)
        self._template = bytes(serialize_message(msg))
        if len(self._template) != HBM_OFFSETS['data'] + size:
            raise ConfigError(f'{msg_type.__name__} serializes to {len(self._template)} bytes, '
                              f'not {HBM_OFFSETS["data"] + size}: another layout')
        # Encapsulation kinds 0/2/6 are big-endian, 1/3/7 little-endian.
        self._order = '<' if self._template[1] & 1 else '>'

    def message(self, rows: npt.NDArray[np.uint8] | bytes, width: int, height: int, *,
                step: int | None = None, encoding: bytes = b'nv12',
                data_size: int | None = None) -> bytearray:
        """Return a serialized message holding `rows`, with index and time_stamp 0.

        Args:
            rows: The pixels: NV12 rows of `step` bytes (any shape; read as flat bytes).
            width: Frame width.
            height: Frame height.
            step: Row stride in bytes (default: `width`).
            encoding: The encoding field (cut or NUL-padded to 12 bytes).
            data_size: The data_size field (default: the size of `rows`), to write a message
                that lies about it.

        Raises:
            ConfigError: `rows` do not fit the type's data array; the message names both
                sizes.
        """
        data = np.frombuffer(rows, np.uint8) if isinstance(rows, bytes) else rows.reshape(-1)
        if data.size > self.array_bytes:
            raise ConfigError(f'A frame of {data.size} bytes does not fit the '
                              f'{self.array_bytes}-byte data array of {self.msg_type.__name__}')
        size = data.size if data_size is None else data_size
        buffer = bytearray(self._template)
        struct.pack_into(self._order + _GEOMETRY, buffer, HBM_OFFSETS['height'], height, width,
                         size, width if step is None else step)
        buffer[HBM_OFFSETS['encoding']:HBM_OFFSETS['data']] = encoding.ljust(12, b'\0')[:12]
        start = HBM_OFFSETS['data']
        buffer[start:start + data.size] = data.tobytes()
        return buffer

    def stamp(self, message: bytearray, index: int, stamp_ns: int) -> bytes:
        """Write index and time_stamp into `message`; return the bytes to publish."""
        struct.pack_into(self._order + _STAMP, message, HBM_OFFSETS['index'], index,
                         stamp_ns // 10**9, stamp_ns % 10**9)
        return bytes(message)


class HbmCamera:
    """Publishes serialized HbmMsg frames on a peer's camera publisher, each freshly stamped.

    Args:
        peer: A ClassifierPeer created with `image_type` an HbmMsg class; its camera publisher
            (topic, reliability, depth) is this camera's.

    Attributes:
        frames: The message maker of the peer's HbmMsg type.
        index: The index field of the last frame sent (the publisher's frame counter).
    """

    def __init__(self, peer: ClassifierPeer) -> None:
        self.peer = peer
        self.frames = HbmFrames(peer.image_type)
        self.index = 0

    def message(self, rows: npt.NDArray[np.uint8] | bytes, width: int, height: int, *,
                step: int | None = None, encoding: bytes = b'nv12',
                data_size: int | None = None) -> bytearray:
        """Return a serialized message of `rows` to send (see HbmFrames.message)."""
        return self.frames.message(rows, width, height, step=step, encoding=encoding,
                                   data_size=data_size)

    def send(self, message: bytearray, stamp: int | None = None) -> int:
        """Stamp a message (default: now) with the next index, publish it; return the stamp."""
        stamp = self.peer.now_ns() if stamp is None else stamp
        self.index += 1
        self.peer.publish_msg(self.frames.stamp(message, self.index, stamp))
        return stamp

    def publish(self, rows: npt.NDArray[np.uint8] | bytes, width: int, height: int, *,
                step: int | None = None, encoding: bytes = b'nv12',
                data_size: int | None = None, stamp: int | None = None) -> int:
        """Publish `rows` as one message (see HbmFrames.message); return the stamp in ns."""
        return self.send(self.message(rows, width, height, step=step, encoding=encoding,
                                      data_size=data_size), stamp)
