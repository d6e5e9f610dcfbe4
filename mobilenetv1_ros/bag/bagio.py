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
import time
from collections import defaultdict
from contextlib import suppress
from io import BytesIO
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, NoReturn

from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability
from rosbags.interfaces import QosTime
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from ruamel.yaml import YAML

from mobilenetv1_ros.bag.errors import (
    BagError,
    BagOutputExistsError,
    BagReadError,
    NoImageTopicsError,
)
from mobilenetv1_ros.bag.messages import IMAGE_TYPES, typestore

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from rosbags.interfaces import Connection

__all__ = [
    'BAG_VERSION',
    'COMMIT_BYTES',
    'COMMIT_INTERVAL',
    'STORAGES',
    'BagMessage',
    'BagWriter',
    'add_connection',
    'check_output',
    'default_qos',
    'describe_error',
    'image_connections',
    'not_a_bag_reason',
    'open_reader',
    'open_writer',
    'prepare_output',
    'shortfall',
]

#: rosbag2 metadata version written (the newest one ROS 2 Humble reads, see module docstring).
BAG_VERSION: Literal[8] = 8
STORAGES = {'sqlite3': StoragePlugin.SQLITE3, 'mcap': StoragePlugin.MCAP}
_STORAGE_SUFFIXES = ('.db3', '.mcap')
_ZERO = QosTime(0, 0)
#: metadata.yaml of a real bag is a few KB per topic; a larger file is not read to decide.
_METADATA_MAX_BYTES = 16 * 1024 * 1024
#: A sqlite3 bag being written is committed when this many seconds or bytes have passed since
#: the last commit: what a SIGKILL or a full disk can cost at most.
COMMIT_INTERVAL = 1.0
COMMIT_BYTES = 16 * 1024 * 1024


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
    _match_storage_qos(reader)
    return reader


def _match_storage_qos(reader: Reader) -> None:
    """Let metadata.yaml's topics match their storage's topics whatever the recorded QoS says.

    rosbags pairs each topic of metadata.yaml with the storage file's topic of the same name,
    type and offered QoS profiles, and reads nothing from a topic whose profiles differ. Real
    bags have such differences: the Foxy-era recorder wrote infinite deadline and liveliness
    lease durations into the sqlite3/MCAP topic table (2147483647 s, 4294967295 ns) and 0 s into
    metadata.yaml, so a strict comparison reads 0 of their messages. A topic is one stream
    whatever its QoS text, so a storage topic whose name and type match exactly one metadata
    topic takes that topic's profiles (only in the reader's memory; the files are untouched).
    """
    declared = list(reader.connections)
    for storage in getattr(reader.storage, 'storages', ()):
        stored = getattr(storage, 'connections', None)
        if not isinstance(stored, list):
            continue
        for index, connection in enumerate(stored):
            same = [c for c in declared
                    if c.topic == connection.topic and c.msgtype == connection.msgtype
                    and (not c.digest or not connection.digest or c.digest == connection.digest)]
            if len(same) == 1 and same[0].ext != connection.ext:
                stored[index] = connection._replace(ext=same[0].ext)


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


