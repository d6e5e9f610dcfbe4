"""Opening bags for reading and writing with rosbags, in a form ROS 2 Humble reads.

Written bags use rosbag2 format version 8 and sqlite3 storage by default. rosbags writes only
versions 8 and 9; Humble's reader (rosbag2 0.15) parses any version number and reads the
version-5 fields it knows, but from version 9 on `offered_qos_profiles` is a YAML list where
Humble expects a string, so version 9 bags do not open there. Version 8 keeps it a string of
Humble's own QoS encoding (integer enums, sec/nsec durations).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability
from rosbags.interfaces import QosTime
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from mobilenetv1_ros.bag.errors import (
    BagError,
    BagOutputExistsError,
    BagReadError,
    NoImageTopicsError,
)
from mobilenetv1_ros.bag.messages import IMAGE_TYPES, typestore

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from rosbags.interfaces import Connection

__all__ = [
    'BAG_VERSION',
    'STORAGES',
    'BagMessage',
    'add_connection',
    'default_qos',
    'describe_error',
    'image_connections',
    'open_reader',
    'open_writer',
    'prepare_output',
]

#: rosbag2 metadata version written (the newest one ROS 2 Humble reads, see module docstring).
BAG_VERSION = 8
STORAGES = {'sqlite3': StoragePlugin.SQLITE3, 'mcap': StoragePlugin.MCAP}
_STORAGE_SUFFIXES = ('.db3', '.mcap')
_ZERO = QosTime(0, 0)


class BagMessage(NamedTuple):
    """One raw message of a bag."""

    connection: Connection
    timestamp: int
    data: bytes


def describe_error(error: BaseException) -> str:
    """Return an error's message prefixed by its type name when the message alone is vague."""
    text = str(error).strip().rstrip('.')
    name = type(error).__name__
    return f'{name}: {text}' if text else name


def default_qos(depth: int = 10) -> Qos:
    """Return reliable, volatile, keep-last QoS (what the node and rosbag2 record offer)."""
    return Qos(QosHistory.KEEP_LAST, depth, QosReliability.RELIABLE, QosDurability.VOLATILE,
               _ZERO, _ZERO, QosLiveliness.AUTOMATIC, _ZERO, False)


def _storage_file(path: Path) -> Path | None:
    """Return the single storage file of a bag directory that lacks metadata.yaml."""
    files = sorted(p for p in path.iterdir() if p.suffix in _STORAGE_SUFFIXES and p.is_file())
    if not files:
        return None
    if len(files) > 1:
        names = ', '.join(p.name for p in files)
        raise BagReadError(
            f'Bag {path} has no metadata.yaml and several storage files ({names}); pass one '
            'of them as the input (the bag was probably not closed cleanly)')
    return files[0]


def open_reader(path: str | Path, *, warn: bool = True) -> Reader:
    """Open a rosbag2 bag (directory or single .db3/.mcap file) for reading.

    A directory without metadata.yaml (a recorder that was killed) is read from its storage
    file directly, with a warning on stderr.

    Raises:
        BagReadError: Missing path, not a rosbag2 bag, unreadable metadata or storage.
    """
    path = Path(path)
    if not path.exists():
        raise BagReadError(f'Bag {path} does not exist')
    target = path
    if path.is_dir() and not (path / 'metadata.yaml').is_file():
        storage = _storage_file(path)
        if storage is None:
            raise BagReadError(
                f'{path} is not a rosbag2 bag: it has no metadata.yaml and no .db3 or .mcap file')
        if warn:
            print(f'warning: {path} has no metadata.yaml (the bag was probably not closed '
                  f'cleanly); reading {storage.name} directly', file=sys.stderr)
        target = storage
    elif path.is_file() and path.suffix == '.bag':
        raise BagReadError(f'{path} is a ROS 1 bag; convert it with rosbags-convert first')
    elif path.is_file() and path.suffix not in _STORAGE_SUFFIXES:
        raise BagReadError(f'{path} is not a rosbag2 bag (a directory, .db3 or .mcap file)')
    try:
        reader = Reader(target)
        reader.open()
    except Exception as error:  # noqa: BLE001 - any failure of the storage library
        raise BagReadError(f'Bag {path} cannot be read: {describe_error(error)}'
                           f'{_damage_hint(error)}') from None
    return reader


def _damage_hint(error: BaseException) -> str:
    text = str(error)
    if 'malformed' in text or 'not a database' in text:
        return ('; the sqlite3 file is damaged or truncated (`sqlite3 FILE .recover` may '
                'salvage its messages into a new file)')
    if 'magic' in text or 'Truncated' in text or 'footer' in text:
        return '; the MCAP file is damaged or truncated (`mcap recover` may salvage it)'
    return ''


