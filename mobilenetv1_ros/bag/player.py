"""Replay a bag into the live ROS graph with its recorded timing (`ros2 bag play` for pip).

Messages are published as the raw CDR bytes stored in the bag (no deserialization), on their
recorded topics or remapped ones, at the recorded pace divided by `rate`, optionally looping.
A bag that yields fewer messages than its metadata declares is reported (`shortfall`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mobilenetv1_ros.bag.bagio import describe_error, open_reader, shortfall
from mobilenetv1_ros.bag.errors import BagError, BagReadError
from mobilenetv1_ros.bag.ros_types import message_class, qos_from_bag

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from rclpy.node import Node
    from rosbags.interfaces import Connection

__all__ = ['BagPlayer', 'PlayOptions', 'PlayStats', 'Published', 'parse_remaps']


def parse_remaps(items: Sequence[str]) -> dict[str, str]:
    """Parse `FROM:=TO` topic remaps.

    Raises:
        BagError: An item is not of the form FROM:=TO.
    """
    remaps = {}
    for item in items:
        source, sep, target = item.partition(':=')
        if not sep or not source or not target:
            raise BagError(f'Remap {item!r} is not of the form FROM:=TO')
        remaps[source] = target
    return remaps


@dataclass(frozen=True)
class PlayOptions:
    """How to replay.

    Attributes:
        topics: Bag topics to publish; empty = all.
        remap: Bag topic -> published topic.
        rate: Playback speed factor (2.0 = twice as fast as recorded).
        loops: Times to play the bag; 0 = until stopped.
        qos_depth: History depth of each publisher.
    """

    topics: Sequence[str] = ()
    remap: Mapping[str, str] = field(default_factory=dict)
    rate: float = 1.0
    loops: int = 1
    qos_depth: int = 10


@dataclass(frozen=True)
class Published:
    """One published message: where, its bag timestamp and bytes, and the wall time it left.

    Attributes:
        topic: The topic it was published on (after remapping).
        bag_topic: Its topic in the bag.
    """

    topic: str
    bag_topic: str
    msgtype: str
    timestamp: int
    data: bytes
    wall_ns: int


@dataclass
class PlayStats:
    """Messages published per topic, loops completed, and the worst lag behind schedule.

    Attributes:
        read: Messages read per bag topic in the first pass over the bag.
        first_pass_done: Whether the first pass reached the end of the bag.
    """

    published: Counter[str] = field(default_factory=Counter)
    read: Counter[str] = field(default_factory=Counter)
    first_pass_done: bool = False
    loops: int = 0
    seconds: float = 0.0
    max_lag_ms: float = 0.0
    stopped: bool = False

    @property
    def total(self) -> int:
        """Messages published on all topics."""
        return sum(self.published.values())


class BagPlayer:
    """Publishes a bag's messages through `node`'s publishers.

    Args:
        node: The node whose publishers send the messages.
        bag: A rosbag2 bag (directory or .db3/.mcap file).
        options: Topics, remaps, rate, loops.
        on_publish: Called after each publish (from the playing thread).

    Raises:
        BagReadError: The bag cannot be read.
        BagError: A requested topic is not in the bag, or its type is not installed.
    """

    def __init__(self, node: Node, bag: str | Path, options: PlayOptions | None = None,
                 on_publish: Callable[[Published], None] | None = None) -> None:
        self.options = options or PlayOptions()
        if self.options.rate <= 0:
            raise BagError(f'Rate {self.options.rate} must be positive')
        self.bag = Path(bag)
        self.node = node
        self.on_publish = on_publish
        self.reader = open_reader(self.bag)
        try:
            self.connections = self._select(self.reader.connections)
            self.publishers: dict[int, tuple[str, Any]] = {}
            by_topic: dict[str, Any] = {}
            for connection in self.connections:
                topic = self.options.remap.get(connection.topic, connection.topic)
                if topic not in by_topic:
                    profiles = getattr(connection.ext, 'offered_qos_profiles', [])
                    by_topic[topic] = node.create_publisher(
                        message_class(connection.msgtype), topic,
                        qos_from_bag(profiles, self.options.qos_depth))
                self.publishers[connection.id] = (topic, by_topic[topic])
        except BaseException:
            self.reader.close()
            raise

    def _select(self, connections: Sequence[Connection]) -> list[Connection]:
        if not self.options.topics:
            return list(connections)
        known = {c.topic for c in connections}
        missing = [t for t in self.options.topics if t not in known]
        if missing:
            raise BagError(f'Topics {", ".join(missing)} are not in bag {self.bag} (topics: '
                           f'{", ".join(sorted(known)) or "none"})')
        return [c for c in connections if c.topic in self.options.topics]

    @property
    def topics(self) -> list[str]:
        """The published topic names."""
        return sorted({topic for topic, _ in self.publishers.values()})

    @property
    def message_count(self) -> int:
        """Messages one pass over the bag publishes (as its metadata declares)."""
        return sum(c.msgcount for c in self.connections)

    @property
    def declared(self) -> dict[str, int]:
        """Bag topic -> messages its metadata declares (of the selected topics)."""
        counts: Counter[str] = Counter()
        for connection in self.connections:
            counts[connection.topic] += connection.msgcount
        return dict(counts)

    def shortfall(self, stats: PlayStats) -> list[str]:
        """Why a finished first pass published less than the bag declares (empty: it did not).

        A topic with fewer messages read than declared is one line; reading nothing at all
        from the selected topics is another.
        """
        if not stats.first_pass_done:
            return []
        lines = shortfall(self.declared, stats.read)
        if not lines and not sum(stats.read.values()):
            topics = ', '.join(sorted(self.declared)) or 'any topic'
            lines.append(f'no message was read from {topics} of {self.bag}')
        return lines

    def wait_for_subscribers(self, timeout: float, count: int = 1, settle: float = 0.5, *,
                             stop: threading.Event | None = None) -> bool:
        """Wait until every publisher has `count` matched subscriptions; return whether so.

        The publisher sees a match before the subscriber has matched it back (and a
        subscriber drops data of writers it does not know yet), so after the match this
        waits `settle` seconds more. Setting `stop` ends the wait (returns False).
        """
        stop = stop or threading.Event()
        deadline = time.monotonic() + timeout
        publishers = {id(p): p for _, p in self.publishers.values()}.values()
        while not stop.is_set():
            if all(p.get_subscription_count() >= count for p in publishers):
                stop.wait(settle)
                return not stop.is_set()
            if time.monotonic() >= deadline:
                return False
            stop.wait(0.02)
        return False

    def play(self, stop: threading.Event | None = None) -> PlayStats:
        """Publish the bag (`loops` times, or until `stop` is set); return what was published.

        Raises:
            BagReadError: The bag became unreadable during playback (what was read before
                was published).
        """
        stop = stop or threading.Event()
        stats = PlayStats()
        begin = time.monotonic()
        loop = 0
        while not stop.is_set() and (self.options.loops <= 0 or loop < self.options.loops):
            if not self._play_once(stop, stats, first_pass=loop == 0):
                break
            loop += 1
            stats.loops = loop
        stats.stopped = stop.is_set()
        stats.seconds = time.monotonic() - begin
        return stats

    def _messages(self) -> Iterator[tuple[Connection, int, bytes]]:
        """Yield the bag's messages; storage failures become BagReadError."""
        iterator = iter(self.reader.messages(self.connections))
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            except Exception as error:  # noqa: BLE001 - corrupt storage raises anything
                raise BagReadError(f'Bag {self.bag} cannot be read: '
                                   f'{describe_error(error)}') from None
            yield item

    def _play_once(self, stop: threading.Event, stats: PlayStats, *, first_pass: bool) -> bool:
        """Publish the bag once; return False when stopped or when it yielded nothing."""
        first: int | None = None
        start = 0.0
        rate = self.options.rate
        for connection, timestamp, data in self._messages():
            now = time.monotonic()
            if first is None:
                first, start = timestamp, now
            due = start + (timestamp - first) / 1e9 / rate
            if due > now and stop.wait(due - now):
                return False
            stats.max_lag_ms = max(stats.max_lag_ms, (time.monotonic() - due) * 1e3)
            topic, publisher = self.publishers[connection.id]
            payload = data if isinstance(data, bytes) else bytes(data)
            publisher.publish(payload)
            stats.published[topic] += 1
            if first_pass:
                stats.read[connection.topic] += 1
            if self.on_publish is not None:
                self.on_publish(Published(topic, connection.topic, connection.msgtype, timestamp,
                                          payload,
                                          time.time_ns()))
        stats.first_pass_done = stats.first_pass_done or first_pass
        return first is not None

    def wait_for_acknowledgements(self, timeout: float = 2.0) -> bool:
        """Wait until reliable subscribers have acknowledged everything published."""
        from rclpy.duration import Duration

        deadline = time.monotonic() + timeout
        for publisher in {id(p): p for _, p in self.publishers.values()}.values():
            remaining = max(0.0, deadline - time.monotonic())
            if not publisher.wait_for_all_acked(Duration(nanoseconds=int(remaining * 1e9))):
                return False
        return True

    def close(self) -> None:
        """Destroy the publishers (after delivering what is in flight) and close the bag."""
        if self.publishers and self.node.context.ok():
            self.wait_for_acknowledgements()
        for publisher in {id(p): p for _, p in self.publishers.values()}.values():
            self.node.destroy_publisher(publisher)
        self.publishers.clear()
        self.reader.close()