def not_a_bag_reason(path: str | Path) -> str | None:
    """Return None when `path` is provably a rosbag2 bag directory, else what it is instead.

    Provably a bag: a directory whose metadata.yaml parses as rosbag2 metadata and whose
    entries are exactly metadata.yaml and the storage files it names (regular files).
    """
    path = Path(path)
    if path.is_symlink():
        return 'it is a symbolic link'
    if not path.is_dir():
        return 'it is not a directory'
    entries = sorted(p.name for p in path.iterdir())
    listing = _listing(entries)
    metadata = path / 'metadata.yaml'
    if not metadata.is_file() or metadata.is_symlink():
        return f'it has no metadata.yaml (it holds {listing})'
    if metadata.stat().st_size > _METADATA_MAX_BYTES:
        return f'its metadata.yaml is larger than {_METADATA_MAX_BYTES} bytes'
    try:
        document = YAML(typ='safe').load(metadata.read_text(encoding='utf-8'))
    except Exception as error:  # noqa: BLE001 - any YAML or decoding failure
        return f'its metadata.yaml does not parse ({describe_error(error)})'
    info = document.get('rosbag2_bagfile_information') if isinstance(document, dict) else None
    files = info.get('relative_file_paths') if isinstance(info, dict) else None
    if (not isinstance(info, dict) or not isinstance(info.get('version'), int)
            or not isinstance(info.get('storage_identifier'), str)
            or not isinstance(info.get('topics_with_message_count'), list)
            or not isinstance(files, list) or not all(isinstance(f, str) for f in files)):
        return 'its metadata.yaml is not rosbag2 metadata (no rosbag2_bagfile_information ' \
               'with version, storage_identifier, relative_file_paths and topics)'
    named = sorted({PurePath(f).name for f in files})
    if any(PurePath(f).name != f for f in files) or sorted(['metadata.yaml', *named]) != entries:
        return (f'its metadata.yaml names {_listing(named)} but it holds {listing}')
    irregular = [n for n in named if (path / n).is_symlink() or not (path / n).is_file()]
    if irregular:
        return f'{_listing(irregular)} named by its metadata.yaml are not regular files'
    return None


def _listing(names: Sequence[str], limit: int = 8) -> str:
    if not names:
        return 'nothing'
    shown = ', '.join(names[:limit])
    return shown + (f' and {len(names) - limit} more' if len(names) > limit else '')


