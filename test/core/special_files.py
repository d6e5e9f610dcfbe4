"""One path of each kind a file parameter may name, and a guard for calls that might block.

Used by the tests of core.files, the labels and the backends: every reader must say what the
path is and must return at once, even for a FIFO nobody writes to or for /dev/zero.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import select
import signal
import socket
import time
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
#: Memory a guarded call may allocate.
CHILD_MEMORY_HEADROOM = 512 << 20


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
    """What a guarded call did: its return value or the exception it raised."""

    value: Any = None
    error: BaseException | None = None


def _virtual_memory_size() -> int:
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith('VmSize:'):
            return int(line.split()[1]) * 1024
    raise RuntimeError('no VmSize in /proc/self/status')


def _run_child(call: Callable[[], Any], write_end: int) -> None:
    """In the forked child: run call under a memory cap, send its pickled outcome, exit."""
    code = 0
    try:
        # Reading /dev/zero without end must fail fast here, not exhaust the shared machine.
        limit = _virtual_memory_size() + CHILD_MEMORY_HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            outcome = Outcome(value=call())
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome = Outcome(error=error)
        data = pickle.dumps(outcome)
        while data:
            data = data[os.write(write_end, data):]
    except BaseException:  # noqa: BLE001 - the exit code tells the parent
        code = 1
    finally:
        os._exit(code)


def finishes(call: Callable[[], Any], timeout: float = BLOCKED_AFTER_S) -> Outcome:
    """Run `call` in a forked child; return its outcome, or fail the test if it blocks.

    A blocked child is killed, so nothing is left behind (a thread stuck in open() could not be
    stopped). The child's memory is capped. The return value must pickle.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _run_child(call, write_end)
    os.close(write_end)
    chunks = []
    deadline = time.monotonic() + timeout
    with os.fdopen(read_end, 'rb', buffering=0) as stream:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([stream], [], [], remaining)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f'the call was still running after {timeout:g} s (blocked)')
            chunk = stream.read(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, 'the child failed to report its outcome'
    outcome: Outcome = pickle.loads(b''.join(chunks))
    return outcome
