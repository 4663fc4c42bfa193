"""Process-wide memory settings for reports over big inputs."""

from __future__ import annotations

import ctypes
import sys
from typing import Final

#: ``mallopt`` parameter of glibc's malloc: the size from which allocations get their own
#: memory mapping, unmapped (returned to the system) as soon as they are freed.
M_MMAP_THRESHOLD: Final = -3
BIG_ALLOCATION: Final = 1 << 20


def return_big_blocks_when_freed() -> None:
    """Have glibc map every allocation of 1 MiB or more on its own.

    The input blocks (bytes objects of several MB) are allocated by Python through malloc.
    Once the first one is freed, glibc raises its mapping threshold to that size and serves
    the next blocks from its heaps, one per thread, which keep freed memory for reuse: on big
    inputs that held hundreds of MB of private memory no block was using. A fixed threshold
    keeps blocks out of the heaps. Does nothing where the C library is not glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mallopt(M_MMAP_THRESHOLD, BIG_ALLOCATION)
