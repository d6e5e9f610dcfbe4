"""A bounded hand-over of items between two threads, one wake-up per batch.

`queue.Queue` wakes the other thread for every item. The offline tool's threads share the cores
with inference, and each wake-up costs a context switch that takes a core from it; here the
consumer takes everything that is waiting at once, the producer is woken only when the consumer
has emptied the buffer, and the consumer only when `batch` items wait (or a flush, or its
timeout).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Generic, TypeVar

from mobilenetv1_ros.core.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ['Handoff']

T = TypeVar('T')

#: Seconds a blocked producer sleeps between checks of `running()`.
_PUT_POLL_S = 0.1


class Handoff(Generic[T]):
    """Items from one producer thread to one consumer thread, in order.

    Args:
        capacity: Items the buffer holds at most; a producer waits while it is full.
        batch: Items that wake a waiting consumer (1: any item does).

    Raises:
        ConfigError: `batch` is not within 1..capacity.
    """

    def __init__(self, capacity: int, batch: int = 1) -> None:
        if not 1 <= batch <= capacity:
            raise ConfigError(f'Hand-over batch {batch} is not within 1..capacity ({capacity})')
        self.capacity = capacity
        self.batch = batch
        self._items: deque[T] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._flushed = False

    def put(self, item: T, running: Callable[[], bool], *, flush: bool = False) -> bool:
        """Append an item, waiting for room while `running()`; return False if it stopped.

        `flush` wakes the consumer now, whatever the batch size (for the last item).
        """
        with self._ready:
            while len(self._items) >= self.capacity:
                if not running():
                    return False
                self._ready.wait(_PUT_POLL_S)
            self._items.append(item)
            self._flushed = self._flushed or flush
            if self._flushed or len(self._items) >= self.batch:
                self._ready.notify()
        return True

    def take(self, timeout: float) -> list[T]:
        """Return every waiting item, after waiting up to `timeout` s for a batch or a flush.

        Returns an empty list when nothing arrived in time.
        """
        with self._ready:
            if len(self._items) < self.batch and not self._flushed:
                self._ready.wait(timeout)
            items = list(self._items)
            self._items.clear()
            self._flushed = False
            self._ready.notify()
        return items
