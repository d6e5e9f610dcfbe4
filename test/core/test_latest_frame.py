"""The latest-frame slot between the subscription callback and the inference thread."""

from __future__ import annotations

import itertools
import threading
import time

from hypothesis import given
from hypothesis import strategies as st
import pytest

from mobilenetv1_ros.ros.latest_frame import LatestSlot

#: The node's frame slot runs on the board (see the `board` marker in test/conftest.py).
pytestmark = pytest.mark.board


def test_take_returns_what_was_put():
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is False
    assert slot.pending()
    assert slot.take() == 1
    assert not slot.pending()
    assert slot.dropped == 0


def test_newer_item_replaces_the_waiting_one_and_counts_it_dropped():
    slot: LatestSlot[str] = LatestSlot()
    slot.put('old')
    assert slot.put('new') is True
    assert slot.put('newest') is True
    assert slot.take() == 'newest'
    assert slot.dropped == 2
    assert slot.take(timeout=0.01) is None


def test_none_is_a_valid_item_distinct_from_empty():
    slot: LatestSlot[object] = LatestSlot()
    slot.put(0)
    assert slot.take(timeout=0.0) == 0
    assert slot.take(timeout=0.0) is None


def test_take_times_out_when_empty():
    slot: LatestSlot[int] = LatestSlot()
    start = time.monotonic()
    assert slot.take(timeout=0.05) is None
    assert time.monotonic() - start >= 0.04


def test_take_blocks_until_another_thread_puts():
    slot: LatestSlot[int] = LatestSlot()
    got: list[int | None] = []
    consumer = threading.Thread(target=lambda: got.append(slot.take(timeout=5.0)))
    consumer.start()
    time.sleep(0.05)
    assert got == []
    slot.put(7)
    consumer.join(5.0)
    assert got == [7]


def test_close_wakes_a_blocked_consumer_and_discards_the_waiting_item():
    slot: LatestSlot[int] = LatestSlot()
    got: list[int | None] = []
    consumer = threading.Thread(target=lambda: got.append(slot.take()))
    consumer.start()
    time.sleep(0.05)
    assert slot.close() is False
    consumer.join(5.0)
    assert not consumer.is_alive()
    assert got == [None]
    assert slot.closed


def test_close_reports_a_discarded_item_and_refuses_later_ones():
    slot: LatestSlot[int] = LatestSlot()
    slot.put(1)
    assert slot.close() is True
    assert slot.put(2) is False
    assert slot.take(timeout=0.0) is None
    assert slot.dropped == 0


@given(st.lists(st.sampled_from(['put', 'take']), max_size=60))
def test_matches_a_one_item_model(operations):
    slot: LatestSlot[int] = LatestSlot()
    waiting: int | None = None
    dropped = 0
    for number, operation in enumerate(operations):
        if operation == 'put':
            assert slot.put(number) is (waiting is not None)
            dropped += waiting is not None
            waiting = number
        else:
            assert slot.take(timeout=0.0) == waiting
            waiting = None
    assert slot.dropped == dropped
    assert slot.pending() is (waiting is not None)


@pytest.mark.parametrize('producers', [1, 3])
def test_slow_consumer_gets_only_newer_items_and_always_the_last_one(producers):
    """Every item is consumed or counted dropped, in put order; the newest is never lost."""
    slot: LatestSlot[int] = LatestSlot()
    per_producer = 300
    consumed: list[int] = []
    order = itertools.count()
    order_lock = threading.Lock()

    def consume() -> None:
        while (item := slot.take()) is not None:
            consumed.append(item)
            time.sleep(0.002)  # a backend slower than the producers

    def produce() -> None:
        for _ in range(per_producer):
            with order_lock:  # put order = number order, across producers
                slot.put(next(order))
            time.sleep(0.0002)

    consumer = threading.Thread(target=consume)
    consumer.start()
    threads = [threading.Thread(target=produce) for _ in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 5.0
    while slot.pending() and time.monotonic() < deadline:
        time.sleep(0.001)
    slot.close()
    consumer.join(5.0)
    total = producers * per_producer
    assert len(consumed) + slot.dropped == total
    assert slot.dropped > total // 2
    assert consumed == sorted(set(consumed))
    assert consumed[-1] == total - 1
