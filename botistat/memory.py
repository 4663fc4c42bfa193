"""Process-wide memory settings for reports over big inputs."""

from __future__ import annotations

import ctypes
import sys
from typing import Final

#: ``mallopt`` parameter of glibc's malloc: how many heaps ("arenas") threads may spread over.
M_ARENA_MAX: Final = -8
ARENAS: Final = 2


def share_malloc_heaps() -> None:
    """Keep glibc's malloc to two heaps, whichever threads allocate.

    The input blocks (bytes objects of several MB) are allocated by Python through malloc, on
    the reading thread and on the Polars threads that pull batches from the scan. glibc gives
    each thread its own heap and keeps freed blocks in it for reuse: with a dozen threads
    that held hundreds of MB of private memory no block was using. Two shared heaps reuse
    freed blocks instead, at the same speed. Call it before starting threads; it does
    nothing where the C library is not glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mallopt(M_ARENA_MAX, ARENAS)
