"""ROS messages to core frames and core results to ROS messages."""

from __future__ import annotations

import array
from typing import TYPE_CHECKING

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CompressedImage, Image
from vision_msgs.msg import Classification, LabelInfo, ObjectHypothesis, VisionClass, VisionInfo

from mobilenetv1_ros.core.frames import CompressedFrame
from mobilenetv1_ros.core.stamps import split_ns

if TYPE_CHECKING:
    from collections.abc import Iterable

    import numpy.typing as npt
    from std_msgs.msg import Header

    from mobilenetv1_ros.core.frames import Frame
    from mobilenetv1_ros.core.labels import Labels
    from mobilenetv1_ros.core.postprocess import Prediction

__all__ = [
    'classification_msg',
    'frame_from_compressed',
    'frame_msg',
    'image_msg',
    'label_info_msg',
    'stamp_from_ns',
    'vision_info_msg',
]


def stamp_from_ns(nanoseconds: int) -> Time:
    """Return a builtin_interfaces/Time of a nanosecond count."""
    sec, nanosec = split_ns(nanoseconds)
    return Time(sec=sec, nanosec=nanosec)


def frame_from_compressed(msg: CompressedImage) -> CompressedFrame:
    """Wrap a sensor_msgs/CompressedImage as a core frame; the bytes are not copied."""
    return CompressedFrame(msg.format, np.frombuffer(msg.data, np.uint8))


def _byte_array(data: npt.NDArray[np.uint8]) -> array.array[int]:
    # The generated setter of a uint8[] field takes an array('B') as is; any other sequence is
    # checked element by element in Python (seconds for a large image on Humble).
    buffer = array.array('B')
    buffer.frombytes(np.ascontiguousarray(data).reshape(-1).tobytes())
    return buffer


def image_msg(pixels: npt.NDArray[np.uint8], encoding: str, header: Header | None = None,
              *, width: int | None = None, height: int | None = None) -> Image:
    """Build a sensor_msgs/Image from a C-contiguous array of rows.

    Args:
        pixels: (rows, width[, channels]) array; for nv12, the luma rows then the UV rows.
        encoding: The message encoding, e.g. 'bgr8' or 'nv12'.
        header: Header to copy in (stamp and frame_id), default empty.
        width: Pixels per row, default pixels.shape[1].
        height: Image rows, default pixels.shape[0] (for nv12: the luma rows, 2/3 of them).
    """
    rows = pixels.shape[0]
    msg = Image()
    if header is not None:
        msg.header = header
    msg.encoding = encoding
    msg.height = height if height is not None else (rows * 2 // 3 if encoding == 'nv12' else rows)
    msg.width = width if width is not None else pixels.shape[1]
    msg.step = pixels[0].nbytes
    msg.is_bigendian = 0
    msg.data = _byte_array(pixels)
    return msg


def frame_msg(frame: Frame, header: Header | None = None) -> Image | CompressedImage:
    """Build the message a camera driver would send for a core frame (the inverse of the above)."""
    data = _byte_array(np.frombuffer(frame.data, np.uint8))
    if isinstance(frame, CompressedFrame):
        compressed = CompressedImage(format=frame.format, data=data)
        if header is not None:
            compressed.header = header
        return compressed
    msg = Image(encoding=frame.encoding, width=frame.width, height=frame.height,
                step=frame.step, is_bigendian=0, data=data)
    if header is not None:
        msg.header = header
    return msg


def classification_msg(header: Header, predictions: Iterable[Prediction]) -> Classification:
    """Build the result message: the input header and one hypothesis per class, best first."""
    return Classification(
        header=header,
        results=[ObjectHypothesis(class_id=str(p.class_id), score=float(p.score))
                 for p in predictions])


def label_info_msg(labels: Labels, threshold: float, stamp: Time) -> LabelInfo:
    """Build the class map: class index -> name, and the score threshold in use."""
    msg = LabelInfo(threshold=float(threshold))
    msg.header.stamp = stamp
    msg.class_map = [VisionClass(class_id=index, class_name=name)
                     for index, name in enumerate(labels.names)]
    return msg


def vision_info_msg(method: str, database_location: str, version: int,
                    stamp: Time) -> VisionInfo:
    """Build the classifier description pointing at the class_labels parameter."""
    msg = VisionInfo(method=method, database_location=database_location,
                     database_version=version)
    msg.header.stamp = stamp
    return msg
