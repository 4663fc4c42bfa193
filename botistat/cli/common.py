"""What every command shares: error reporting, warnings, output and the progress display."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

import typer

from botistat.cli import signals
from botistat.cli.signals import PROGRAM
from botistat.core.errors import BotistatError, ExitCode

if TYPE_CHECKING:
    from rich.console import Console

    from botistat.api import ReportProgress, ReportRequest
    from botistat.core.config import Config
    from botistat.core.model import InputSummary, Report
    from botistat.render import Terminal

#: Inputs smaller than this finish before a progress bar would be worth drawing.
PROGRESS_MIN_BYTES = 32 << 20
#: Skipped files named in warnings; the rest are counted.
MAX_FILES_NAMED = 5
NOTHING_READ = "no records found in the input"


def fail(error: BotistatError) -> NoReturn:
    """Print ``botistat: error: <what> (<where>)`` and a hint on stderr, then exit."""
    print(f"{PROGRAM}: error: {error.message()}", file=sys.stderr)
    if error.hint:
        print(f"  hint: {error.hint}", file=sys.stderr)
    raise typer.Exit(int(error.exit_code))


def warn(message: str) -> None:
    print(f"{PROGRAM}: warning: {message}", file=sys.stderr)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a :class:`BotistatError` raised inside into one line on stderr and its exit code,
    and SIGINT or SIGTERM into ``botistat: interrupted`` / ``terminated`` and 130 / 143."""
    if signals.stopped_by_signal():  # it came while the options were read
        signals.stop()
    with signals.armed():
        try:
            yield
        except BotistatError as error:
            if not signals.stopped_by_signal():
                fail(error)
            signals.stop()
        except KeyboardInterrupt:
            signals.stop()
        except (GeneratorExit, SystemExit):
            raise
        except BaseException:
            # Whatever fails once a signal came (a cancelled query, even a panic in Polars as
            # it aborts one) is the signal's doing.
            if not signals.stopped_by_signal():
                raise
            signals.stop()


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def terminal_width(default: int = 100, stream: TextIO | None = None) -> int:
    """The width of the terminal ``stream`` (stdout) is on; ``COLUMNS`` wins, as in
    ``shutil.get_terminal_size``."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size((stream or sys.stdout).fileno()).columns
    except (OSError, ValueError, AttributeError):
        return default


def color_wanted(stream: TextIO) -> bool:
    """Colours (any ANSI style) on ``stream``: never with ``NO_COLOR`` set (no-color.org),
    always with ``FORCE_COLOR`` set, else on a terminal that is not ``TERM=dumb``."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return os.environ.get("TERM") != "dumb" and is_terminal(stream)


def terminal_for(stream: TextIO) -> Terminal:
    """How output written to ``stream`` will be shown."""
    from botistat.render import Terminal

    tty = is_terminal(stream)
    width = terminal_width(stream=stream) if tty else 100
    return Terminal(color=color_wanted(stream), width=width, tty=tty)


def console(stream: TextIO) -> Console:
    """A Rich console for ``stream`` under :func:`color_wanted` (Rich's own NO_COLOR keeps
    bold and dim; no colour here means no styles at all)."""
    from rich.console import Console

    if color_wanted(stream):
        return Console(file=stream, force_terminal=True)
    return Console(file=stream, color_system=None)


def to_file(output: Path | None) -> Path | None:
    """``-o -`` is standard output, as ``-`` is standard input for the paths."""
    return None if output is None or str(output) == "-" else output


