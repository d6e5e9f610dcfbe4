"""One path of each kind a file parameter may name, and a guard for calls that might block.

Used by the tests of core.files, the labels and the backends: every reader must say what the
path is and must return at once, even for a FIFO nobody writes to.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ['SPECIAL_KINDS', 'Outcome', 'finishes', 'special_file']

#: Kind of path -> what the error message must say it is.
SPECIAL_KINDS = {
    'directory': 'is a directory',
    'fifo': 'is a FIFO',
    'dev_zero': 'is a character device',
    'dev_null': 'is a character device',
    'socket': 'is a socket',
    'symlink_to_directory': 'is a directory',
}

#: Longest a rejection may take before the call counts as blocked.
BLOCKED_AFTER_S = 10.0


@contextlib.contextmanager
def special_file(kind: str, directory: Path) -> Iterator[Path]:
    """Create a path of this kind in `directory` (or name the device); remove it afterwards."""
    if kind == 'dev_zero':
        yield Path('/dev/zero')
        return
    if kind == 'dev_null':
        yield Path('/dev/null')
        return
    path = directory / f'special_{kind}.json'
    if kind == 'directory':
        path.mkdir()
        yield path
    elif kind == 'fifo':
        os.mkfifo(path)
        yield path
    elif kind == 'symlink_to_directory':
        target = directory / 'a_directory'
        target.mkdir()
        path.symlink_to(target)
        yield path
    elif kind == 'socket':
        # A relative name: sun_path holds about 100 bytes, less than a deep tmp_path may need.
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        cwd = os.getcwd()
        try:
            os.chdir(directory)
            server.bind(path.name)
        finally:
            os.chdir(cwd)
        server.listen(1)
        try:
            yield path
        finally:
            server.close()
    else:
        raise ValueError(f'Unknown kind {kind!r}')


@dataclass
class Outcome:
    """What a guarded call did."""

    value: Any = None
    error: BaseException | None = None


def finishes(call: Callable[[], Any], fifo: Path | None = None,
             timeout: float = BLOCKED_AFTER_S) -> Outcome:
    """Run `call` in a thread; return its outcome, or fail the test if it is still running.

    A call blocked in opening `fifo` is released (by opening the FIFO's other end) before the
    test fails, so no thread is left behind.
    """
    outcome = Outcome()

    def run() -> None:
        try:
            outcome.value = call()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome.error = error

    thread = threading.Thread(target=run, name='guarded_call', daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        if fifo is not None:
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            thread.join(timeout)
        pytest.fail(f'the call was still running after {timeout:g} s (blocked)')
    return outcome
