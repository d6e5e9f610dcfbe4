"""Safe reading of regular files: stat before open, never block on a FIFO, never read past a cap.

Paths come from parameters and command lines, so they may name anything: a directory, a FIFO
nobody writes to (opening it blocks until a writer appears, and rclpy's signal handling alone
never ends a process blocked there), /dev/zero (endless), a socket, a device whose open acts on
it, a sparse file of terabytes. `check_regular_file` and `read_regular_file` accept only regular
files (symbolic links are followed) and say what the path is when it is not.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mobilenetv1_ros.core.errors import ClassifierError

__all__ = ['check_regular_file', 'describe_mode', 'read_regular_file']

_READ_CHUNK = 1 << 20

# O_NONBLOCK: a FIFO swapped in between stat and open still cannot block the open.
# O_NOCTTY: a terminal device never becomes the controlling terminal.
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_NOCTTY', 0)
               | getattr(os, 'O_CLOEXEC', 0))

_KINDS = (
    (stat.S_ISDIR, 'a directory'),
    (stat.S_ISFIFO, 'a FIFO'),
    (stat.S_ISCHR, 'a character device'),
    (stat.S_ISBLK, 'a block device'),
    (stat.S_ISSOCK, 'a socket'),
)


def describe_mode(mode: int) -> str:
    """Return what a file of this st_mode is: 'a regular file', 'a directory', 'a FIFO', ..."""
    if stat.S_ISREG(mode):
        return 'a regular file'
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return 'a special file'


def _named(path: str, what: str) -> str:
    """Return '<what> <path>', with the link's target when path is a symbolic link."""
    if os.path.islink(path):
        return f'{what} {path} (a symbolic link to {os.path.realpath(path)})'
    return f'{what} {path}'


def _stat_failure(path: str, what: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        if os.path.islink(path):
            return f'{what} {path} does not exist (a symbolic link to the missing ' \
                   f'{os.readlink(path)})'
        return f'{what} {path} does not exist'
    if isinstance(exc, NotADirectoryError):
        return f'{what} {path} does not exist (a component of the path is not a directory)'
    if isinstance(exc, PermissionError):
        return f'{what} {path} is not readable (permission denied on a directory of the path)'
    if exc.errno == errno.ELOOP:
        return f'{what} {path} is a loop of symbolic links'
    return f'{what} {path} cannot be examined: {exc.strerror or exc}'


def _check_mode(mode: int, path: str, what: str, error: type[ClassifierError]) -> None:
    if not stat.S_ISREG(mode):
        raise error(f'{_named(path, what)} is {describe_mode(mode)}, not a regular file')


def _open_regular(path: str, what: str, error: type[ClassifierError],
                  max_bytes: int | None, allow_empty: bool) -> tuple[int, os.stat_result]:
    """Open a regular file for reading; return (fd, its fstat) or raise `error`."""
    try:
        # Before any open: opening a FIFO blocks and opening a device can act on it.
        before = os.stat(path)
    except OSError as exc:
        raise error(_stat_failure(path, what, exc)) from None
    _check_mode(before.st_mode, path, what, error)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except PermissionError:
        raise error(f'{_named(path, what)} is not readable (permission denied)') from None
    except OSError as exc:
        raise error(f'{_named(path, what)} cannot be opened: {exc.strerror or exc}') from None
    try:
        # What was opened is what counts: the path may have been replaced since the stat.
        opened = os.fstat(fd)
        _check_mode(opened.st_mode, path, what, error)
        if max_bytes is not None and opened.st_size > max_bytes:
            raise error(f'{_named(path, what)} is {opened.st_size} bytes, more than the '
                        f'{max_bytes} bytes allowed')
        if not allow_empty and opened.st_size == 0:
            raise error(f'{_named(path, what)} is empty')
        # Regular files ignore O_NONBLOCK on local file systems; blocking reads are the
        # documented behaviour everywhere else (FUSE, network file systems).
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, opened


def check_regular_file(path: str | os.PathLike[str], what: str,
                       error: type[ClassifierError], *, max_bytes: int | None = None,
                       allow_empty: bool = True) -> int:
    """Check that `path` is a readable regular file, for a reader that opens it itself.

    Symbolic links are followed. Nothing but a regular file is ever opened, and the open never
    blocks, so the check is safe on any path.

    Args:
        path: The file.
        what: How messages name the file, e.g. 'Model file'.
        error: The error class raised, e.g. ModelError.
        max_bytes: Largest size accepted; None for no limit.
        allow_empty: Whether a file of 0 bytes passes.

    Returns:
        The file's size in bytes.

    Raises:
        ClassifierError: Of class `error`; the message names the path and says what it is
            ('does not exist', 'is a directory', 'is a FIFO', 'is not readable', ...).
    """
    fd, info = _open_regular(os.fspath(path), what, error, max_bytes, allow_empty)
    os.close(fd)
    return info.st_size


def read_regular_file(path: str | os.PathLike[str], what: str, error: type[ClassifierError],
                      max_bytes: int, *, allow_empty: bool = True) -> bytes:
    """Read a whole regular file of at most `max_bytes` bytes.

    Checks as check_regular_file does, then reads at most max_bytes + 1 bytes whatever the
    file claims its size is (files in /proc report 0, a file may grow while it is read).

    Args:
        path: The file.
        what: How messages name the file, e.g. 'Labels file'.
        error: The error class raised, e.g. LabelsError.
        max_bytes: Largest size accepted.
        allow_empty: Whether a file of 0 bytes passes.

    Returns:
        The file's contents.

    Raises:
        ClassifierError: Of class `error`, as for check_regular_file, or when the file holds
            more than max_bytes bytes or cannot be read.
    """
    name = os.fspath(path)
    # Emptiness is judged on what is read: files in /proc report a size of 0.
    fd, _ = _open_regular(name, what, error, max_bytes, True)
    chunks = []
    remaining = max_bytes + 1
    try:
        while remaining > 0:
            chunk = os.read(fd, min(remaining, _READ_CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise error(f'{_named(name, what)} cannot be read: {exc.strerror or exc}') from None
    finally:
        os.close(fd)
    if remaining <= 0:
        raise error(f'{_named(name, what)} holds more than the {max_bytes} bytes allowed')
    data = b''.join(chunks)
    if not allow_empty and not data:
        raise error(f'{_named(name, what)} is empty')
    return data
