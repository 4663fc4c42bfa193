"""Inputs named by URL (``s3://bucket/prefix/``, ``gs://...``, ``https://...``, globs on
them), read through fsspec.

A URL is expanded as a path is (a prefix: its log files, recursively, hidden ones left out; a
glob: what it matches), then read as a stream, block by block, like a gzip file or stdin.
Credentials are the file systems' own business: s3fs and gcsfs read the usual environment
variables and config files; nothing here sees or prints them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

from botistat.core.errors import InputError

URL: Final = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
GLOB_CHARS: Final = frozenset("*?[")
#: The extra that brings each protocol's file system.
EXTRAS: Final = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}


def is_url(argument: str) -> bool:
    return URL.match(argument) is not None


def _file_system(url: str) -> tuple[Any, str]:
    """The fsspec file system of ``url``, and the path in it."""
    protocol = url.split("://", 1)[0].lower()
    extra = EXTRAS.get(protocol, "s3")
    try:
        from fsspec.core import url_to_fs

        return url_to_fs(url)  # type: ignore[no-any-return]
    except ImportError as exc:
        raise InputError(
            f"reading {protocol}:// URLs needs a package that is not installed",
            url,
            f"run: pip install 'botistat[{extra}]'",
        ) from exc
    except ValueError as exc:  # an unknown protocol
        raise InputError(f"cannot read URL: {exc}", url) from exc


def remote_files(argument: str, is_log_file: Callable[[str], bool]) -> list[tuple[str, int]]:
    """The URL and size of each input a URL names, in path order: the file itself, the log
    files under a prefix (recursively, hidden ones left out), or what a glob matches."""
    fs, path = _file_system(argument)
    try:
        if GLOB_CHARS & set(path):
            found = fs.glob(path, detail=True)
            files = {p: info for p, info in found.items() if info.get("type") == "file"}
            for directory in (p for p, info in found.items() if info.get("type") == "directory"):
                files |= _log_files_under(fs, directory, is_log_file)
        elif fs.isdir(path):
            files = _log_files_under(fs, path, is_log_file)
            if not files:
                raise InputError(
                    "directory holds no log files",
                    argument,
                    "botistat reads .jsonl, .ndjson, .json, .csv and .tsv files, optionally .gz",
                )
        elif fs.isfile(path):
            files = {path: fs.info(path)}
        else:
            raise InputError("no such file or directory", argument)
    except OSError as exc:
        raise InputError(f"cannot list: {exc.strerror or exc}", argument) from exc
    if not files:
        raise InputError("no files match the pattern", argument)
    # Sorted as paths sort (part by part), so a prefix lists its files as a directory does.
    return [
        (fs.unstrip_protocol(name), int(files[name].get("size") or 0))
        for name in sorted(files, key=lambda name: name.split("/"))
    ]


def _log_files_under(fs: Any, directory: str, is_log_file: Callable[[str], bool]) -> dict[str, Any]:
    found: dict[str, Any] = fs.find(directory, detail=True)
    prefix = directory.rstrip("/") + "/"
    return {
        path: info
        for path, info in found.items()
        if info.get("type", "file") == "file"
        and not any(part.startswith(".") for part in path.removeprefix(prefix).split("/"))
        and is_log_file(path)
    }


@contextmanager
def open_url(url: str, block_size: int | None = None) -> Iterator[Any]:
    """The input at ``url``, open for binary reading (``block_size``: bytes fetched at a
    time; None: the file system's default)."""
    fs, path = _file_system(url)
    options = {"block_size": block_size} if block_size else {}
    try:
        handle = fs.open(path, "rb", **options)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", url) from exc
    with handle:
        yield handle
