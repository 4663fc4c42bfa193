"""Process-wide allocator settings for reports over big inputs."""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Final

#: ``mallopt`` parameter of glibc's malloc: how many heaps ("arenas") threads may spread over.
M_ARENA_MAX: Final = -8
ARENAS: Final = 2
#: Where the jemalloc inside Polars reads its options, when it starts (Polars' import).
JEMALLOC_CONF: Final = "_RJEM_MALLOC_CONF"
#: Freed pages are kept for reuse 3 s instead of Polars' 0.5 s, then handed straight back.
JEMALLOC_DECAY: Final = "dirty_decay_ms:3000,muzzy_decay_ms:0"


def tune_allocators() -> None:
    """Set up both allocators of the process for a long report; call it before Polars is
    imported and before threads start."""
    keep_freed_pages()
    share_malloc_heaps()


def keep_freed_pages() -> None:
    """Let Polars' allocator reuse the pages it freed for three seconds before returning them.

    A report allocates and frees blocks of the same sizes over and over. With Polars' own
    setting (half a second) most of those pages went back to the kernel and were faulted in
    again, zeroed: on the 10M-record benchmark that took 4-5 s of system time, and 2.5 s with
    this setting, and the report ran 1-2 s faster. Pages are then returned at once: Polars'
    second stage ("muzzy" pages, which still count as the process's memory for a while) put
    300 MB on the peak at 40M records. A setting the user made in the environment is kept;
    after Polars' import this does nothing.
    """
    if "polars" not in sys.modules:
        os.environ.setdefault(JEMALLOC_CONF, JEMALLOC_DECAY)


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
