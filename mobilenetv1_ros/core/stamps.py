"""Message time stamps (anything with `sec` and `nanosec`) as integer nanoseconds."""

from __future__ import annotations

from typing import Protocol

__all__ = ['Stamp', 'split_ns', 'stamp_ns']

_NS_PER_S = 1_000_000_000


class Stamp(Protocol):
    """A builtin_interfaces/Time, from rclpy or from rosbags."""

    sec: int
    nanosec: int


def stamp_ns(stamp: Stamp) -> int:
    """Return a stamp in nanoseconds."""
    return int(stamp.sec) * _NS_PER_S + int(stamp.nanosec)


def split_ns(nanoseconds: int) -> tuple[int, int]:
    """Return (sec, nanosec) of a nanosecond count."""
    return nanoseconds // _NS_PER_S, nanoseconds % _NS_PER_S
