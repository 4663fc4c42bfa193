"""Exit codes and the errors a user can cause.

Every error a user can fix (a bad path, a bad config, malformed input under ``--strict``) is a
:class:`BotistatError`. The CLI prints it as one line plus an optional hint and exits with its
code; it never shows a traceback for these.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in the README and in ``--help``."""

    OK = 0
    THRESHOLD_BREACHED = 1
    USAGE = 2
    DELIVERY_FAILED = 3


class BotistatError(Exception):
    """An error the user can fix: what went wrong, where, and how to fix it."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, what: str, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.where = where
        self.hint = hint

    def message(self) -> str:
        """The one-line message: ``<what> (<where>)``."""
        return f"{self.what} ({self.where})" if self.where else self.what


class ConfigError(BotistatError):
    """The configuration file or a command-line option is invalid."""


class InputError(BotistatError):
    """An input path or its content cannot be used."""
