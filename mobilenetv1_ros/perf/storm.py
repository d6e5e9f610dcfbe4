"""Malformed camera frames for robustness runs: each with the reason the node must reject it.

A bad-input storm interleaves these with good frames. Every kind is a frame a glitching camera
driver, a broken bridge or a hostile publisher can send: unknown or empty encodings, data
longer or shorter than step x height, zero or absurd sizes, a step shorter than a row, odd NV12
or YUV 4:2:2 sides, and for compressed input garbage, truncated or empty JPEG/PNG bytes and
unknown formats. Sizes are declared, not allocated: a "huge" frame carries a few bytes only.

No ROS here: frames are core frames (ros.convert.frame_msg turns them into messages).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from mobilenetv1_ros.core.frames import CompressedFrame, RawFrame

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence


    from mobilenetv1_ros.core.frames import Frame

__all__ = [
    'COMPRESSED_KINDS',
    'RAW_KINDS',
    'BadFrame',
    'bad_frames',
    'interleave',
]

#: The largest value a sensor_msgs/Image uint32 field holds.
UINT32_MAX = 2**32 - 1


@dataclass(frozen=True)
class BadFrame:
    """One malformed frame and what the node must count it as.

    Attributes:
        kind: What is wrong with it, e.g. 'short_data'.
        reason: The node's rejection reason: 'unsupported_encoding', 'undecodable' or
            'bad_frame'.
        frame: The frame to publish.
    """

    kind: str
    reason: str
    frame: Frame


def _rng_bytes(rng: random.Random, count: int) -> bytes:
    return rng.randbytes(count)


def _raw_kinds(width: int, height: int) -> dict[str, tuple[str, Callable[[random.Random],
                                                                         Frame]]]:
    """Raw-frame kinds -> (reason, maker); sizes around the given good frame size."""
    step = width * 3
    size = step * height

    def bgr(data: bytes, *, width: int = width, height: int = height,
            step: int = step) -> RawFrame:
        return RawFrame('bgr8', width, height, step, data)

    return {
        'unknown_encoding': ('unsupported_encoding', lambda rng: RawFrame(
            'bayer_rggb8', width, height, width, _rng_bytes(rng, width * height))),
        'empty_encoding': ('unsupported_encoding', lambda rng: RawFrame(
            '', width, height, step, _rng_bytes(rng, size))),
        '16bit_encoding': ('unsupported_encoding', lambda rng: RawFrame(
            '16UC1', width, height, width * 2, _rng_bytes(rng, width * height * 2))),
        'jpeg_in_raw_image': ('unsupported_encoding', lambda rng: RawFrame(
            'jpeg', 0, 0, 0, b'\xff\xd8\xff\xe0' + _rng_bytes(rng, 2000))),
        'short_data': ('bad_frame', lambda rng: bgr(
            _rng_bytes(rng, size - rng.randint(1, size // 2)))),
        'long_data': ('bad_frame', lambda rng: bgr(
            _rng_bytes(rng, size + rng.randint(1, step)))),
        'empty_data': ('bad_frame', lambda rng: bgr(b'')),
        'zero_width': ('bad_frame', lambda rng: bgr(b'', width=0, step=0)),
        'zero_height': ('bad_frame', lambda rng: bgr(b'', height=0)),
        'zero_size': ('bad_frame', lambda rng: RawFrame('bgr8', 0, 0, 0, b'')),
        'step_shorter_than_row': ('bad_frame', lambda rng: bgr(
            _rng_bytes(rng, (step - 3) * height), step=step - 3)),
        'huge_size': ('bad_frame', lambda rng: RawFrame(
            'bgr8', UINT32_MAX // 3, UINT32_MAX, UINT32_MAX, _rng_bytes(rng, 64))),
        'huge_height': ('bad_frame', lambda rng: RawFrame(
            'mono8', 64, 1 << 30, 64, _rng_bytes(rng, 64 * 64))),
        'huge_step': ('bad_frame', lambda rng: bgr(_rng_bytes(rng, size), step=UINT32_MAX)),
        'odd_nv12': ('bad_frame', lambda rng: RawFrame(
            'nv12', width + 1, height + 1, width + 1,
            _rng_bytes(rng, (width + 1) * (height + 1) * 3 // 2))),
        'odd_yuyv_width': ('bad_frame', lambda rng: RawFrame(
            'yuyv', width + 1, height, (width + 1) * 2,
            _rng_bytes(rng, (width + 1) * 2 * height))),
        'nv12_bytes_labelled_bgr8': ('bad_frame', lambda rng: bgr(
            _rng_bytes(rng, width * height * 3 // 2))),
    }


def _jpeg(rng: random.Random, width: int, height: int) -> bytes:
    noise = np.frombuffer(_rng_bytes(rng, width * height * 3), np.uint8)
    ok, data = cv2.imencode('.jpg', noise.reshape(height, width, 3))
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise RuntimeError('JPEG encoding failed')
    return data.tobytes()


def _compressed_kinds(width: int, height: int) -> dict[str, tuple[str, Callable[
        [random.Random], Frame]]]:
    """Compressed-frame kinds -> (reason, maker)."""

    def truncated(rng: random.Random) -> Frame:
        data = _jpeg(rng, width, height)
        return CompressedFrame('jpeg', data[:rng.randint(len(data) // 10, len(data) // 2)])

    return {
        'garbage_jpeg': ('undecodable', lambda rng: CompressedFrame(
            'jpeg', _rng_bytes(rng, rng.randint(1, 20_000)))),
        'jpeg_header_then_garbage': ('undecodable', lambda rng: CompressedFrame(
            'jpeg', b'\xff\xd8\xff\xdb' + _rng_bytes(rng, 5_000))),
        'truncated_jpeg': ('undecodable', truncated),
        'empty_jpeg': ('undecodable', lambda rng: CompressedFrame('jpeg', b'')),
        'garbage_png': ('undecodable', lambda rng: CompressedFrame(
            'png', b'\x89PNG\r\n\x1a\n' + _rng_bytes(rng, 3_000))),
        'unknown_format': ('unsupported_encoding', lambda rng: CompressedFrame(
            'tiff', _rng_bytes(rng, 1_000))),
    }


#: Raw-frame kinds (sensor_msgs/Image) and the reason each is rejected with.
RAW_KINDS: dict[str, str] = {kind: reason for kind, (reason, _) in _raw_kinds(64, 48).items()}
#: Compressed-frame kinds (sensor_msgs/CompressedImage) and their rejection reasons.
COMPRESSED_KINDS: dict[str, str] = {
    kind: reason for kind, (reason, _) in _compressed_kinds(64, 48).items()}


def bad_frames(count: int, *, compressed: bool = False, width: int = 64, height: int = 48,
               seed: int = 0, kinds: Sequence[str] | None = None) -> list[BadFrame]:
    """Return `count` malformed frames, cycling through every kind (all kinds appear).

    Args:
        count: Number of frames.
        compressed: Compressed-image kinds instead of raw-image kinds.
        width: Width of the good frames the bad ones imitate (even).
        height: Height of the good frames the bad ones imitate (even).
        seed: Seed of the random bytes, so a run can be repeated.
        kinds: Only these kinds (default: all of RAW_KINDS or COMPRESSED_KINDS).

    Raises:
        KeyError: A kind is not one of the table's.
    """
    table = _compressed_kinds(width, height) if compressed else _raw_kinds(width, height)
    chosen = list(kinds) if kinds is not None else list(table)
    makers = [(kind, *table[kind]) for kind in chosen]
    rng = random.Random(seed)
    frames = []
    for index in range(count):
        kind, reason, make = makers[index % len(makers)]
        frames.append(BadFrame(kind, reason, make(rng)))
    rng.shuffle(frames)
    return frames


def interleave(good: Sequence[Frame], bad: Sequence[BadFrame], good_every: int,
               ) -> Iterator[tuple[Frame, BadFrame | None]]:
    """Yield (frame, None) for good frames and (frame, bad) for bad ones, `good_every` apart.

    Every good frame is yielded once; bad frames fill the gaps (`good_every - 1` between two good
    ones), and the remaining bad frames follow the last good one.

    Args:
        good: Good frames, cycled in order.
        bad: Bad frames.
        good_every: One good frame per this many frames (>= 1).
    """
    if good_every < 1:
        raise ValueError(f'good_every {good_every} must be >= 1')
    bad_iter = iter(bad)
    for frame in good:
        yield frame, None
        for _ in range(good_every - 1):
            item = next(bad_iter, None)
            if item is None:
                break
            yield item.frame, item
    for item in bad_iter:
        yield item.frame, item

