"""Keep frame-sized buffers in the heap: glibc's allocator tuned for a camera node.

Every received frame passes through buffers of its full message size (Fast DDS's copy, rmw's
serialized message, rclpy's bytes: up to 6.2 MB each for an HbmMsg1080P). glibc serves blocks
over its mmap threshold with fresh mappings and gives heap tops over its trim threshold back to
the kernel; both thresholds move with the sizes freed so far, so depending on the order of a
frame's allocations and frees a process either reuses the same heap memory frame after frame or
maps, faults in and zeroes every buffer anew each frame (thousands of page faults per frame,
milliseconds of CPU). Fixing both thresholds above the largest frame makes the first behaviour
the only one. The memory the process keeps is bounded by its peak use of frame buffers.

Applied at the start of the node (and of the load tool's baseline node). glibc only (the board's
Ubuntu, Debian): elsewhere, and when MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ is set in
the environment (the user's own choice), nothing is changed.
"""

from __future__ import annotations

import ctypes
import os
import platform
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ['MMAP_THRESHOLD', 'TRIM_THRESHOLD', 'USER_VARIABLES', 'keep_frames_in_heap']

#: mallopt parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap: glibc's largest allowed threshold on 64-bit
#: (HEAP_MAX_SIZE / 2), above a 4K bgr8 frame (24.9 MB).
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free memory at the heap's top kept for the next frames rather than returned to the kernel.
TRIM_THRESHOLD = 128 * 1024 * 1024
#: glibc's own environment variables for the same settings: when set, they are the user's.
USER_VARIABLES = ('MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_')


def keep_frames_in_heap(environ: Mapping[str, str] | None = None) -> str:
    """Fix glibc's mmap and trim thresholds above frame sizes; return what was done.

    Returns:
        One line for the log: the thresholds set, or why nothing was changed.
    """
    environ = os.environ if environ is None else environ
    mine = [name for name in USER_VARIABLES if environ.get(name)]
    if mine:
        return f'allocator: left to {", ".join(mine)} from the environment'
    libc, _ = platform.libc_ver()
    if libc != 'glibc':
        return f'allocator: not glibc ({libc or "unknown C library"}), left as it is'
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return 'allocator: mallopt not found, left as it is'
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    if not (mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        return 'allocator: mallopt refused the thresholds, left as it is'
    return (f'allocator: blocks up to {MMAP_THRESHOLD >> 20} MiB from the heap, up to '
            f'{TRIM_THRESHOLD >> 20} MiB of free heap kept (frame buffers reused, not mapped '
            'anew per frame)')
