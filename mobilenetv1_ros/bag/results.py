"""Reading classification results back from bags, and checking them against a golden file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mobilenetv1_ros.bag.bagio import describe_error, open_reader
from mobilenetv1_ros.bag.errors import BagReadError
from mobilenetv1_ros.bag.messages import CLASSIFICATION_TYPE, typestore
from mobilenetv1_ros.core.stamps import stamp_ns

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ['ClassificationRecord', 'GoldenMismatch', 'compare_to_golden', 'load_golden',
           'read_classifications']


@dataclass(frozen=True)
class ClassificationRecord:
    """One vision_msgs/Classification read from a bag.

    Attributes:
        topic: The bag topic it was on.
        timestamp: Its bag (receive) time in nanoseconds.
        stamp_ns: Its header stamp in nanoseconds (the classified frame's stamp).
        frame_id: Its header frame_id.
        results: (class_id, score) pairs in message order (best first).
    """

    topic: str
    timestamp: int
    stamp_ns: int
    frame_id: str
    results: tuple[tuple[str, float], ...]

    @property
    def top_class(self) -> int | None:
        """The best class index, or None for an empty result list."""
        return int(self.results[0][0]) if self.results else None


def read_classifications(bag: str | Path,
                         topics: Iterable[str] = ()) -> list[ClassificationRecord]:
    """Return every Classification of a bag (of `topics`, if given) in bag order.

    Raises:
        BagReadError: The bag cannot be read.
    """
    wanted = set(topics)
    reader = open_reader(bag, warn=False)
    store = typestore()
    try:
        connections = [c for c in reader.connections if c.msgtype == CLASSIFICATION_TYPE
                       and (not wanted or c.topic in wanted)]
        records: list[ClassificationRecord] = []
        if not connections:
            return records
        try:
            for connection, timestamp, data in reader.messages(connections):
                message: Any = store.deserialize_cdr(data, CLASSIFICATION_TYPE)
                records.append(ClassificationRecord(
                    connection.topic, timestamp, stamp_ns(message.header.stamp),
                    message.header.frame_id,
                    tuple((r.class_id, float(r.score)) for r in message.results)))
        except Exception as error:  # noqa: BLE001 - corrupt storage raises anything
            raise BagReadError(f'Bag {bag} cannot be read: {describe_error(error)}') from None
        return records
    finally:
        reader.close()


def load_golden(path: str | Path) -> list[dict[str, Any]]:
    """Return the frame records of a golden file (topic, index, stamp_ns, class_id, label)."""
    document = json.loads(Path(path).read_text(encoding='utf-8'))
    frames: list[dict[str, Any]] = document['frames']
    return frames


@dataclass(frozen=True)
class GoldenMismatch:
    """A golden frame whose result is missing or names another class."""

    topic: str
    index: int
    stamp_ns: int
    expected: int
    got: int | None

    def __str__(self) -> str:
        got = 'no result' if self.got is None else f'class {self.got}'
        return (f'{self.topic} frame {self.index} (stamp {self.stamp_ns}): expected class '
                f'{self.expected}, got {got}')


def compare_to_golden(records: Iterable[ClassificationRecord], golden: Iterable[Mapping[str, Any]],
                      topic_map: Mapping[str, str]) -> list[GoldenMismatch]:
    """Match results to golden frames by header stamp; return the frames that do not agree.

    Args:
        records: Classifications read from a bag.
        golden: Golden frame records.
        topic_map: Image topic of the golden file -> result topic to look on.
    """
    by_key = {(r.topic, r.stamp_ns): r for r in records}
    mismatches = []
    for frame in golden:
        if frame['topic'] not in topic_map:
            continue
        record = by_key.get((topic_map[frame['topic']], frame['stamp_ns']))
        got = record.top_class if record is not None else None
        if got != frame['class_id']:
            mismatches.append(GoldenMismatch(frame['topic'], frame['index'], frame['stamp_ns'],
                                             frame['class_id'], got))
    return mismatches
