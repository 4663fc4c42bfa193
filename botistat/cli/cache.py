"""``botistat cache info DIR`` and ``botistat cache clear DIR``: what a ``--cache`` directory
holds, and emptying it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from botistat.cli.common import user_errors, warn, write_output

CacheDirArgument = Annotated[
    Path, typer.Argument(metavar="DIR", help="The directory given to --cache (or cache.dir).")
]


def info(directory: CacheDirArgument) -> None:
    """Say what the cache directory holds: entries, input files, size, last use."""
    with user_errors():
        from botistat.core.errors import InputError
        from botistat.engine.cache import cache_info

        if not directory.is_dir():
            raise InputError("no such cache directory", str(directory))
        found = cache_info(directory)
        if found.warning:
            warn(f"cache {directory}: {found.warning}")
        used = (
            datetime.fromtimestamp(found.last_used, UTC).isoformat(timespec="seconds")
            if found.last_used is not None
            else "never"
        )
        lines = [
            f"cache: {directory.absolute()}",
            f"entries: {found.entries} ({found.files} input file(s), {found.keys} parse key(s))",
            f"kept results: {found.pieces} piece(s), {found.conversations:,} finished"
            f" conversation(s), {found.settings} report setting(s)",
            f"size: {found.bytes:,} bytes",
            f"last used: {used}",
        ]
        write_output("\n".join(lines) + "\n", None)


def clear(directory: CacheDirArgument) -> None:
    """Remove everything botistat keeps in the cache directory (nothing else in it)."""
    with user_errors():
        from botistat.core.errors import InputError
        from botistat.engine.cache import CacheUnusableError, clear_cache

        if not directory.is_dir():
            raise InputError("no such cache directory", str(directory))
        try:
            freed = clear_cache(directory)
        except CacheUnusableError as exc:
            raise InputError(str(exc), str(directory)) from exc
        write_output(f"cleared {directory.absolute()}: {freed:,} bytes freed\n", None)
