"""``botistat email``: mail a report (plain text + HTML), from cron for instance."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from botistat.cli.common import fail, to_file, user_errors, warn
from botistat.cli.options import (
    CacheOption,
    CompareOption,
    ConfigOption,
    EngineOption,
    GeoipOption,
    InputFormat,
    InputFormatOption,
    MemoryBudgetOption,
    NoCacheOption,
    PartitionsOption,
    PresetOption,
    RangeOption,
    SchedulerOption,
    SinceOption,
    StrictOption,
    TzOption,
    UntilOption,
)
from botistat.core.errors import BotistatError, ConfigError, ExitCode

#: The To: of a dry run without recipients (RFC 5322's empty group).
NO_RECIPIENTS = "undisclosed-recipients:;"

if TYPE_CHECKING:
    from email.message import EmailMessage

    from botistat.core.config import Config, EmailConfig
    from botistat.core.model import Report
    from botistat.mail.delivery import Refusal


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
            "--to",
            metavar="ADDR",
            help="Recipient; repeatable. Default: config email.to.",
            show_default=False,
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
            metavar="TEMPLATE",
            help="Subject template with {scope} {period} {messages} {users} {failed} "
            "{error_rate} {p95} {tokens} {breaches} {marker}. Default: config email.subject.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Write the .eml to stdout (or --output) instead of sending; no recipient needed.",
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="With --dry-run: write the .eml here (- is stdout).",
        ),
    ] = None,
    send_outbox: Annotated[
        bool,
        typer.Option("--send-outbox", help="Send the messages waiting in the outbox, and stop."),
    ] = False,
    input_format: InputFormatOption = InputFormat.auto,
    strict: StrictOption = False,
    geoip_db: GeoipOption = None,
    memory_budget: MemoryBudgetOption = None,
    cache: CacheOption = None,
    no_cache: NoCacheOption = False,
    partitions: PartitionsOption = None,
    engine: EngineOption = None,
    scheduler: SchedulerOption = None,
) -> None:
    """Email a report, as plain text and HTML, through the SMTP server in the config.

    A message that cannot be sent is saved to the outbox (exit code 3); send it later with
    botistat email --send-outbox. A config that cannot send (no host, the password variable
    unset) is an error (exit code 2) before anything is built, sent or saved.
    """
    with user_errors():
        from botistat.api import PeriodRequest, ReportRequest
        from botistat.cli.common import run_report
        from botistat.cli.report import announce_preset
        from botistat.core.config import load_settings
        from botistat.mail.delivery import (
            DeliveryError,
            MessageRefusedError,
            build_message,
            envelope,
            password_for,
            send,
            server_address,
            subject_line,
            summarize,
        )
        from botistat.mail.outbox import default_outbox

        settings = load_settings(config, preset)
        mail = settings.email
        outbox = mail.outbox or default_outbox()
        if send_outbox:
            if paths:
                raise ConfigError("--send-outbox sends what is waiting; give it no paths", "email")
            password_for(mail)
            _send_outbox(outbox, mail)
            return
        if not paths:
            raise ConfigError("no input given", "email", "pass log files, or use --send-outbox")
        recipients = tuple(to or mail.to)
        if not recipients and not dry_run:
            raise ConfigError(
                "no recipients", "--to", "give --to ADDRESS or email.to in the config"
            )
        if not dry_run:
            password_for(mail)  # a message it could never send is neither built nor queued
        request = ReportRequest(
            paths=paths,
            config=config,
            since=since,
            until=until,
            input_format=input_format.source_format,
            strict=strict,
            geoip_db=geoip_db,
            memory_budget=memory_budget,
            cache=cache,
            no_cache=no_cache,
            partitions=partitions,
            engine=engine,
            scheduler=scheduler,
            period=PeriodRequest(range_name, tz, compare is not None),
        )
        report = run_report(request, settings)
        announce_preset(report.input.preset, report.input.preset_detected_from)
        summary = summarize(report, mail.name, _breaches(settings, report))
        message = build_message(
            report,
            sender=mail.sender or mail.username or "botistat@localhost",
            # A dry run is for looking at the message: it needs no recipient yet.
            recipients=recipients or (NO_RECIPIENTS,),
            subject=subject_line(subject or mail.subject, summary),
        )
        if dry_run:
            _write_eml(message, to_file(output))
            return
        try:
            refusals = send(message, mail)
        except MessageRefusedError as error:
            _keep(message, outbox, error, error.refusals)
            fail(error)
        except DeliveryError as error:
            _keep(message, outbox, error)
            fail(error)
        except BotistatError:
            raise  # the config (checked above already)
        except Exception as exc:  # a failure of an unforeseen kind loses no report either
            unforeseen = DeliveryError(f"cannot send: {exc!r}", server_address(mail))
            _keep(message, outbox, unforeseen)
            fail(unforeseen)
        refused = {refusal.recipient for refusal in refusals}
        took = [address for address in envelope(message) if address not in refused]
        print(f"botistat: sent {message['Subject']!r} to {', '.join(took)}", file=sys.stderr)
        if refusals:
            partial = DeliveryError(
                "SMTP server refused some recipients: "
                + ", ".join(refusal.text() for refusal in refusals),
                server_address(mail),
            )
            _keep(message, outbox, partial, refusals)
            fail(partial)


def _breaches(settings: Config, report: Report) -> int:
    """How many of the config's thresholds the report breaches (no data is not a breach)."""
    from botistat.report.thresholds import evaluate, parse_thresholds

    if not settings.thresholds:
        return 0
    thresholds = parse_thresholds(settings.thresholds, str(settings.path))
    result = evaluate(thresholds, report, allow_empty=True)
    return sum(outcome.status == "fail" for outcome in result.outcomes)


