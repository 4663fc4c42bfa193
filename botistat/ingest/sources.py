"""Turn command-line arguments (files, directories, globs, ``-``) into a list of inputs."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath
from typing import Final, Literal

from botistat.core.errors import InputError
from botistat.ingest.remote import is_url, remote_files

Format = Literal["jsonl", "csv", "tsv"]
FORMATS: Final[tuple[Format, ...]] = ("jsonl", "csv", "tsv")
STDIN: Final = "-"
STDIN_NAME: Final = "<stdin>"

EXTENSION_FORMATS: Final[dict[str, Format]] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
}
GZIP_SUFFIX: Final = ".gz"
GLOB_CHARS: Final = frozenset("*?[")


@dataclass(frozen=True)
class Source:
    """One input: a file on disk or standard input."""

    name: str
    path: Path | None
    format: Format | None  # None: decided from the content (stdin or an unknown extension)
    gzip: bool | None  # None: decided from the content (stdin)
    size: int | None
    #: Read only this many bytes (a file still being written: what ``watch`` calls history).
    limit: int | None = None
    #: An input named by URL (``s3://...``, read through fsspec): ``path`` is then None.
    url: str | None = None
    #: Start reading a plain file here (a line's start): with ``limit``, a byte range of it,
    #: which a distributed engine parses apart from the rest.
    offset: int = 0

    @property
    def is_stdin(self) -> bool:
        return self.path is None and self.url is None


def format_for(path: PurePath) -> tuple[Format | None, bool]:
    """The format implied by a file name, and whether it is gzip-compressed."""
    name = path.name.lower()
    compressed = name.endswith(GZIP_SUFFIX)
    if compressed:
        name = name[: -len(GZIP_SUFFIX)]
    suffix = Path(name).suffix
    return EXTENSION_FORMATS.get(suffix), compressed


def resolve_sources(arguments: list[str], input_format: str | None = None) -> list[Source]:
    """Expand arguments into sources, in argument order, each file once.

    Directories are searched recursively for files with a known log extension (hidden files and
    directories are skipped). A glob pattern must match at least one file. A file named
    explicitly is read whatever its extension; its format then comes from ``input_format`` or
    from its content.
    """
    fmt_override = _checked_format(input_format)
    if not arguments:
        raise InputError("no input given", hint="pass log files, directories, globs or - for stdin")
    sources: list[Source] = []
    seen: set[Path] = set()
    seen_urls: set[str] = set()
    for argument in arguments:
        if argument == STDIN:
            if any(s.is_stdin for s in sources):
                raise InputError("stdin (-) given more than once")
            sources.append(Source(STDIN_NAME, None, fmt_override, None, None))
            continue
        if is_url(argument):
            for url, size in remote_files(argument, is_log_name):
                if url not in seen_urls:
                    seen_urls.add(url)
                    fmt, compressed = format_for(PurePosixPath(url))
                    sources.append(
                        Source(url, None, fmt_override or fmt, compressed, size, url=url)
                    )
            continue
        for path in _expand(argument):
            resolved = path.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            fmt, compressed = format_for(path)
            sources.append(Source(str(path), path, fmt_override or fmt, compressed, _size(path)))
    return sources


def _checked_format(name: str | None) -> Format | None:
    if name is None:
        return None
    for fmt in FORMATS:
        if fmt == name:
            return fmt
    raise InputError(f"unknown input format {name!r}", hint=f"use one of: {', '.join(FORMATS)}")


def matching_files(argument: str) -> list[Path]:
    """The regular files an argument names now, in order: the file itself, the log files
    under a directory (recursively, hidden ones skipped), or what a glob matches (its
    directories' log files included). Shared by ``report`` and ``watch``, which follows
    files that do not exist yet; an empty list is for the caller to judge."""
    path = Path(argument)
    if path.is_dir():
        return log_files_under(path)
    if path.is_file():
        return [path]
    if not GLOB_CHARS & set(argument):
        return []
    # glob.glob, unlike Path.glob, accepts absolute patterns such as /var/log/bot/*.jsonl
    matches = sorted(Path(m) for m in glob.glob(argument, recursive=True))  # noqa: PTH207
    # Regular files only: opening a FIFO waits for a writer.
    files = [m for m in matches if m.is_file()]
    for match in matches:
        if match.is_dir():
            files.extend(log_files_under(match))
    return files


def is_log_name(name: str) -> bool:
    """Whether a file name (or URL) has a log extension (``.gz`` too)."""
    return format_for(PurePosixPath(name))[0] is not None


def log_files_under(directory: Path) -> list[Path]:
    """The files under ``directory`` with a log extension (``.gz`` too), hidden ones left out."""
    found = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and format_for(path)[0] is not None:
            found.append(path)
    return found


def _expand(argument: str) -> list[Path]:
    files = matching_files(argument)
    if files:
        return files
    path = Path(argument)
    if path.is_dir():
        raise InputError(
            "directory holds no log files",
            argument,
            "botistat reads .jsonl, .ndjson, .json, .csv and .tsv files, optionally .gz",
        )
    if path.exists():
        raise InputError("not a regular file", argument)
    if GLOB_CHARS & set(argument):
        raise InputError("no files match the pattern", argument)
    raise InputError("no such file or directory", argument)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
