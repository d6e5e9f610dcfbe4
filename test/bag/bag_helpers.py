"""Small bags for the bag tests, written here from the bundled photos."""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from rosbags.rosbag2 import Reader
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


def compressed_bytes_msg(index: int, data: bytes, fmt: str) -> Any:
    """A CompressedImage carrying the given bytes as they are."""
    return typestore().types['sensor_msgs/msg/CompressedImage'](
        header=header(index), format=fmt, data=np.frombuffer(data, np.uint8))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack('>I', len(data)) + kind + data
            + struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_bomb(width: int, height: int) -> bytes:
    """A 1-bit PNG whose header says width x height, with 16 rows of data (a few hundred bytes)."""
    rows = b'\x00' * (1 + (width + 7) // 8) * 16
    return (b'\x89PNG\r\n\x1a\n'
            + _png_chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 1, 0, 0, 0, 0))
            + _png_chunk(b'IDAT', zlib.compress(rows, 9)) + _png_chunk(b'IEND', b''))


def jpeg_bomb(width: int, height: int) -> bytes:
    """A 16x16 JPEG whose frame header says width x height, cut after half its data."""
    ok, encoded = cv2.imencode('.jpg', np.full((16, 16, 3), 128, np.uint8))
    assert ok
    data = bytearray(encoded.tobytes())
    sof = data.index(b'\xff\xc0')
    struct.pack_into('>HH', data, sof + 5, height, width)
    return bytes(data[:len(data) // 2])


def metadata_counts(bag: Path) -> dict[str, int] | None:
    """Topic -> message_count of metadata.yaml (None when there is no metadata.yaml).

    The total message_count must equal the sum, and the files entry must agree.
    """
    path = bag / 'metadata.yaml'
    if not path.exists():
        return None
    info = yaml.safe_load(path.read_text())['rosbag2_bagfile_information']
    counts = {t['topic_metadata']['name']: t['message_count']
              for t in info['topics_with_message_count']}
    assert info['message_count'] == sum(counts.values()), info
    for entry in info.get('files', []):
        assert entry['message_count'] == info['message_count'], info
    return counts


def storage_counts(bag: Path) -> dict[str, int]:
    """Topic -> messages actually stored, read from the storage file without metadata.yaml."""
    [storage] = [p for p in bag.iterdir() if p.suffix in ('.db3', '.mcap')]
    reader = Reader(storage)
    reader.open()
    try:
        counts = Counter({c.topic: 0 for c in reader.connections})
        for connection, _, _ in reader.messages():
            counts[connection.topic] += 1
        return dict(counts)
    finally:
        reader.close()


def consistent_counts(bag: Path) -> dict[str, int]:
    """Assert the bag's metadata.yaml exists and equals what its storage holds; return it."""
    declared = metadata_counts(bag)
    assert declared is not None, f'{bag} has no metadata.yaml: {sorted(bag.iterdir())}'
    stored = storage_counts(bag)
    assert {t: n for t, n in declared.items() if n} == {t: n for t, n in stored.items() if n}, (
        declared, stored)
    return declared
