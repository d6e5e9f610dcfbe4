"""Record live topics into a bag (`ros2 bag record` for the pip environment).

Subscriptions take the serialized CDR bytes (no deserialization); a writer thread stores them
with their receive time in a rosbag2 bag (format version 8, sqlite3 by default, Humble reads it).
The bag is committed as it is written (bagio.BagWriter): a failed write (disk full) stops the
recording with the bag closed at what was committed, its metadata matching its contents.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from mobilenetv1_ros.bag.bagio import add_connection, describe_error, open_writer, prepare_output
from mobilenetv1_ros.bag.errors import BagError
from mobilenetv1_ros.bag.ros_types import message_class

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from rclpy.node import Node

__all__ = ['BagRecorder', 'discover_types']

#: Recorder subscriptions: reliable (matches reliable and best-effort publishers' data), a deep
#: queue so a burst is not lost while the writer catches up.
RECORD_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)


def discover_types(node: Node, topics: Sequence[str], timeout: float) -> dict[str, str]:
    """Wait until every topic appears in the graph; return topic -> type name.

    Raises:
        BagError: Some topic did not appear within `timeout` seconds, or has several types.
    """
    wanted = [node.resolve_topic_name(t) for t in topics]
    deadline = time.monotonic() + timeout
    while True:
        known = dict(node.get_topic_names_and_types())
        if all(t in known for t in wanted):
            break
        if time.monotonic() >= deadline:
            missing = ', '.join(t for t in wanted if t not in known)
            raise BagError(f'Topics {missing} did not appear within {timeout:g} s')
        time.sleep(0.05)
    types = {}
    for topic in wanted:
        if len(known[topic]) != 1:
            raise BagError(f'Topic {topic} has several types: {", ".join(known[topic])}')
        types[topic] = known[topic][0]
    return types


class BagRecorder:
    """Records topics of `node`'s graph into a new bag until `close()`.

    Args:
        node: The node that subscribes (spin it in an executor).
        output: The bag to create.
        topics: Topic -> type name ('vision_msgs/msg/Classification').
        storage: 'sqlite3' or 'mcap'.
        overwrite: Replace an existing bag at `output`.
        qos: Subscription profile (default RECORD_QOS).

    Raises:
        BagOutputExistsError: `output` exists and `overwrite` is not set.
        BagError: A type is not installed here, or the bag cannot be created.
    """

    def __init__(self, node: Node, output: str | Path, topics: Mapping[str, str], *,
                 storage: str = 'sqlite3', overwrite: bool = False,
                 qos: QoSProfile | None = None) -> None:
        self.node = node
        self.output = prepare_output(output, overwrite=overwrite)
        self.topics = {node.resolve_topic_name(t): msgtype for t, msgtype in topics.items()}
        classes = {topic: message_class(msgtype) for topic, msgtype in self.topics.items()}
        self.counts: Counter[str] = Counter()
        #: Set when writing failed; the recording should stop (close() reports why).
        self.failed = threading.Event()
        self._queue: queue.Queue[tuple[str, int, bytes] | None] = queue.Queue()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        # Not a daemon, and it watches the main thread: the bag is closed even when the main
        # thread dies without calling close().
        self._thread = threading.Thread(target=self._write, args=(storage,),
                                        name='bag-recorder', daemon=False)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        self.subscriptions = [
            node.create_subscription(classes[topic], topic, self._callback(topic),
                                     qos or RECORD_QOS, raw=True)
            for topic in self.topics]

    def _callback(self, topic: str) -> Any:
        def store(data: bytes) -> None:
            if not self.failed.is_set():
                self._queue.put((topic, time.time_ns(), data))
        return store

    def _next(self) -> tuple[str, int, bytes] | None:
        main = threading.main_thread()
        while True:
            try:
                return self._queue.get(timeout=0.2)
            except queue.Empty:
                if not main.is_alive():
                    return None

    def _write(self, storage: str) -> None:
        try:
            writer = open_writer(self.output, storage)
        except BaseException as error:  # noqa: BLE001 - handed to the constructor
            self._error = error
            self._ready.set()
            return
        connections: dict[str, Any] = {}
        try:
            connections = {topic: add_connection(writer, topic, msgtype)
                           for topic, msgtype in self.topics.items()}
            self._ready.set()
            while True:
                item = self._next()
                if item is None:
                    break
                topic, timestamp, data = item
                writer.write(connections[topic], timestamp, data)
                self.counts[topic] += 1
        except BaseException as error:  # noqa: BLE001 - reported by close()
            self._error = error
            self.failed.set()
        finally:
            self._ready.set()
            try:
                writer.close()
            except Exception as error:  # noqa: BLE001 - storage library failures
                self._error = self._error or error
            # After a failure the bag holds what was committed, not what was received.
            by_id = {c.id: c.topic for c in connections.values()}
            self.counts = Counter({by_id[i]: n for i, n in writer.counts.items() if i in by_id})

    @property
    def total(self) -> int:
        """Messages written so far."""
        return sum(self.counts.values())

    def close(self) -> Path:
        """Stop recording, write what was received and close the bag; return its path.

        Raises:
            BagError: The bag could not be written.
        """
        for subscription in self.subscriptions:
            self.node.destroy_subscription(subscription)
        self.subscriptions = []
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            if isinstance(self._error, BagError):
                raise self._error
            raise BagError(f'Bag {self.output} could not be written: '
                           f'{describe_error(self._error)}')
        return self.output
