"""Typer's command classes, made to speak as the rest of botistat does.

Typer (0.29, with its own copy of Click) prints ``<bool>``, ``<list[str]>`` and ``{paths}``
in help and usage lines, keeps a docstring's line breaks in the middle of a sentence, and
shows a usage error (a bad ``--format``, an unknown option) as a boxed panel with the text of
a pydantic error. The classes here give every option a metavar that reads as the README's
tables do (``--since T``, ``--by KEY``, nothing for a flag), reflow help paragraphs, and turn
every usage error into botistat's one line (``botistat: error: <what> (<where>)`` and a hint,
exit 2).
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from typing import Any, Final

from typer._click import exceptions as click_errors
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from botistat.cli.completion import for_this_shell
from botistat.core.errors import BotistatError, ConfigError

#: Typer's options that install and show the completion script.
COMPLETION_OPTIONS: Final = frozenset({"install_completion", "show_completion"})


class _BotistatStyle:
    """Help reflowed and tidied, usage errors as one line: what a command and the group
    share (put before Typer's class in the bases)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("help"):
            kwargs["help"] = reflow(kwargs["help"])
        super().__init__(*args, **kwargs)

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            tidy(param)
        return params

    def format_help(self, ctx: Any, formatter: Any) -> None:
        plain_help_unless_colored()
        super().format_help(ctx, formatter)  # type: ignore[misc]

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        with usage_errors(self, _path(info_name, parent)):
            return super().make_context(info_name, args, parent, **extra)  # type: ignore[misc]


class BotistatCommand(_BotistatStyle, TyperCommand):
    """A command whose help and usage errors read as botistat's."""


class BotistatGroup(_BotistatStyle, TyperGroup):
    """The ``botistat`` group: its commands' usage errors, and its own, as one line."""

    def invoke(self, ctx: Any) -> Any:
        with usage_errors(self, ctx.command_path):
            return super().invoke(ctx)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[Any, Any, list[str]]:
        name = args[0] if args else ""
        unknown = name and not name.startswith("-") and self.get_command(ctx, name) is None
        if unknown and not ctx.resilient_parsing:
            import difflib

            commands = [n for n, c in self.commands.items() if not c.hidden]
            close = difflib.get_close_matches(name, commands, n=1)
            guess = f"did you mean {close[0]}? " if close else ""
            raise ConfigError(
                f"unknown command {name!r}",
                ctx.command_path,
                f"{guess}commands: {', '.join(commands)}",
            )
        result: tuple[Any, Any, list[str]] = super().resolve_command(ctx, args)
        return result


def plain_help_unless_colored() -> None:
    """Help without any ANSI style where botistat's output has none (NO_COLOR): Rich's own
    NO_COLOR handling keeps bold and dim."""
    from botistat.cli.common import color_wanted

    if not color_wanted(sys.stdout):
        from typer import rich_utils

        rich_utils.COLOR_SYSTEM = None  # Typer's documented switch


def reflow(text: str) -> str:
    """Help text with each paragraph on one line: a docstring's line breaks would otherwise
    show in the middle of a sentence (Typer's Rich help keeps them)."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


class _Argument(TyperArgument):
    """An argument shown by its metavar alone (``PATHS...``), never by its Python type."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.metavar or self.name or ""
        return [name if self.required else f"[{name}]"]


class _Option(TyperOption):
    """An option without Typer's ``[x>=1]`` after its metavar: it takes the width the help
    texts need at 80 columns, and a value out of range is an error that says the range."""

    def _get_number_range_help_str(self) -> str | None:
        return None


def tidy(param: Any) -> None:
    """Give ``param`` a metavar as the README writes it, once."""
    if isinstance(param, TyperArgument) and not isinstance(param, _Argument):
        # Typer 0.29 shows an argument's Python type whatever its metavar: swap in the
        # subclass that shows the metavar only.
        param.__class__ = _Argument
        if param.metavar is None:
            dots = "..." if param.nargs != 1 else ""
            param.metavar = f"{(param.name or 'value').upper()}{dots}"
        return
    if not isinstance(param, TyperOption) or isinstance(param, _Option):
        return
    param.__class__ = _Option
    if param.metavar is not None:
        return
    if param.is_flag:
        param.metavar = ""
    else:
        choices = choices_of(param)
        param.metavar = f"[{'|'.join(choices)}]" if choices else (param.name or "").upper()
    if param.name in COMPLETION_OPTIONS and param.callback is not None:
        param.callback = for_this_shell(param.callback)


def choices_of(param: Any) -> list[str]:
    """The values a choice option takes (empty for any other option)."""
    descriptor = getattr(param, "type_descriptor", None)
    found: Sequence[Any] = ()
    if descriptor is not None and getattr(descriptor, "is_choice", False):
        found = descriptor.choices or ()
    else:
        found = getattr(getattr(param, "type", None), "choices", None) or ()
    return [str(choice.value if isinstance(choice, Enum) else choice) for choice in found]


def _path(info_name: str | None, parent: Any) -> str:
    """``botistat report``: how the command being parsed was called."""
    name = info_name or ""
    return f"{parent.command_path} {name}" if parent is not None else name


@contextmanager
def usage_errors(command: Any, path: str) -> Iterator[None]:
    """Print a usage error while ``command`` (called as ``path``) reads its options or runs
    as botistat's one line (and a hint), and exit 2."""
    from botistat.cli.common import fail

    try:
        yield
    except click_errors.NoArgsIsHelpError:
        raise  # `botistat` alone: the help, as Typer shows it
    except click_errors.UsageError as error:
        # The parser raises some errors without a context (a missing value): the command
        # being parsed is the one they are about.
        if error.ctx is not None:
            command, path = error.ctx.command, error.ctx.command_path
        fail(usage_problem(error, command, path))
    except BotistatError as error:  # raised by a callback while the options are read
        fail(error)


def usage_problem(error: click_errors.UsageError, command: Any, path: str) -> ConfigError:
    """What went wrong and where, from what Typer's parser raised about ``command``."""
    ctx = error.ctx
    see = f"see: {path} --help"
    if isinstance(error, click_errors.NoSuchOption):
        closest = list(error.possibilities or ())[:1]  # best match first
        hint = f"did you mean {closest[0]}? {see}" if closest else see
        return ConfigError(f"unknown option {error.option_name}", path, hint)
    if isinstance(error, click_errors.BadOptionUsage):
        option = _long_name(command, error.option_name)
        if "requires an argument" in error.message:
            return ConfigError("missing value", option, see)
        if "does not take a value" in error.message:
            return ConfigError("the option takes no value", option, f"give it alone; {see}")
        return ConfigError(_sentence(error.message), option, see)
    if isinstance(error, click_errors.MissingParameter) and error.param is not None:
        param = error.param
        if isinstance(param, TyperArgument):
            usage = ctx.get_usage().replace("Usage: ", "usage: ", 1) if ctx else see
            name = (param.metavar or param.name or "").removesuffix("...")
            return ConfigError(f"missing {name}", path, usage)
        return ConfigError("missing option", _long_name(command, param.opts[0]), see)
    if isinstance(error, click_errors.BadParameter) and error.param is not None:
        return _bad_value(error, error.param, command, see)
    extra = EXTRA_ARGUMENTS.fullmatch(error.message)
    if extra:
        return ConfigError(f"unexpected argument(s): {extra[1]}", path, see)
    return ConfigError(_sentence(error.message), path, see)


#: Typer's message for arguments a command does not take.
EXTRA_ARGUMENTS: Final = re.compile(r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)")


def _bad_value(error: click_errors.BadParameter, param: Any, command: Any, see: str) -> ConfigError:
    where = _long_name(command, param.opts[0]) if param.opts else param.name
    given, kind = _given(error)
    shown = f" {given!r}" if given is not None else ""
    choices = choices_of(param)
    if choices:
        return ConfigError(f"invalid value{shown}", where, f"choose one of: {', '.join(choices)}")
    limits = _range_text(getattr(param, "min", None), getattr(param, "max", None))
    if kind == "int_parsing":
        return ConfigError(
            f"{given!r} is not a whole number", where, f"give a whole number{limits}"
        )
    if kind == "float_parsing":
        return ConfigError(f"{given!r} is not a number", where, f"give a number{limits}")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return ConfigError(f"{given} is out of range", where, f"give a value{limits}")
    return ConfigError(_sentence(error.message), where, see)


def _given(error: BaseException) -> tuple[str | None, str | None]:
    """The value given and the kind of problem, from the pydantic error Typer raised from."""
    errors = getattr(error.__cause__, "errors", None)
    if not callable(errors):
        return None, None
    try:
        first = errors()[0]
    except (IndexError, TypeError):
        return None, None
    given = first.get("input")
    return (None if given is None else str(given)), first.get("type")


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" of at least {low:g}"
    if high is not None:
        return f" of at most {high:g}"
    return ""


def _long_name(command: Any, option: str) -> str:
    """``--threshold`` for ``-t``: the name the README and ``--help`` use."""
    for param in getattr(command, "params", ()):
        names = [*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())]
        if option in names:
            return str(max(names, key=len))
    return option


def _sentence(message: str) -> str:
    """Typer's message as the middle of botistat's line: lower case, no final stop."""
    text = message.strip().removeprefix("Value error, ").rstrip(".")
    return text[:1].lower() + text[1:]
