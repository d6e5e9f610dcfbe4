"""sensor_msgs/Image read in place from its serialized (CDR) bytes, with ROS header types.

rclpy turns a received Image into Python by copying its pixels into a new array; the node takes
the serialized bytes instead (a raw subscription) and reads the few fields it needs at their
offsets (core/cdr.py), keeping the pixels as a view of those bytes: one full-frame copy less per
frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from mobilenetv1_ros.core.cdr import read_image
from mobilenetv1_ros.core.frames import RawFrame

__all__ = ['ImageView', 'image_view']


@dataclass(frozen=True)
class ImageView:
    """A serialized sensor_msgs/Image: its header and its pixels as a core frame (no copy)."""

    header: Header
    frame: RawFrame


def image_view(serialized: bytes) -> ImageView:
    """Read a serialized sensor_msgs/Image (CDR or XCDR2, either byte order).

    Raises:
        ImageError: The bytes are not an Image (encapsulation, or a length past the end).
    """
    record = read_image(serialized)
    assert isinstance(record.frame, RawFrame)
    stamp = Time(sec=record.sec, nanosec=record.nanosec)
    return ImageView(Header(stamp=stamp, frame_id=record.frame_id), record.frame)
