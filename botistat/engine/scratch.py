"""Scratch directories for spilled records: ``$TMPDIR/botistat-<pid>-<random>``.

A spill writes about 70 MB per million records. The directory is removed when the report ends,
however it ends: normally, by an exception, by SIGINT or SIGTERM (the CLI calls
:func:`remove_all` before it stops at once). A process killed outright (SIGKILL, the OOM killer,
a power cut) leaves its directory behind, so each report that spills first removes the
directories of processes that are gone.

A directory counts as abandoned only when all three hold: the PID in its name is not running,
it is older than :data:`STALE_AFTER_SECONDS`, and nobody holds the lock on its
:data:`OWNER_FILE`. The PID is the cheap test; the lock is the sure one, since the kernel
releases it when its owner dies, also for a process in another PID namespace sharing the same
``/tmp`` (a container), whose PID means nothing here. The age covers the moment between
creating a directory and locking it.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Final

PREFIX: Final = "botistat-"
#: Held locked (flock) by the owning process while the directory is in use.
OWNER_FILE: Final = ".owner"
STALE_AFTER_SECONDS: Final = 60.0
_NAME: Final = re.compile(r"botistat-(\d+)-")

#: Directories of this process, removed once more at exit: a query cancelled by a signal
#: returns while its writers wind down, and one of them may create the directory again.
#: (After SIGKILL, the next report's sweep removes it: the name still holds the PID.)
_live: set[Path] = set()


@contextmanager
def scratch_directory(parent: str | Path) -> Iterator[Path]:
    """A new, locked scratch directory in ``parent`` (``tempfile.gettempdir()``), removed on
    leaving the block; abandoned ones in ``parent`` are removed first."""
    sweep_stale(Path(parent))
    path = _create(Path(parent))
    try:
        owner = os.open(path / OWNER_FILE, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            # Without a lock (a file system without flock) the PID and the age still guard.
            with suppress(OSError):
                fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield path
        finally:
            os.close(owner)
    finally:
        _remove(path)


def _create(parent: Path) -> Path:
    """A new directory, listed for removal before it exists: an interrupt (a KeyboardInterrupt
    can come between any two bytecodes) must not leave one behind unlisted."""
    while True:
        path = parent / f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        _live.add(path)
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            _live.discard(path)
            continue
        return path


def remove_all() -> None:
    """Remove every scratch directory of this process; safe from any thread, any time."""
    for path in list(_live):
        if path.exists() or path.with_name(path.name + ".removing").exists():
            _remove(path)


def _remove(path: Path) -> None:
    # Renamed first, since after an interrupt a writer thread may still be busy in it: a
    # file it then opens by its path fails instead of appearing in a tree being removed.
    doomed = path.with_name(path.name + ".removing")
    with suppress(OSError):
        path.rename(doomed)
    shutil.rmtree(doomed, ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)


atexit.register(remove_all)


def sweep_stale(parent: Path, now: float | None = None) -> list[Path]:
    """Remove the scratch directories in ``parent`` whose process is gone; best effort."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None or not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        with suppress(OSError):
            old = now - entry.stat(follow_symlinks=False).st_mtime >= STALE_AFTER_SECONDS
            if old and not _running(int(match.group(1))) and not _locked(path):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def _running(pid: int) -> bool:
    if pid <= 0 or pid == os.getpid():
        return True  # 0 would mean our process group; never ours to sweep either
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # another user's process (EPERM), or a name we cannot judge
    return True


def _locked(path: Path) -> bool:
    """Whether a live process holds the directory's lock (no lock file: nobody does)."""
    try:
        owner = os.open(path / OWNER_FILE, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(owner)
    return False
