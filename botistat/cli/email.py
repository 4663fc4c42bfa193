"""``botistat email``: mail a report (plain text + HTML), from cron for instance."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from botistat.cli.common import fail, user_errors
from botistat.cli.options import (
    CompareOption,
    ConfigOption,
    GeoipOption,
    InputFormat,
    InputFormatOption,
    MemoryBudgetOption,
    PresetOption,
    RangeOption,
    SinceOption,
    StrictOption,
    TzOption,
    UntilOption,
)
from botistat.core.errors import BotistatError, ConfigError, ExitCode


def email(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Log files, directories, glob patterns, or - for stdin.", show_default=False
        ),
    ] = None,
    to: Annotated[
        list[str] | None,
        typer.Option(
            "--to", help="Recipient; repeatable. Default: config email.to.", show_default=False
        ),
    ] = None,
    config: ConfigOption = None,
    preset: PresetOption = None,
    range_name: RangeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    tz: TzOption = None,
    compare: CompareOption = None,
    subject: Annotated[
        str | None,
        typer.Option(
            help="Subject template with {scope} {period} {messages} {users} {failed} "
            "{error_rate} {p95} {tokens} {breaches} {marker}. Default: config email.subject.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Write the .eml to stdout (or --output) instead of sending."
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="With --dry-run: write the .eml here."),
    ] = None,
    send_outbox: Annotated[
        bool,
        typer.Option("--send-outbox", help="Send the messages waiting in the outbox, and stop."),
    ] = False,
    input_format: InputFormatOption = InputFormat.auto,
    strict: StrictOption = False,
    geoip_db: GeoipOption = None,
    memory_budget: MemoryBudgetOption = None,
) -> None:
    """Email a report, as plain text and HTML, through the SMTP server in the config.

    A message that cannot be sent is saved to the outbox (exit code 3); send it later with
    botistat email --send-outbox.
    """
    with user_errors():
        from botistat.api import PeriodRequest, ReportRequest
        from botistat.cli.common import run_report
        from botistat.cli.report import announce_preset
        from botistat.core.config import load_settings
        from botistat.mail.delivery import (
            build_message,
            default_outbox,
            save_to_outbox,
            send,
            subject_line,
            summarize,
        )

        settings = load_settings(config, preset)
        mail = settings.email
        outbox = mail.outbox or default_outbox()
        if send_outbox:
            if paths:
                raise ConfigError("--send-outbox sends what is waiting; give it no paths", "email")
            _send_outbox(outbox, settings.email)
            return
        if not paths:
            raise ConfigError("no input given", "email", "pass log files, or use --send-outbox")
        recipients = tuple(to or mail.to)
        if not recipients:
            raise ConfigError(
                "no recipients", "--to", "give --to ADDRESS or email.to in the config"
            )
        request = ReportRequest(
            paths=paths,
            config=config,
            since=since,
            until=until,
            input_format=input_format.source_format,
            strict=strict,
            geoip_db=geoip_db,
            memory_budget=memory_budget,
            period=PeriodRequest(range_name, tz, compare is not None),
        )
        report = run_report(request, settings)
        announce_preset(report.input.preset, report.input.preset_detected_from)
        summary = summarize(report, mail.name, _breaches(settings, report))
        message = build_message(
            report,
            sender=mail.sender or mail.username or "botistat@localhost",
            recipients=recipients,
            subject=subject_line(subject or mail.subject, summary),
        )
        if dry_run:
            data = message.as_bytes()
            if output is None:
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
            else:
                output.write_bytes(data)
            return
        try:
            send(message, mail)
        except BotistatError as error:
            saved = save_to_outbox(message, outbox)
            error.hint = (
                f"the message is saved in {saved}; send it later with: botistat email --send-outbox"
            )
            fail(error)
        print(f"botistat: sent {message['Subject']!r} to {', '.join(recipients)}", file=sys.stderr)


def _breaches(settings: object, report: object) -> int:
    """How many of the config's thresholds the report breaches (no data is not a breach)."""
    from botistat.core.config import Config
    from botistat.core.model import Report
    from botistat.report.thresholds import evaluate, parse_thresholds

    assert isinstance(settings, Config) and isinstance(report, Report)
    if not settings.thresholds:
        return 0
    thresholds = parse_thresholds(settings.thresholds, str(settings.path))
    result = evaluate(thresholds, report, allow_empty=True)
    return sum(outcome.status == "fail" for outcome in result.outcomes)


def _send_outbox(outbox: Path, settings: object) -> None:
    from botistat.core.config import EmailConfig
    from botistat.mail.delivery import load_message, send, waiting

    assert isinstance(settings, EmailConfig)
    pending = waiting(outbox)
    sent = 0
    for path in pending:
        try:
            send(load_message(path), settings)
        except BotistatError as error:
            error.hint = f"{len(pending) - sent} message(s) still wait in {outbox}"
            fail(error)
        path.unlink()
        sent += 1
    print(f"botistat: sent {sent} message(s) from the outbox", file=sys.stderr)
    if sent != len(pending):
        raise typer.Exit(int(ExitCode.DELIVERY_FAILED))
