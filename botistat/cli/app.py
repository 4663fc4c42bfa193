"""The ``botistat`` command: a Typer app with one module per command.

Heavy libraries (Polars, Rich tables) are imported inside the commands, so ``--help`` and
``--version`` start fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from botistat import __version__
from botistat.cli import cache as cache_command
from botistat.cli import check as check_command
from botistat.cli import config as config_command
from botistat.cli import email as email_command
from botistat.cli import inspect as inspect_command
from botistat.cli import report as report_command
from botistat.cli import watch as watch_command
from botistat.cli.parsing import BotistatCommand, BotistatGroup
from botistat.cli.signals import PROGRAM, exit_with, handle_signals, stopped_by_signal

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 a threshold was breached; "
    "2 usage, config or input error (one line on stderr, no traceback); "
    "3 an email could not be sent (it waits in the outbox); "
    "130 stopped by SIGINT (Ctrl-C), 143 by SIGTERM (temporary files are removed)."
)

app = typer.Typer(
    cls=BotistatGroup,
    name="botistat",
    help="Analyze chatbot and LLM conversation logs (JSON Lines, CSV, gzip).",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        print(f"botistat {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_show_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """Analyze chatbot and LLM conversation logs (JSON Lines, CSV, gzip)."""


for name, function in (
    ("report", report_command.report),
    ("check", check_command.check),
    ("watch", watch_command.watch),
    ("email", email_command.email),
    ("inspect", inspect_command.inspect),
    ("config", config_command.show_config),
):
    app.command(name, cls=BotistatCommand, epilog=EXIT_CODES_HELP)(function)
app.command("presets", cls=BotistatCommand)(inspect_command.presets)

cache_app = typer.Typer(
    cls=BotistatGroup,
    help="What a --cache directory holds, and emptying it.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
cache_app.command("info", cls=BotistatCommand)(cache_command.info)
cache_app.command("clear", cls=BotistatCommand)(cache_command.clear)
app.add_typer(cache_app, name="cache")


def main() -> None:
    """Console-script entry point."""
    handle_signals()
    code: int | str | None = 0
    try:
        # Named, not taken from argv: `python -m botistat` would otherwise be the name that
        # usage lines and shell completion use.
        app(prog_name=PROGRAM)
    except SystemExit as done:
        code = done.code
    except BaseException:
        # Once a signal came, what escapes is the cancelled work's (a panic in Polars).
        if not stopped_by_signal():
            raise
    exit_with(code)
