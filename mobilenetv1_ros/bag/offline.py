"""Offline bag classification: image topics in, vision_msgs/Classification per frame out.

No DDS: messages are read with rosbags, classified by the core pipeline and written to a new
bag, on `<image topic>/classification`, with the frame's header and the frame's bag timestamp.
Reading, deserializing and preprocessing run in a second thread, overlapped with inference,
so the tool runs as fast as the backend allows.

Nothing is lost silently: a frame that cannot be converted (any error, from an unsupported
encoding to an image too large to decode) is a counted rejection with its reason and the run
goes on; only storage damage ends reading early. The output bag is committed as it is written
and always closed with metadata that equals its contents, also when the run is stopped (the
`stop` event) or the disk fills up. A bag that yields fewer messages than its metadata declares
is reported.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Union

from mobilenetv1_ros.bag.bagio import (
    BAG_VERSION,
    add_connection,
    describe_error,
    image_connections,
    open_reader,
    open_writer,
    prepare_output,
    shortfall,
)
from mobilenetv1_ros.bag.cdr import classification_cdr, read_frame
from mobilenetv1_ros.bag.errors import BagError
from mobilenetv1_ros.bag.handoff import Handoff
from mobilenetv1_ros.bag.messages import (
    CLASSIFICATION_TYPE,
    frame_from_message,
    typestore,
)
from mobilenetv1_ros.core.errors import ImageError
from mobilenetv1_ros.core.stamps import stamp_ns
from mobilenetv1_ros.console.signals import exit_code_of, signal_name

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import numpy.typing as npt
    from rosbags.interfaces import Connection

    from tqdm import tqdm

    from mobilenetv1_ros.core.pipeline import Classifier
    from mobilenetv1_ros.core.postprocess import Prediction

__all__ = [
    'CLASSIFICATION_SUFFIX',
    'BagClassifyOptions',
    'BagSummary',
    'FrameResult',
    'RejectedFrame',
    'TopicCounts',
    'classify_bag',
    'output_topic',
]

CLASSIFICATION_SUFFIX = '/classification'
#: Frames read ahead of inference, and results waiting to be written (see bag.handoff).
_READ_AHEAD = 16
_WRITE_BEHIND = 64
_WRITE_BATCH = 16
#: Rejected frames listed one by one in the printed summary, and at most in the summary's
#: `rejected_frames` (a bag of millions of unusable frames must not exhaust memory).
_LISTED_REJECTIONS = 20
_KEPT_REJECTIONS = 10_000
#: Distinct rejection reasons printed (all are counted and in the JSON).
_LISTED_REASONS = 10


def output_topic(image_topic: str) -> str:
    """Return the classification topic of an image topic: `<image topic>/classification`."""
    return image_topic.rstrip('/') + CLASSIFICATION_SUFFIX


@dataclass(frozen=True)
class BagClassifyOptions:
    """What to read and how to write.

    Attributes:
        topics: Image topics to classify; empty = every Image/CompressedImage topic.
        keep_inputs: Also copy the classified image topics into the output bag.
        storage: Output storage plugin, 'sqlite3' (default, what Humble reads) or 'mcap'.
        overwrite: Replace an existing output bag.
    """

    topics: Sequence[str] = ()
    keep_inputs: bool = False
    storage: str = 'sqlite3'
    overwrite: bool = False


@dataclass(frozen=True)
class FrameResult:
    """The classification of one frame, as written to the output bag."""

    topic: str
    timestamp: int
    stamp_ns: int
    predictions: list[Prediction]


@dataclass(frozen=True)
class RejectedFrame:
    """A frame that could not be classified: where it is in the bag and why.

    Attributes:
        timestamp: Its bag (receive) timestamp, ns.
        stamp_ns: Its header stamp, ns; None when the message could not be deserialized.
    """

    topic: str
    timestamp: int
    stamp_ns: int | None
    reason: str


@dataclass
class TopicCounts:
    """Per input topic: frames read, classified and rejected; messages the bag declares."""

    frames: int = 0
    classified: int = 0
    rejected: int = 0
    declared: int = 0


@dataclass
class BagSummary:
    """What one run did; `format()` is the closing summary the CLI prints."""

    input: Path
    output: Path
    storage: str
    backend: str = ''
    topics: dict[str, TopicCounts] = field(default_factory=dict)
    classes: Counter[tuple[int, str]] = field(default_factory=Counter)
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: The first rejected frames, in bag order (at most _KEPT_REJECTIONS).
    rejected_frames: list[RejectedFrame] = field(default_factory=list)
    messages_written: int = 0
    seconds: float = 0.0
    #: CPU time of the whole process (every thread) over the same span as `seconds`.
    cpu_seconds: float = 0.0
    convert_ms: float = 0.0
    infer_ms: float = 0.0
    postprocess_ms: float = 0.0
    read_error: str | None = None
    write_error: str | None = None
    interrupted: bool = False
    #: The stop signal's number when a signal stopped the run (None: Ctrl-C as an exception,
    #: or not stopped).
    signal: int | None = None

    @property
    def frames(self) -> int:
        """Frames read from the image topics."""
        return sum(t.frames for t in self.topics.values())

    @property
    def classified(self) -> int:
        """Frames classified (one Classification written each)."""
        return sum(t.classified for t in self.topics.values())

    @property
    def rejected_count(self) -> int:
        """Frames that could not be classified."""
        return sum(self.rejected.values())

    @property
    def frames_per_second(self) -> float:
        """Frames read per second of wall time, from the first read to the last write."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def completed(self) -> bool:
        """Whether the bag was read to its end and every result was written."""
        return self.read_error is None and self.write_error is None and not self.interrupted

    @property
    def shortfall(self) -> list[str]:
        """Topics of which fewer frames were read than the bag declares (after a full run)."""
        if not self.completed:
            return []
        return shortfall({t: c.declared for t, c in self.topics.items()},
                         {t: c.frames for t, c in self.topics.items()})

    @property
    def ok(self) -> bool:
        """Whether the whole bag was read, it had frames, and every one was classified."""
        return (self.completed and not self.rejected and self.frames > 0
                and not self.shortfall)

    @property
    def exit_code(self) -> int:
        """0 all classified; 1 anything rejected, missing or unwritten; 128+N stopped by N."""
        if self.interrupted:
            return exit_code_of(self.signal) if self.signal is not None else 130
        return 0 if self.ok else 1

    def problems(self) -> list[str]:
        """One sentence per reason the run is not `ok` (empty when it is)."""
        lines = []
        if self.rejected:
            lines.append(f'{self.rejected_count} of {self.frames} frames were rejected '
                         '(listed above)')
        if self.read_error:
            lines.append(f'{self.input} is corrupt or truncated ({self.read_error}); the '
                         f'{self.frames} frames before the damage were written to '
                         f'{self.output}')
        if self.write_error:
            lines.append(f'the output bag {self.output} could not be written completely '
                         f'({self.write_error}); it holds {self.messages_written} messages '
                         'and its metadata matches them')
        lines.extend(f'fewer messages read than declared: {line}' for line in self.shortfall)
        if self.completed and self.frames == 0:
            lines.append(f'no frame was read from {", ".join(self.topics) or "no topic"}; '
                         'nothing was classified')
        return lines

    def format(self, max_classes: int = 10) -> str:
        """Return the human-readable closing summary."""
        lines = [f'Summary: {self.input} -> {self.output} ({self.storage}, bag format '
                 f'version {BAG_VERSION})']
        if self.backend:
            lines.append(f'  backend: {self.backend}')
        lines.append(f'  frames: {self.frames} read, {self.classified} classified, '
                     f'{self.rejected_count} rejected; {self.messages_written} messages written')
        for topic, counts in self.topics.items():
            lines.append(f'    {topic}: {counts.frames} read, {counts.classified} classified, '
                         f'{counts.rejected} rejected -> {output_topic(topic)}')
        if self.classified:
            stage = (f'convert {self.convert_ms / self.classified:.2f} ms, infer '
                     f'{self.infer_ms / self.classified:.2f} ms, postprocess '
                     f'{self.postprocess_ms / self.classified:.2f} ms per frame')
        else:
            stage = 'no frame classified'
        lines.append(f'  throughput: {self.frames_per_second:.1f} frames/s '
                     f'({self.frames} frames in {self.seconds:.2f} s; {stage})')
        if self.classes:
            lines.append(f'  classes seen (top-1): {len(self.classes)}')
            for (class_id, label), count in self.classes.most_common(max_classes):
                lines.append(f'    {count:6d}  {class_id:4d}  {label}')
            if len(self.classes) > max_classes:
                lines.append(f'    ... and {len(self.classes) - max_classes} more')
        if self.rejected:
            lines.append(f'  rejected frames: {self.rejected_count}')
            for (topic, reason), count in self.rejected.most_common(_LISTED_REASONS):
                lines.append(f'    {count:6d}  {topic}: {reason}')
            if len(self.rejected) > _LISTED_REASONS:
                lines.append(f'    ... and {len(self.rejected) - _LISTED_REASONS} more reasons')
            for frame in self.rejected_frames[:_LISTED_REJECTIONS]:
                stamp = '-' if frame.stamp_ns is None else _seconds(frame.stamp_ns)
                lines.append(f'    {frame.topic} stamp {stamp} (bag time '
                             f'{_seconds(frame.timestamp)}): {frame.reason}')
            if self.rejected_count > _LISTED_REJECTIONS:
                lines.append(f'    ... and {self.rejected_count - _LISTED_REJECTIONS} more '
                             f'(the first {_KEPT_REJECTIONS} in --summary-json)')
        for line in self.shortfall:
            lines.append(f'  missing: {line}')
        if self.read_error:
            lines.append(f'  read error: {self.read_error}; the {self.frames} frames before it '
                         'were processed and written')
        if self.write_error:
            lines.append(f'  write error: {self.write_error}; the output holds the '
                         f'{self.messages_written} messages committed before it')
        if self.interrupted:
            cause = f'stopped by {signal_name(self.signal)}' if self.signal else 'interrupted'
            lines.append(f'  {cause}: the {self.frames} frames processed so far were written')
        return '\n'.join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-ready data."""
        return {
            'input': str(self.input), 'output': str(self.output), 'storage': self.storage,
            'bag_version': BAG_VERSION, 'backend': self.backend,
            'frames': self.frames, 'classified': self.classified,
            'rejected': self.rejected_count, 'messages_written': self.messages_written,
            'seconds': round(self.seconds, 4),
            'cpu_seconds': round(self.cpu_seconds, 4),
            'frames_per_second': round(self.frames_per_second, 2),
            'topics': {t: vars(c) for t, c in self.topics.items()},
            'classes': [{'class_id': c, 'label': label, 'frames': n}
                        for (c, label), n in self.classes.most_common()],
            'rejections': [{'topic': t, 'reason': r, 'frames': n}
                           for (t, r), n in self.rejected.most_common()],
            'rejected_frames': [vars(f) for f in self.rejected_frames],
            'missing': self.shortfall,
            'read_error': self.read_error, 'write_error': self.write_error,
            'interrupted': self.interrupted,
            'signal': None if self.signal is None else signal_name(self.signal),
            'exit_code': self.exit_code,
        }


def _seconds(nanoseconds: int) -> str:
    seconds, rest = divmod(nanoseconds, 1_000_000_000)
    return f'{seconds}.{rest:09d}'


class _Prepared(NamedTuple):
    """A frame read and preprocessed by the reader thread (nv12 None when rejected)."""

    connection: Connection
    timestamp: int
    data: bytes
    header: Any
    nv12: npt.NDArray[np.uint8] | None
    convert_ms: float
    reason: str


class _End(NamedTuple):
    error: str | None


class _Inferred(NamedTuple):
    """A prepared frame and its scores (None when the frame was rejected)."""

    frame: _Prepared
    scores: npt.NDArray[np.floating] | None
    infer_ms: float


_Item = Union[_Prepared, _End]


class _FrameReader(threading.Thread):
    """Reads, deserializes and preprocesses frames into a bounded queue, in bag order."""

    def __init__(self, reader: Any, connections: list[Connection], classifier: Classifier,
                 keep_data: bool) -> None:
        super().__init__(name='bag-reader', daemon=True)
        self.reader = reader
        self.connections = connections
        self.classifier = classifier
        self.items: Handoff[_Item] = Handoff(_READ_AHEAD)
        self.stop = threading.Event()
        #: Whether the stored bytes are kept for the writer (--keep-inputs).
        self.keep_data = keep_data

    def _put(self, item: _Item) -> bool:
        return self.items.put(item, lambda: not self.stop.is_set(),
                              flush=isinstance(item, _End))

    def _prepare(self, connection: Connection, timestamp: int, data: bytes) -> _Prepared:
        start = time.perf_counter()
        try:
            header, frame = read_frame(data, connection.msgtype)
        except Exception:  # noqa: BLE001 - rosbags reads it or says why not
            try:
                message: Any = typestore().deserialize_cdr(data, connection.msgtype)
            except Exception as error:  # noqa: BLE001 - malformed CDR raises anything
                return _Prepared(connection, timestamp, data, None, None, 0.0,
                                 f'message cannot be deserialized ({describe_error(error)})')
            header, frame = message.header, frame_from_message(message)
        try:
            prepared = self.classifier.prepare(frame)
        except ImageError as error:
            return _Prepared(connection, timestamp, data, header, None, 0.0, str(error))
        except Exception as error:  # noqa: BLE001 - a frame must never end the run
            # cv2.error for images over OpenCV's pixel limit, MemoryError, anything a decoder
            # raises: the frame is rejected, the frames after it are still read.
            return _Prepared(connection, timestamp, data, header, None, 0.0,
                             f'frame cannot be converted ({describe_error(error)})')
        return _Prepared(connection, timestamp, data if self.keep_data else b'', header,
                         prepared.nv12, (time.perf_counter() - start) * 1e3, '')

    def run(self) -> None:
        error: str | None = None
        try:
            for connection, timestamp, data in self.reader.messages(self.connections):
                if not self._put(self._prepare(connection, timestamp, data)):
                    return
        except Exception as exc:  # noqa: BLE001 - corrupt storage raises anything
            error = describe_error(exc)
        self._put(_End(error))


class _ResultWriter(threading.Thread):
    """Owns the output bag: postprocesses scores, writes Classification messages, counts.

    rosbags' sqlite3 writer may only be used from the thread that opened it, so this thread
    opens, writes and closes the bag. It is not a daemon and it watches the main thread: if
    the main thread dies without handing over the end of the stream, this thread still closes
    the bag before the interpreter exits (a daemon thread would be killed mid-transaction).
    """

    def __init__(self, path: Path, connections: list[Connection], classifier: Classifier,
                 options: BagClassifyOptions, summary: BagSummary, progress: tqdm | None,
                 on_result: Callable[[FrameResult], None] | None) -> None:
        super().__init__(name='bag-writer', daemon=False)
        self.path = path
        self.connections = connections
        self.classifier = classifier
        self.options = options
        self.summary = summary
        self.progress = progress
        self.on_result = on_result
        self.items: Handoff[_Inferred | None] = Handoff(_WRITE_BEHIND, _WRITE_BATCH)
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.finished = 0.0
        self.finished_cpu = 0.0

    def _next(self) -> list[_Inferred | None]:
        main = threading.main_thread()
        while True:
            items = self.items.take(timeout=0.2)
            if items:
                return items
            if not main.is_alive():
                return [None]

    def run(self) -> None:
        try:
            writer = open_writer(self.path, self.options.storage)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            self.error = error
            self.ready.set()
            return
        try:
            summary = self.summary
            writer.set_custom_data('mobilenetv1_ros.source', str(summary.input))
            writer.set_custom_data('mobilenetv1_ros.backend', summary.backend)
            outputs: dict[str, Connection] = {}
            copies: dict[int, Connection] = {}
            for connection in self.connections:
                topic = connection.topic
                if topic not in outputs:
                    outputs[topic] = add_connection(writer, output_topic(topic),
                                                    CLASSIFICATION_TYPE)
                if self.options.keep_inputs:
                    copies[connection.id] = add_connection(writer, topic, connection.msgtype,
                                                           source=connection)
            self.ready.set()
            done = False
            while not done:
                written = 0
                for item in self._next():
                    if item is None:
                        done = True
                        break
                    self._write(writer, item, outputs, copies)
                    written += 1
                summary.messages_written = writer.total
                if self.progress is not None and written:
                    self.progress.update(written)
            self.finished = time.perf_counter()
            self.finished_cpu = time.process_time()
        except BagError as error:
            # A failed write (disk full): the bag keeps what was committed before it.
            self.summary.write_error = str(error)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            self.error = error
        finally:
            self.ready.set()
            try:
                writer.close()
            except BagError as error:
                self.summary.write_error = self.summary.write_error or str(error)
            except Exception as error:  # noqa: BLE001 - storage library failures
                self.error = self.error or BagError(
                    f'Output bag {self.path} cannot be closed: {describe_error(error)}')
            self.summary.messages_written = writer.total

    def _write(self, writer: Any, item: _Inferred, outputs: dict[str, Connection],
               copies: dict[int, Connection]) -> None:
        frame, scores, infer_ms = item
        summary = self.summary
        topic = frame.connection.topic
        counts = summary.topics[topic]
        if self.options.keep_inputs:
            writer.write(copies[frame.connection.id], frame.timestamp, frame.data)
        if scores is None:
            counts.frames += 1
            counts.rejected += 1
            summary.rejected[(topic, frame.reason)] += 1
            if len(summary.rejected_frames) < _KEPT_REJECTIONS:
                summary.rejected_frames.append(RejectedFrame(
                    topic, frame.timestamp,
                    None if frame.header is None else stamp_ns(frame.header.stamp), frame.reason))
        else:
            start = time.perf_counter()
            predictions, _ = self.classifier.rank(scores)
            summary.postprocess_ms += (time.perf_counter() - start) * 1e3
            writer.write(outputs[topic], frame.timestamp,
                         classification_cdr(frame.header, predictions))
            counts.frames += 1
            counts.classified += 1
            summary.convert_ms += frame.convert_ms
            summary.infer_ms += infer_ms
            if predictions:
                summary.classes[(predictions[0].class_id, predictions[0].label)] += 1
            if self.on_result is not None:
                self.on_result(FrameResult(topic, frame.timestamp, stamp_ns(frame.header.stamp),
                                           predictions))

    def put(self, item: _Inferred | None) -> bool:
        """Queue an item (None: the end); return False when the writer has stopped."""
        return self.items.put(item, self.is_alive, flush=item is None)


def classify_bag(input_path: str | Path, output_path: str | Path, classifier: Classifier,
                 options: BagClassifyOptions | None = None, *, progress: tqdm | None = None,
                 on_result: Callable[[FrameResult], None] | None = None,
                 stop: threading.Event | None = None) -> BagSummary:
    """Classify every frame of the chosen image topics and write the results to a new bag.

    Three threads form a pipeline: reading + preprocessing, inference (the calling thread) and
    postprocessing + writing. A frame that cannot be converted, for any reason, is counted as
    rejected with its reason and the run goes on. A read error in the middle of the bag
    (corrupt or truncated storage) ends the run; everything before it is written and the
    output bag is closed properly. Setting `stop` (a signal handler does) or Ctrl-C does the
    same, and so does a failed write (disk full), after which the bag keeps what was committed
    and its metadata says so. `on_result` is called from the writing thread, in bag order.

    Raises:
        BagReadError: The input cannot be opened.
        NoImageTopicsError: No image topic (or a requested topic is missing / not an image).
        BagOutputExistsError: The output exists and `overwrite` is not set, or is not a bag.
        BagError: The output bag cannot be created.
        BackendError: Inference failed (the frames before it are written).
    """
    options = options or BagClassifyOptions()
    input_path, output_path = Path(input_path), Path(output_path)
    reader = open_reader(input_path)
    try:
        connections = image_connections(reader, options.topics)
        prepare_output(output_path, overwrite=options.overwrite, inputs=[input_path])
        summary = BagSummary(input_path, output_path, options.storage,
                             classifier.backend.describe())
        for connection in connections:
            counts = summary.topics.setdefault(connection.topic, TopicCounts())
            counts.declared += connection.msgcount
        if progress is not None:
            progress.total = sum(c.msgcount for c in connections)
            progress.refresh()
        _run(reader, output_path, connections, classifier, options, summary, progress,
             on_result, stop or threading.Event())
    finally:
        reader.close()
    return summary


def _infer_batch(items: list[_Item], infer: Callable[[npt.NDArray[np.uint8]], Any],
                 results: _ResultWriter, summary: BagSummary, stop: threading.Event) -> bool:
    """Infer a batch of read frames and hand them to the writer; False when the run ends."""
    if not items and not results.is_alive():
        return False
    for item in items:
        if stop.is_set():
            summary.interrupted = True
            return False
        if isinstance(item, _End):
            summary.read_error = item.error
            return False
        scores, infer_ms = None, 0.0
        if item.nv12 is not None:
            began = time.perf_counter()
            scores = infer(item.nv12)
            infer_ms = (time.perf_counter() - began) * 1e3
        if not results.put(_Inferred(item, scores, infer_ms)):
            return False
    if stop.is_set():
        summary.interrupted = True
        return False
    return True


def _run(reader: Any, output_path: Path, connections: list[Connection], classifier: Classifier,
         options: BagClassifyOptions, summary: BagSummary, progress: tqdm | None,
         on_result: Callable[[FrameResult], None] | None, stop: threading.Event) -> None:
    results = _ResultWriter(output_path, connections, classifier, options, summary, progress,
                            on_result)
    frames = _FrameReader(reader, connections, classifier, options.keep_inputs)
    infer = classifier.infer
    start = start_cpu = 0.0
    try:
        results.start()
        results.ready.wait()
        if results.error is not None:
            raise results.error
        # Timed from the first read: creating the output bag is not part of the throughput.
        start = time.perf_counter()
        start_cpu = time.process_time()
        frames.start()
        while _infer_batch(frames.items.take(timeout=0.1), infer, results, summary, stop):
            pass
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        frames.stop.set()
        if results.is_alive():
            results.put(None)
            results.join()
        if frames.is_alive():
            frames.join(timeout=5.0)
        if start:
            summary.seconds = (results.finished or time.perf_counter()) - start
            summary.cpu_seconds = (results.finished_cpu or time.process_time()) - start_cpu
        if progress is not None:
            progress.close()
    if results.error is not None:
        error = results.error
        if isinstance(error, BagError):
            raise error
        raise BagError(f'Output bag {output_path} cannot be written: '
                       f'{describe_error(error)}') from None
