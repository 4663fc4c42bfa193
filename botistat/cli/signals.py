"""SIGINT and SIGTERM stop any command cleanly: one line (``botistat: interrupted`` or
``terminated``), temporary files removed, exit 130 or 143 (128 + the signal, as shells report
it). See :func:`handle_signals` for why a relay thread is needed while Polars runs a query.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Final, NoReturn

import typer

from botistat.engine.scratch import remove_all

PROGRAM: Final = "botistat"

#: What a run stopped by a signal exits with (128 + the signal's number, as shells report
#: it), and the word it prints.
SIGNAL_EXITS: Final = {signal.SIGINT: (130, "interrupted"), signal.SIGTERM: (143, "terminated")}
#: Seconds a signalled run has to stop by itself (cancel its query, unwind) before it is
#: stopped at once. A second signal stops it at once too.
STOP_GRACE_SECONDS: Final = 5.0
#: Seconds the main thread has to take a SIGTERM itself before the relay hands it on.
FORWARD_AFTER_SECONDS: Final = 0.1


class _Stop:
    """The signal that stops this run, and how far the stopping got."""

    signal: int | None = None
    #: Inside a command's :func:`user_errors`, where a KeyboardInterrupt is turned into a
    #: clean exit; outside it (option parsing) the signal only sets the exit status.
    armed = False
    #: A KeyboardInterrupt is on its way up: Polars raises its own for a SIGINT too, and one
    #: raised again in the cleanup would escape it.
    raised = False
    announced = False
    #: The real stderr, kept for the one line of a stopped run (None: no handlers, in-process).
    stderr: int | None = None
    muted = False
    #: SIGINTs the relay sent this process itself, not to be taken for a second signal.
    self_sent = 0


_stop = _Stop()


def handle_signals() -> None:
    """Make SIGINT and SIGTERM stop any command cleanly (see :func:`user_errors`); end the
    process with :func:`exit_with`.

    Call it first thing in the main thread, before Polars is imported: Polars chains its own
    SIGINT handler to the one found then, and cancels a running query on it. Python runs
    signal handlers only in the main thread, between bytecodes, and a query keeps that thread
    in Rust; so a relay thread, woken through the signal wakeup fd, hands a SIGTERM the main
    thread does not take on to Polars as a SIGINT, and stops the process at once if it has
    not stopped :data:`STOP_GRACE_SECONDS` after the signal (a query waiting for stdin never
    checks) or on a second signal.
    """
    _stop.stderr = os.dup(2)
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    for signum in SIGNAL_EXITS:
        signal.signal(signum, _on_signal)
    previous_hook = sys.unraisablehook

    def unraisable(info: sys.UnraisableHookArgs) -> None:
        # An exception dropped in a finalizer once a signal came is the cancelled work's. A
        # KeyboardInterrupt dropped there may be raised again (Polars raises its own on a
        # SIGINT); if none comes, the relay ends the run.
        if _stop.signal is None:
            previous_hook(info)
        elif isinstance(info.exc_value, KeyboardInterrupt):
            _stop.raised = False

    sys.unraisablehook = unraisable
    relay = threading.Thread(target=_relay, args=(read_end,), name="botistat-signals", daemon=True)
    relay.start()


def stopped_by_signal() -> bool:
    """Whether SIGINT or SIGTERM came (what fails afterwards is the cancelled work's)."""
    return _stop.signal is not None


def exit_with(code: int | str | None) -> NoReturn:
    """End the process with ``code`` or, if a signal stopped the run, with the signal's status.

    A stopped run ends at once (``os._exit``), after removing its temporary files: Python's
    own exit would leave the Polars threads of the cancelled query running until they touch
    Python again, and then glibc aborts the process (SIGABRT); until then they may even
    create a file in a scratch directory already removed.
    """
    if _stop.signal is None:
        sys.exit(code)
    with suppress(OSError, ValueError):
        sys.stdout.flush()
    _stop_now(_stop.signal)


def _signal_status(signum: int) -> int:
    status, _ = SIGNAL_EXITS[signal.Signals(signum)]
    return status


def _begin_stop(signum: int) -> None:
    """Note the signal, and silence stderr: what the cancelled work prints there (Polars'
    panics as it aborts a query, exceptions in finalizers) is not news to who stopped it."""
    if _stop.signal is None:
        _stop.signal = signum
    if _stop.stderr is not None and not _stop.muted:
        _stop.muted = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    _begin_stop(signum)
    if not _stop.armed or _stop.raised or isinstance(sys.exception(), KeyboardInterrupt):
        return
    _stop.raised = True
    raise KeyboardInterrupt


def _stopped(signum: int = signal.SIGINT) -> NoReturn:
    _stop.raised = True
    _begin_stop(signum)
    _announce()
    raise typer.Exit(_signal_status(_stop.signal or signum)) from None


def _announce() -> None:
    if _stop.signal is None or _stop.announced:
        return
    _stop.announced = True
    _, word = SIGNAL_EXITS[signal.Signals(_stop.signal)]
    line = f"{PROGRAM}: {word}\n"
    if _stop.stderr is None:
        sys.stderr.write(line)
    else:
        # Not through sys.stderr: the main thread may hold its lock when the relay stops.
        os.write(_stop.stderr, line.encode())


def _relay(read_end: int) -> None:
    """Watch the signals as they arrive, whatever the main thread is doing (see
    :func:`handle_signals`)."""
    first: int | None = None
    since = 0.0
    forwarded = False
    while True:
        timeout = None
        if first is not None:
            wait = STOP_GRACE_SECONDS if forwarded else FORWARD_AFTER_SECONDS
            timeout = max(0.0, since + wait - time.monotonic())
        if not select.select([read_end], [], [], timeout)[0]:
            if first is not None and forwarded:
                _stop_now(first)
            if first is not None:
                _forward(first)
                forwarded = True
            continue
        for signum in os.read(read_end, 64):
            if signum not in SIGNAL_EXITS or signal.getsignal(signum) is not _on_signal:
                continue  # watch's own SIGTERM handler, say, which exits 0
            if signum == signal.SIGINT and _stop.self_sent:
                _stop.self_sent -= 1
                continue
            if first is not None:
                _stop_now(first)
            first, since = signum, time.monotonic()
            if signum == signal.SIGINT:
                _begin_stop(signum)  # Polars has seen it too, and is cancelling


def _forward(signum: int) -> None:
    """Hand a SIGTERM on to Polars, which cancels a running query on SIGINT only, if the
    main thread has not taken it: it is then in a Polars call. (A handler of the command's
    own may have taken it and been replaced by ours again since: then the main thread is
    not in Polars.)"""
    main = sys._current_frames().get(threading.main_thread().ident or 0)
    in_polars = main is not None and f"{os.sep}polars{os.sep}" in main.f_code.co_filename
    if signum == signal.SIGTERM and _stop.signal is None and in_polars:
        _begin_stop(signum)
        _stop.self_sent += 1
        os.kill(os.getpid(), signal.SIGINT)


def _stop_now(signum: int) -> NoReturn:
    """End the process now: temporary files first."""
    _begin_stop(signum)
    remove_all()
    _announce()
    os._exit(_signal_status(_stop.signal or signum))


def stop() -> NoReturn:
    """Leave the command as the signal that came asks (see :func:`exit_with`)."""
    _stopped()


@contextmanager
def armed() -> Iterator[None]:
    """Inside a command: a signal raises KeyboardInterrupt here, to unwind the command."""
    _stop.armed = True
    try:
        yield
    finally:
        _stop.armed = False
