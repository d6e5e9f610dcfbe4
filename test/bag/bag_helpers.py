"""Small bags for the bag tests, written here from the bundled photos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from shared import IMAGES_DIR

from mobilenetv1_ros.bag.bagio import add_connection, open_writer
from mobilenetv1_ros.bag.messages import typestore

GOLDEN = Path(__file__).with_name('sample_golden.json')
START_NS = 1_700_000_000_000_000_000


def photo(name: str, width: int | None = None, height: int | None = None) -> np.ndarray:
    """A bundled photo as BGR, resized when a size is given."""
    image = cv2.imread(str(IMAGES_DIR / name), cv2.IMREAD_COLOR)
    assert image is not None, name
    if width is not None and height is not None:
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return image


def header(index: int, frame_id: str = 'camera') -> Any:
    types = typestore().types
    stamp = START_NS + index * 33_333_333
    return types['std_msgs/msg/Header'](
        stamp=types['builtin_interfaces/msg/Time'](sec=stamp // 10**9, nanosec=stamp % 10**9),
        frame_id=frame_id)


def image_msg(index: int, pixels: np.ndarray, encoding: str = 'bgr8') -> Any:
    height, width = pixels.shape[:2]
    data = np.ascontiguousarray(pixels).reshape(-1).view(np.uint8)
    return typestore().types['sensor_msgs/msg/Image'](
        header=header(index), height=height, width=width, encoding=encoding, is_bigendian=0,
        step=data.size // height, data=data)


def compressed_msg(index: int, pixels: np.ndarray, fmt: str) -> Any:
    ok, encoded = cv2.imencode(f'.{fmt}', pixels)
    assert ok
    return typestore().types['sensor_msgs/msg/CompressedImage'](
        header=header(index), format=fmt, data=encoded.reshape(-1))


def string_msg(text: str) -> Any:
    return typestore().types['std_msgs/msg/String'](data=text)


def write_bag(path: Path, messages: list[tuple[str, Any]], storage: str = 'sqlite3') -> Path:
    """Write (topic, message) pairs 33 ms apart into a new bag."""
    store = typestore()
    writer = open_writer(path, storage)
    connections: dict[str, Any] = {}
    for index, (topic, message) in enumerate(messages):
        if topic not in connections:
            connections[topic] = add_connection(writer, topic, message.__msgtype__)
        writer.write(connections[topic], START_NS + index * 33_333_333,
                     store.serialize_cdr(message, message.__msgtype__))
    writer.close()
    return path