def _write_eml(message: EmailMessage, output: Path | None) -> None:
    data = message.as_bytes()
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    temporary = output.with_name(f".{output.name}.tmp")
    try:
        temporary.write_bytes(data)
        temporary.replace(output)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise BotistatError(f"cannot write output: {exc.strerror}", str(output)) from None


def _keep(
    message: EmailMessage,
    outbox: Path,
    error: BotistatError,
    refusals: list[Refusal] | None = None,
) -> None:
    """Keep what was not sent (for ``refusals`` only, if given) and say where in the error's
    hint. An outbox that cannot be written loses nothing either: the message goes to stdout
    (which cron mails to the crontab's owner) and the run exits 2, to get the config fixed."""
    from botistat.mail.outbox import keep, save

    try:
        kept = [save(message, outbox)] if refusals is None else keep(message, outbox, refusals)
    except OSError as exc:
        sys.stdout.buffer.write(message.as_bytes())
        sys.stdout.flush()
        error.exit_code = ExitCode.USAGE
        error.hint = (
            f"the outbox cannot be written ({exc.strerror}: {exc.filename or outbox}), "
            "so the message is on stdout; fix email.outbox"
        )
        return
    error.hint = "; ".join(
        f"the message is saved in {path}; send it later with: botistat email --send-outbox"
        if path.parent == outbox
        else f"refused for good: the message is kept in {path} and not retried"
        for path in kept
    )


def _send_outbox(outbox: Path, settings: EmailConfig) -> None:
    from botistat.mail.outbox import QUARANTINE, flush

    result = flush(outbox, settings)
    for note in result.notes:
        warn(note)
    done = f"{result.sent} message(s) sent"
    if result.stopped is not None:
        result.stopped.hint = f"{done}; {result.waiting} still wait in {outbox}"
        fail(result.stopped)
    if result.waiting:
        done += f"; {result.waiting} still wait in {outbox}"
    if result.quarantined:
        done += f"; {result.quarantined} moved to {outbox / QUARANTINE} (not retried)"
    print(f"botistat: {done} from the outbox", file=sys.stderr)
    if result.waiting or result.quarantined:
        raise typer.Exit(int(ExitCode.DELIVERY_FAILED))