def check_output(path: str | Path, *, overwrite: bool = False,
                 inputs: Iterable[str | Path] = ()) -> Path:
    """Check, without changing anything, that a bag may be written at `path`.

    With `overwrite`, an existing empty directory or a directory that is provably a rosbag2
    bag (see `not_a_bag_reason`) may be replaced; nothing else is.

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
    if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
        return path
    reason = not_a_bag_reason(path)
    if reason is not None:
        raise BagOutputExistsError(
            f'Output path {path} exists and is not a rosbag2 bag: {reason}; refusing to '
            'replace it')
    return path


def prepare_output(path: str | Path, *, overwrite: bool = False,
                   inputs: Iterable[str | Path] = ()) -> Path:
    """Check that a bag may be written at `path` (`check_output`); with `overwrite`, remove it.

    Raises:
        BagOutputExistsError: The path exists and may not be replaced, or is an input.
    """
    path = check_output(path, overwrite=overwrite, inputs=inputs)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    return path


def shortfall(declared: Mapping[str, int], read: Mapping[str, int]) -> list[str]:
    """Return one line per topic of which fewer messages were read than the bag declares.

    Args:
        declared: Topic -> message count the bag's metadata declares.
        read: Topic -> messages actually read.
    """
    return [f'{topic}: the bag declares {count} messages, {read.get(topic, 0)} were read'
            for topic, count in sorted(declared.items()) if read.get(topic, 0) < count]


class BagWriter:
    """A bag being written whose metadata.yaml always equals what its storage holds.

    rosbags writes a sqlite3 bag in one transaction committed at close, so a process that is
    killed loses every message and a failed write (disk full) makes sqlite roll back while the
    writer's counts, written to metadata.yaml at close, do not. Here the transaction is
    committed every `commit_interval` seconds or `commit_bytes` bytes of messages, whichever
    comes first; a write or commit that fails rolls back to the
    last commit together with the counts, and no later write is accepted, so close() writes
    metadata that matches the storage. If even closing fails, the bag is left without
    metadata.yaml (readers then read the storage file directly) rather than with a wrong one.

    MCAP has no transactions: a commit point closes the pending chunk and flushes the file, and
    a failure truncates the file back to the last commit point before the summary is written.

    Use `open_writer()`; the methods mirror rosbags' Writer.
    """

    def __init__(self, path: str | Path, storage: str = 'sqlite3', *,
                 commit_interval: float = COMMIT_INTERVAL,
                 commit_bytes: int = COMMIT_BYTES) -> None:
        if storage not in STORAGES:
            raise BagError(f'Storage {storage!r} is not one of: {", ".join(STORAGES)}')
        self.path = Path(path)
        self.storage = storage
        self.commit_interval = commit_interval
        self.commit_bytes = commit_bytes
        #: Why writing failed (None while it has not).
        self.error: str | None = None
        try:
            self._writer = Writer(self.path, version=BAG_VERSION,
                                  storage_plugin=STORAGES[storage])
        except Exception as error:  # noqa: BLE001 - any failure of the storage library
            raise BagError(f'Bag {path} cannot be created: {describe_error(error)}') from None
        self._snapshot: tuple[dict[int, int], int, int] = ({}, 0, 0)
        self._mcap_snapshot: tuple[int, int, dict[int, int], int, int] | None = None
        self._next_commit = 0.0
        self._pending_bytes = 0
        self._rewound = False

    def open(self) -> BagWriter:
        """Create the bag directory and storage file.

        Raises:
            BagError: The bag cannot be created.
        """
        try:
            self._writer.open()
        except Exception as error:  # noqa: BLE001 - any failure of the storage library
            raise BagError(f'Bag {self.path} cannot be created: '
                           f'{describe_error(error)}') from None
        self._snapshot = self._state()
        self._next_commit = time.monotonic() + self.commit_interval
        return self

    @property
    def connections(self) -> list[Connection]:
        """The connections added so far."""
        return list(self._writer.connections)

    @property
    def counts(self) -> dict[int, int]:
        """Connection id -> messages the bag holds (after a failure: those committed)."""
        return dict(self._writer.counts)

    @property
    def total(self) -> int:
        """Messages the bag holds (after a failure: those committed before it)."""
        return sum(self._writer.counts.values())

    def set_custom_data(self, key: str, value: str) -> None:
        """Set a key of metadata.yaml's custom_data."""
        self._writer.set_custom_data(key, value)

    def add_connection(self, topic: str, msgtype: str, **kwargs: Any) -> Connection:
        """Add a topic (arguments of rosbags' Writer.add_connection) and commit it.

        Raises:
            BagError: Writing failed now or earlier.
        """
        self._check()
        try:
            connection = self._writer.add_connection(topic, msgtype, **kwargs)
            self.commit()
        except BagError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure of the storage library
            self._fail(error)
        return connection

    def write(self, connection: Connection, timestamp: int, data: bytes | memoryview) -> None:
        """Write one message; commit when `commit_interval` or `commit_bytes` is reached.

        Raises:
            BagError: Writing failed (now or earlier); the bag keeps what was committed.
        """
        self._check()
        try:
            self._writer.write(connection, timestamp, data)
            self._pending_bytes += len(data)
            if (self._pending_bytes >= self.commit_bytes
                    or time.monotonic() >= self._next_commit):
                self.commit()
        except BagError:
            raise
        except Exception as error:  # noqa: BLE001 - disk full, I/O errors, ...
            self._fail(error)

    def commit(self) -> None:
        """Make every message written so far durable; a later failure returns to this point."""
        connection = self._sqlite()
        if connection is not None:
            connection.commit()
        mcap = self._mcap()
        if mcap is not None:
            if mcap.chunk.bio.tell():
                mcap.close_chunk()
            mcap.bio.flush()
            self._mcap_snapshot = (mcap.bio.tell(), len(mcap.chunks), dict(mcap.channel_stats),
                                   mcap.message_start_time, mcap.message_end_time)
        self._snapshot = self._state()
        self._next_commit = time.monotonic() + self.commit_interval
        self._pending_bytes = 0

    def close(self) -> None:
        """Commit and close; write metadata.yaml with the counts the storage holds.

        Raises:
            BagError: Writing failed earlier (the bag is closed with what was committed) or
                closing failed (the bag has no metadata.yaml).
        """
        writer = self._writer
        if writer.storage is None:
            return
        if self.error is not None and not self._rewound:
            self.abort()
            raise BagError(f'Bag {self.path} could not be written ({self.error}); its '
                           f'{self.storage} file is incomplete and it has no metadata.yaml')
        try:
            writer.close()
        except Exception as error:  # noqa: BLE001 - disk full, I/O errors, ...
            self.abort()
            with suppress(OSError):
                (self.path / 'metadata.yaml.tmp').unlink()
            self.error = self.error or describe_error(error)
            raise BagError(
                f'Bag {self.path} cannot be closed ({describe_error(error)}); it has no '
                f'metadata.yaml, its storage file holds the {self.total} messages committed '
                'before (readers read it directly; `ros2 bag reindex` writes the metadata)'
            ) from None
        if self.error is not None:
            raise BagError(f'Bag {self.path} could not be written ({self.error}); it was '
                           f'closed with the {self.total} messages committed before')

    def abort(self) -> None:
        """Close without committing or writing metadata.yaml."""
        with suppress(Exception):
            self._writer.abort()

    def _check(self) -> None:
        if self.error is not None:
            raise BagError(f'Bag {self.path} cannot be written: {self.error}')

    def _sqlite(self) -> Any:
        return getattr(self._writer.storage, 'conn', None)

    def _mcap(self) -> Any:
        """Return rosbags' MCAP storage writer if it has what commit points use, else None."""
        storage = self._writer.storage
        parts = ('bio', 'chunk', 'chunks', 'channel_stats', 'close_chunk',
                 'message_start_time', 'message_end_time')
        return storage if all(hasattr(storage, p) for p in parts) else None

    def _rewind_mcap(self, mcap: Any) -> bool:
        """Truncate the MCAP file and the writer's state back to the last commit point."""
        if self._mcap_snapshot is None:
            return False
        offset, chunks, stats, start, end = self._mcap_snapshot
        handle = mcap.bio
        # The buffered file still holds bytes that cannot be written; drop it and reopen.
        with suppress(Exception):
            handle.close()
        with suppress(Exception):
            handle.raw.close()
        try:
            mcap.bio = mcap.path.open('r+b')
            mcap.bio.truncate(offset)
            mcap.bio.seek(offset)
        except OSError:
            return False
        del mcap.chunks[chunks:]
        mcap.chunk = type(mcap.chunk)(2**63 - 1, 0, BytesIO(), defaultdict(list))
        mcap.channel_stats.clear()
        mcap.channel_stats.update(stats)
        mcap.message_start_time, mcap.message_end_time = start, end
        return True

    def _state(self) -> tuple[dict[int, int], int, int]:
        writer = self._writer
        return dict(writer.counts), writer.min_timestamp, writer.max_timestamp

    def _fail(self, error: BaseException) -> NoReturn:
        self.error = describe_error(error)
        connection, mcap = self._sqlite(), self._mcap()
        rewound = False
        if connection is not None:
            with suppress(Exception):
                connection.rollback()
            rewound = True
        elif mcap is not None:
            rewound = self._rewind_mcap(mcap)
        self._rewound = rewound
        if rewound:
            counts, low, high = self._snapshot
            writer = self._writer
            writer.counts = {key: counts.get(key, 0) for key in writer.counts}
            writer.min_timestamp, writer.max_timestamp = low, high
        raise BagError(f'Bag {self.path} cannot be written: {self.error}') from None


def open_writer(path: str | Path, storage: str = 'sqlite3', *,
                commit_interval: float = COMMIT_INTERVAL,
                commit_bytes: int = COMMIT_BYTES) -> BagWriter:
    """Create and open a bag (format version BAG_VERSION) at a path that must not exist.

    Returns a BagWriter (see there: commit points, metadata that matches the storage).

    Raises:
        BagError: Unknown storage, or the bag cannot be created.
    """
    return BagWriter(path, storage, commit_interval=commit_interval,
                     commit_bytes=commit_bytes).open()



def add_connection(writer: BagWriter | Writer, topic: str, msgtype: str, *,
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
