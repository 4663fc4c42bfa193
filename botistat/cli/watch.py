"""``botistat watch``: follow live logs and alert on token spikes as they happen."""

from __future__ import annotations

import signal
import sys
import time
from datetime import UTC, datetime
from enum import StrEnum
from types import FrameType
from typing import Annotated, Any, TypeVar

import typer

from botistat.cli.common import console, is_terminal, user_errors, warn, warn_about_input
from botistat.cli.options import (
    BucketOption,
    ConfigOption,
    InputFormat,
    InputFormatOption,
    MinRatioOption,
    MinTokensOption,
    PathsArgument,
    PresetOption,
    SensitivityOption,
    WindowOption,
)
from botistat.core.errors import ExitCode

_T = TypeVar("_T")


class WatchFormat(StrEnum):
    live = "live"
    jsonl = "jsonl"


class _StopRequestedError(Exception):
    """SIGTERM: leave the loop and exit 0."""


def watch(
    paths: PathsArgument,
    config: ConfigOption = None,
    preset: PresetOption = None,
    bucket: BucketOption = None,
    window: WindowOption = None,
    sensitivity: SensitivityOption = None,
    min_ratio: MinRatioOption = None,
    min_tokens: MinTokensOption = None,
    min_cost: Annotated[
        float | None,
        typer.Option(
            "--min-cost",
            metavar="USD",
            min=0,
            help="Cost spike: at least this many USD in the bucket. Default: 1.",
            show_default=False,
        ),
    ] = None,
    cooldown: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            min=1,
            help="Closed buckets back under the threshold before a 'resolved' event. Default: 2.",
            show_default=False,
        ),
    ] = None,
    backfill: Annotated[
        bool,
        typer.Option(
            "--backfill/--no-backfill",
            help="Seed the baseline from the recent history already in the files.",
        ),
    ] = True,
    fmt: Annotated[
        WatchFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="live: a view on the terminal; jsonl: one JSON event per line on stdout. "
            "Default: live on a terminal, jsonl otherwise.",
            show_default=False,
        ),
    ] = None,
    exec_command: Annotated[
        str | None,
        typer.Option(
            "--exec",
            metavar="CMD",
            help="Run this shell command per event, with the event JSON on stdin.",
        ),
    ] = None,
    webhook: Annotated[
        str | None,
        typer.Option(
            metavar="URL", help="POST each event as JSON (with a Slack-compatible 'text') here."
        ),
    ] = None,
    poll: Annotated[
        float,
        typer.Option(
            metavar="SECONDS", min=0.05, help="Seconds between looks at the files (at least 0.05)."
        ),
    ] = 0.5,
    input_format: InputFormatOption = InputFormat.auto,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay",
            help="Read the logs as if they arrived live, in time order: emit every alert watch "
            "would have sent (with -f jsonl also one 'bucket' line per closed bucket), then "
            "exit 0. Try alert settings on last week's logs.",
        ),
    ] = False,
) -> None:
    """Follow log files (like tail -F) and alert on token spikes, slow replies and error
    surges as they happen.

    Starts at the end of the files, after seeding the baseline from their recent history.
    Ctrl-C stops it (exit 130), as does SIGTERM (exit 0).
    """
    with user_errors():
        from botistat.api import SpikeRequest, detected_settings_for, price_book, spike_options
        from botistat.cli.report import announce_preset
        from botistat.core.config import load_settings
        from botistat.watch.monitor import LiveMonitor, MonitorSettings
        from botistat.watch.sinks import HookSink, JsonLinesSink, Sink, exec_hook, webhook_hook
        from botistat.watch.watcher import Watcher

        settings = load_settings(config, preset)
        settings = detected_settings_for(paths, settings, input_format.source_format)
        announce_preset(settings.preset, settings.preset_detected_from)
        spikes = spike_options(
            SpikeRequest(bucket, window, sensitivity, min_ratio, min_tokens), settings, "5m"
        )
        defaults = MonitorSettings()
        prices = price_book(settings)
        monitor = LiveMonitor(
            MonitorSettings(
                bucket_seconds=spikes.bucket_seconds,
                window=spikes.window,
                sensitivity=spikes.sensitivity,
                min_ratio=spikes.min_ratio,
                min_tokens=spikes.min_tokens,
                min_cost=_first_set(min_cost, settings.spikes.min_cost, defaults.min_cost),
                cooldown=_first_set(cooldown, settings.spikes.cooldown, defaults.cooldown),
                merge_messages=settings.merges_messages,
            ),
            prices,
        )
        chosen = fmt or (WatchFormat.live if is_terminal(sys.stdout) else WatchFormat.jsonl)
        if replay:
            _replay(paths, settings, monitor.settings, prices, chosen, input_format.source_format)
            return
        sinks: list[Sink] = []
        if chosen is WatchFormat.jsonl:
            sinks.append(JsonLinesSink(sys.stdout))
        if exec_command:
            sinks.append(HookSink("--exec hook", exec_hook(exec_command)))
        if webhook:
            sinks.append(HookSink("webhook", webhook_hook(webhook)))
        watcher = Watcher(paths, settings, monitor, input_format.source_format)
        history = monitor.history_span()
        for message in watcher.start(
            backfill_since=datetime.now(UTC) - history if backfill else None
        ):
            warn(message)
        print(
            f"botistat: watching {_inputs(len(watcher.files), watcher.reads_stdin)}; "
            f"buckets of {spikes.bucket_seconds}s, baseline of {spikes.window}",
            file=sys.stderr,
            flush=True,
        )
        _run(watcher, monitor, sinks, poll, live=chosen is WatchFormat.live)