def image_connections(reader: Reader, topics: Sequence[str] = ()) -> list[Connection]:
    """Return the connections of the image topics to use: `topics`, or every image topic.

    Raises:
        NoImageTopicsError: The bag has no image topic, or a requested topic is missing or is
            not an image topic.
    """
    by_topic: dict[str, list[Connection]] = {}
    for connection in reader.connections:
        by_topic.setdefault(connection.topic, []).append(connection)
    images = {topic: conns for topic, conns in by_topic.items()
              if all(c.msgtype in IMAGE_TYPES for c in conns)}
    listing = ', '.join(f'{t} ({conns[0].msgtype})' for t, conns in sorted(by_topic.items()))
    if not topics:
        if not images:
            raise NoImageTopicsError(
                f'Bag {reader.path} has no sensor_msgs/msg/Image or CompressedImage topic '
                f'(topics: {listing or "none"})')
        return [c for t in sorted(images) for c in images[t]]
    chosen: list[Connection] = []
    for topic in topics:
        if topic not in by_topic:
            raise NoImageTopicsError(
                f'Topic {topic!r} is not in bag {reader.path} (topics: {listing or "none"})')
        if topic not in images:
            raise NoImageTopicsError(
                f'Topic {topic!r} has type {by_topic[topic][0].msgtype}, not '
                'sensor_msgs/msg/Image or CompressedImage')
        chosen.extend(c for c in images[topic] if c not in chosen)
    return chosen


def _looks_like_bag(path: Path) -> bool:
    if (path / 'metadata.yaml').is_file():
        return True
    entries = list(path.iterdir())
    return bool(entries) and all(p.suffix in _STORAGE_SUFFIXES or p.name.endswith('.yaml')
                                 for p in entries)


def prepare_output(path: str | Path, *, overwrite: bool = False,
                   inputs: Iterable[str | Path] = ()) -> Path:
    """Check that a bag may be written at `path`; with `overwrite`, remove an existing bag.

    Only a bag directory (metadata.yaml or storage files only) or an empty directory is
    removed; anything else is refused even with `overwrite`.

    Raises:
        BagOutputExistsError: The path exists and may not be replaced, or is an input.
    """
    path = Path(path)
    for source in inputs:
        if Path(source).resolve() == path.resolve():
            raise BagOutputExistsError(f'Output bag {path} is the input bag')
    if not path.exists() and not path.is_symlink():
        return path
    if not overwrite:
        raise BagOutputExistsError(
            f'Output bag {path} exists; pass --overwrite to replace it')
    if path.is_dir() and not path.is_symlink() and (not any(path.iterdir())
                                                    or _looks_like_bag(path)):
        shutil.rmtree(path)
        return path
    raise BagOutputExistsError(
        f'Output path {path} exists and is not a rosbag2 bag; refusing to replace it')


def open_writer(path: str | Path, storage: str = 'sqlite3') -> Writer:
    """Create and open a bag writer (format version BAG_VERSION) at a path that must not exist.

    Raises:
        BagError: Unknown storage, or the bag cannot be created.
    """
    if storage not in STORAGES:
        raise BagError(f'Storage {storage!r} is not one of: {", ".join(STORAGES)}')
    writer = Writer(Path(path), version=BAG_VERSION, storage_plugin=STORAGES[storage])
    try:
        writer.open()
    except Exception as error:  # noqa: BLE001 - any failure of the storage library
        raise BagError(f'Bag {path} cannot be created: {describe_error(error)}') from None
    return writer


def add_connection(writer: Writer, topic: str, msgtype: str, *,
                   source: Connection | None = None, qos: Sequence[Qos] | None = None
                   ) -> Connection:
    """Add a topic to a writer; copy definition, hash and QoS from `source` when it has them."""
    store = typestore()
    msgdef = digest = None
    if source is not None and source.msgdef.data and source.digest:
        msgdef, digest = source.msgdef.data, source.digest
    elif msgtype in store.types:
        msgdef, _ = store.generate_msgdef(msgtype, ros_version=2)
        digest = store.hash_rihs01(msgtype)
    if msgdef is None or digest is None:
        raise BagError(f'Message type {msgtype} of topic {topic} is unknown')
    if qos is None:
        qos = getattr(source.ext, 'offered_qos_profiles', None) if source is not None else None
    profiles = [q if _humble_knows(q) else default_qos(q.depth or 10) for q in qos or []]
    return writer.add_connection(topic, msgtype, msgdef=msgdef, rihs01=digest,
                                 offered_qos_profiles=profiles or [default_qos()])


def _humble_knows(qos: Qos) -> bool:
    """Return whether a QoS profile uses only policies ROS 2 Humble knows (no best_available)."""
    return (qos.history.value <= QosHistory.KEEP_ALL.value
            and qos.reliability.value <= QosReliability.BEST_EFFORT.value
            and qos.durability.value <= QosDurability.VOLATILE.value
            and qos.liveliness.value <= QosLiveliness.MANUAL_BY_TOPIC.value)
