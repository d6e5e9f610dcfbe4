"""Bag messages <-> core frames and results: the typestore, image topics, Classification."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from mobilenetv1_ros.bag.vision_msgs_types import VISION_MSGS
from mobilenetv1_ros.core.frames import CompressedFrame, RawFrame

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rosbags.typesys.store import Typestore

    from mobilenetv1_ros.core.frames import Frame
    from mobilenetv1_ros.core.postprocess import Prediction

__all__ = [
    'CLASSIFICATION_TYPE',
    'COMPRESSED_IMAGE_TYPE',
    'IMAGE_TYPE',
    'IMAGE_TYPES',
    'classification_message',
    'frame_from_message',
    'typestore',
]

IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE_TYPE = 'sensor_msgs/msg/CompressedImage'
IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_IMAGE_TYPE)
CLASSIFICATION_TYPE = 'vision_msgs/msg/Classification'


@lru_cache(maxsize=None)
def typestore() -> Typestore:
    """Return the ROS 2 Humble message types (the board's distro) plus our vision_msgs."""
    store = get_typestore(Stores.ROS2_HUMBLE)
    types: dict[str, Any] = {}
    for name, text in VISION_MSGS.items():
        types.update(get_types_from_msg(text, name))
    store.register(types)
    return store


def frame_from_message(message: Any) -> Frame:
    """Wrap a deserialized Image or CompressedImage as a core frame, without copying pixels."""
    if message.__msgtype__ == COMPRESSED_IMAGE_TYPE:
        return CompressedFrame(message.format, message.data)
    return RawFrame(message.encoding, message.width, message.height, message.step, message.data)


def classification_message(header: Any, predictions: Sequence[Prediction]) -> Any:
    """Build a vision_msgs/Classification: the frame's header, class index strings, scores."""
    types = typestore().types
    hypothesis = types['vision_msgs/msg/ObjectHypothesis']
    return types[CLASSIFICATION_TYPE](
        header=header,
        results=[hypothesis(class_id=str(p.class_id), score=float(p.score)) for p in predictions])