def _inputs(files: int, stdin: bool) -> str:
    """``3 file(s)``, ``standard input``, or both."""
    named = [f"{files} file(s)"] if files or not stdin else []
    return " and ".join([*named, "standard input"] if stdin else named)


def _run(watcher: Any, monitor: Any, sinks: list[Any], poll: float, *, live: bool) -> None:
    from botistat.watch.view import live_view

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise _StopRequestedError

    previous = signal.signal(signal.SIGTERM, stop)
    shown: list[dict[str, Any]] = []
    display = None
    try:
        if live:
            from rich.live import Live

            display = Live(
                live_view(monitor, len(watcher.files), shown),
                auto_refresh=False,
                console=console(sys.stdout),
            )
            display.start()
        while True:
            # Buckets are closed as of when this look at the files began, not when the lines
            # it read are folded in: a line written before it was read, so a bucket that
            # ended while a large batch was parsed is not closed before its last lines count.
            looked = datetime.now(UTC)
            for message in watcher.poll():
                warn(message)
            for event in monitor.check(looked):
                document = event.document()
                shown.append(document)
                del shown[:-20]
                for sink in sinks:
                    sink.send(document)
            if display is not None:
                display.update(live_view(monitor, len(watcher.files), shown), refresh=True)
            if watcher.finished:  # standard input ended: its last events are out
                code = int(ExitCode.OK)
                break
            time.sleep(poll)
    except _StopRequestedError:
        code = int(ExitCode.OK)
    except KeyboardInterrupt:
        code = 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        if display is not None:
            display.stop()
        for sink in sinks:
            sink.close()
        watcher.close()
    raise typer.Exit(int(code))


def _replay(
    paths: list[str],
    settings: Any,
    monitoring: Any,
    prices: Any,
    chosen: WatchFormat,
    input_format: str | None,
) -> None:
    """``--replay``: jsonl lines (alerts and buckets), or one line of text per alert."""
    import json

    from botistat.watch.replay import replay

    run = replay(paths, settings, monitoring, prices, input_format=input_format)
    read = run.input
    warn_about_input(
        records=run.records,
        skipped_files=[(each.file, each.reason) for each in read.skipped_files],
        skipped=read.skipped,
        first_skipped=str(read.examples[0]) if read.examples else "",
        invalid_values=read.invalid_values,
        first_invalid=str(read.invalid_examples[0]) if read.invalid_examples else "",
    )
    for item in run.items:
        if chosen is WatchFormat.jsonl:
            print(json.dumps(item.document()), flush=True)
        elif item.event is not None:
            print(item.event.text(), flush=True)


def _first_set(*values: _T | None) -> _T:
    """The first value given (0 counts as given): command line, then config, then default."""
    return next(value for value in values if value is not None)