def write_output(text: str, output: Path | None) -> None:
    """Write to ``output`` (atomically, so a failed run never leaves half a file) or stdout."""
    if output is None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader went away (e.g. `| head`); that is not an error of ours.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(int(ExitCode.OK)) from None
        return
    temporary = output.with_name(f".{output.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(output)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        fail(BotistatError(f"cannot write output: {exc.strerror}", str(output)))


@contextmanager
def progress_bar(total_bytes: int | None) -> Iterator[ReportProgress | None]:
    """A transient progress display on stderr, only on a terminal and for big inputs: the
    bytes read, then the analysis (partitions done, or a pulsing bar while the records in
    memory are analysed), so that it moves until the report is ready."""
    if not total_bytes or total_bytes < PROGRESS_MIN_BYTES or not is_terminal(sys.stderr):
        yield None
        return
    display = _ProgressDisplay(total_bytes)
    try:
        yield display
    finally:
        display.stop()


class _ProgressDisplay:
    """Two Rich progress bars in turn: bytes read (with speed and time left), then pieces
    analysed (with the time spent), each transient."""

    def __init__(self, total_bytes: int) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._bar = Progress(
            TextColumn("reading"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console(sys.stderr),
            transient=True,
        )
        self._task = self._bar.add_task("reading", total=total_bytes)
        #: Pieces the analysis bar counts; 0 while reading.
        self._pieces = 0
        self._bar.start()

    def read(self, nbytes: int) -> None:
        self._bar.advance(self._task, nbytes)

    def analysing(self, done: int, total: int) -> None:
        if total != self._pieces:
            self._bar.stop()
            self._start_analysing(total)
        if total > 1:
            self._bar.update(self._task, completed=done)

    def _start_analysing(self, total: int) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._pieces = total
        pieces = [TextColumn("{task.completed}/{task.total} partitions")] if total > 1 else []
        self._bar = Progress(
            TextColumn("analysing"),
            BarColumn(),
            *pieces,
            TimeElapsedColumn(),
            console=console(sys.stderr),
            transient=True,
        )
        # One piece: the records in memory are analysed in one go, nothing to count; the
        # bar pulses.
        self._task = self._bar.add_task("analysing", total=total if total > 1 else None)
        self._bar.start()
        self._bar.refresh()  # shown at once, however short the analysis

    def stop(self) -> None:
        self._bar.stop()


def run_report(request: ReportRequest, settings: Config) -> Report:
    """Build the report with a progress bar on a terminal, then warn about what it reveals
    (an empty input, skipped files and lines, implausible values) on stderr."""
    from botistat.api import make_report

    notes: list[str] = []
    try:
        report = make_report(request, settings, progress_bar, notes)
    finally:
        for note in notes:
            warn(note)
    summary = report.input
    warn_about_input(
        records=summary.records,
        empty=_nothing_found(summary),
        skipped_files=summary.skipped_files,
        skipped=summary.skipped,
        first_skipped=summary.skipped_examples[0] if summary.skipped_examples else "",
        invalid_values=summary.invalid_values,
        first_invalid=summary.invalid_examples[0] if summary.invalid_examples else "",
    )
    return report


def _nothing_found(summary: InputSummary) -> str:
    """Why a report has no record: nothing in the input, or nothing in its time range
    (``2,798 records read, first <time>, last <time>``: where the records are)."""
    from botistat.report.plain import iso_time

    if not summary.read or (summary.since is None and summary.until is None):
        return NOTHING_READ
    read = f"{summary.read:,} records read"
    if summary.read_first is not None:
        read += f", first {iso_time(summary.read_first)}, last {iso_time(summary.read_last)}"
    return f"no records in the time range ({read})"


def warn_about_input(
    *,
    records: int,
    empty: str = NOTHING_READ,
    skipped_files: Sequence[tuple[str, str]],
    skipped: int,
    first_skipped: str,
    invalid_values: Sequence[tuple[str, int]],
    first_invalid: str,
) -> None:
    """Say on stderr what reading the inputs revealed: no records, skipped files and lines,
    implausible values dropped."""
    if records == 0:
        warn(empty)
    for file, reason in skipped_files[:MAX_FILES_NAMED]:
        warn(f"skipped file {file}: {reason}")
    if len(skipped_files) > MAX_FILES_NAMED:
        warn(f"... and {len(skipped_files) - MAX_FILES_NAMED:,} more file(s) skipped")
    if skipped:
        warn(f"skipped {skipped:,} malformed line(s); first: {first_skipped}")
    invalid = sum(count for _, count in invalid_values)
    if invalid:
        kinds = ", ".join(f"{problem} ({count:,})" for problem, count in invalid_values)
        warn(f"dropped {invalid:,} implausible value(s): {kinds}; first: {first_invalid}")
