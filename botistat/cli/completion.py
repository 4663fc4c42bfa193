"""Shell completion: Typer's ``--install-completion`` and ``--show-completion``, for the shell
botistat runs in, or one line saying why not (Typer itself prints ``Shell  not supported.``
and exits 1, the code of a breached threshold)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from botistat.core.errors import ConfigError

#: The shells Typer writes completion scripts for.
COMPLETION_SHELLS: Final = ("bash", "zsh", "fish", "powershell", "pwsh")


def for_this_shell(install_or_show: Callable[..., Any]) -> Callable[..., Any]:
    """Typer's callback ``install_or_show``, given the shell this runs in; a shell it has no
    script for is a :class:`ConfigError`."""

    def callback(ctx: Any, param: Any, value: Any) -> Any:
        if value is not True or ctx.resilient_parsing:
            return install_or_show(ctx, param, value)
        where = max(param.opts, key=len)
        shell = current_shell()
        if shell is None:
            raise ConfigError(
                "cannot tell which shell this is",
                where,
                f"run it from {', '.join(COMPLETION_SHELLS[:-1])}, or set $SHELL",
            )
        if shell not in COMPLETION_SHELLS:
            raise ConfigError(
                f"no completion for the {shell} shell",
                where,
                f"shells with completion: {', '.join(COMPLETION_SHELLS)}",
            )
        try:
            return install_or_show(ctx, param, shell)
        except OSError as exc:
            raise ConfigError(
                f"cannot install completion: {exc.strerror}", exc.filename or where
            ) from None

    return callback


def current_shell() -> str | None:
    """The shell botistat runs under (its parent processes), else ``$SHELL``."""
    try:
        import shellingham  # type: ignore[import-untyped]

        detected, _ = shellingham.detect_shell()
        name = str(detected)
    except Exception:  # ShellDetectionFailure, or no /proc to look in
        name = ""
    name = name or Path(os.environ.get("SHELL", "")).name
    return name.lower() or None
