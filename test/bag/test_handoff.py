"""The offline tool's batched hand-over between threads."""

from __future__ import annotations

import threading
import time

import pytest

from mobilenetv1_ros.bag.handoff import Handoff
from mobilenetv1_ros.core.errors import ConfigError


def test_items_arrive_in_order_and_bounded() -> None:
    items: Handoff[int] = Handoff(4, 2)
    seen: list[int] = []
    most = 0

    def produce() -> None:
        for value in range(1000):
            assert items.put(value, lambda: True, flush=value == 999)

    producer = threading.Thread(target=produce)
    producer.start()
    while len(seen) < 1000:
        batch = items.take(timeout=1.0)
        most = max(most, len(batch))
        seen.extend(batch)
    producer.join()
    assert seen == list(range(1000))
    assert most <= 4


def test_consumer_waits_for_a_batch_or_a_flush() -> None:
    items: Handoff[int] = Handoff(8, 3)
    items.put(1, lambda: True)
    started = time.perf_counter()
    assert items.take(timeout=0.2) == [1]
    assert time.perf_counter() - started >= 0.15
    items.put(2, lambda: True)
    items.put(3, lambda: True, flush=True)
    started = time.perf_counter()
    assert items.take(timeout=5.0) == [2, 3]
    assert time.perf_counter() - started < 1.0
    for value in range(3):
        items.put(value, lambda: True)
    assert items.take(timeout=5.0) == [0, 1, 2]


def test_a_full_buffer_stops_the_producer_when_it_should_stop() -> None:
    items: Handoff[int] = Handoff(2)
    assert items.put(1, lambda: True) and items.put(2, lambda: True)
    assert not items.put(3, lambda: False)
    assert items.take(timeout=0.1) == [1, 2]
    assert items.take(timeout=0.05) == []


def test_batch_larger_than_capacity_is_refused() -> None:
    with pytest.raises(ConfigError, match='batch 5'):
        Handoff(4, 5)
