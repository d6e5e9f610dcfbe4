"""Message time stamps as integer nanoseconds, for rclpy and rosbags messages alike."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mobilenetv1_ros.core.stamps import split_ns, stamp_ns

#: Message stamps are converted this way on the board (`board`: test/conftest.py).
pytestmark = pytest.mark.board


@dataclass
class Time:
    """The two fields of builtin_interfaces/Time, as rosbags deserializes them."""

    sec: int
    nanosec: int


@pytest.mark.parametrize(('sec', 'nanosec', 'total'), [
    (0, 0, 0),
    (0, 999_999_999, 999_999_999),
    (1, 0, 1_000_000_000),
    (1_704_067_200, 33_333_333, 1_704_067_200_033_333_333),
])
def test_stamp_ns_and_split_ns_are_inverse(sec: int, nanosec: int, total: int) -> None:
    assert stamp_ns(Time(sec, nanosec)) == total
    assert split_ns(total) == (sec, nanosec)


def test_numpy_integers_give_python_ints() -> None:
    np = pytest.importorskip('numpy')
    value = stamp_ns(Time(np.int32(2), np.uint32(5)))
    assert value == 2_000_000_005 and type(value) is int
