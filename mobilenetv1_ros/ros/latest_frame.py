"""A one-item mailbox between the subscription callback and the inference thread."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

__all__ = ['LatestSlot']

T = TypeVar('T')
_EMPTY = object()


class LatestSlot(Generic[T]):
    """Hands the newest item from any producer thread to one consumer thread.

    `put` never blocks: an item still waiting is replaced by the newer one and counted in
    `dropped`, so the consumer never works through a backlog. `take` blocks until an item
    arrives or the slot is closed.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: object = _EMPTY
        self._closed = False
        self._dropped = 0

    @property
    def dropped(self) -> int:
        """Items replaced by a newer one before the consumer took them."""
        with self._condition:
            return self._dropped

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        with self._condition:
            return self._closed

    def pending(self) -> bool:
        """Return whether an item is waiting."""
        with self._condition:
            return self._item is not _EMPTY

    def put(self, item: T) -> bool:
        """Offer an item; return True if it replaced one that was still waiting.

        An item offered after `close` is discarded (and not counted).
        """
        with self._condition:
            if self._closed:
                return False
            replaced = self._item is not _EMPTY
            if replaced:
                self._dropped += 1
            self._item = item
            self._condition.notify()
            return replaced

    def take(self, timeout: float | None = None) -> T | None:
        """Wait for the newest item and remove it from the slot.

        Args:
            timeout: Seconds to wait at most; None waits until an item arrives or the slot
                closes.

        Returns:
            The item, or None when the slot is closed or the timeout passed.
        """
        with self._condition:
            self._condition.wait_for(lambda: self._closed or self._item is not _EMPTY, timeout)
            if self._closed or self._item is _EMPTY:
                return None
            item, self._item = self._item, _EMPTY
            return item  # type: ignore[return-value]

    def close(self) -> bool:
        """Wake the consumer for good and discard a waiting item; return whether there was one."""
        with self._condition:
            discarded = self._item is not _EMPTY
            self._item = _EMPTY
            self._closed = True
            self._condition.notify_all()
            return discarded
