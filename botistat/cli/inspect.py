"""``botistat inspect`` and ``botistat presets``: finding the mapping for a log format."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Annotated

import typer

from botistat.cli.common import user_errors, warn


def inspect(
    path: Annotated[
        str,
        typer.Argument(
            help="A log file (JSON Lines or CSV, maybe .gz), a directory (a sample across "
            "its files), a glob, or - for stdin.",
            show_default=False,
        ),
    ],
    sample: Annotated[int, typer.Option(metavar="N", min=1, help="Records to read.")] = 1000,
) -> None:
    """Show the fields of a log and suggest a mapping, printed as a ready config file.

    The field list is printed as YAML comments, so the whole output can be saved as
    botistat.yaml: botistat inspect app.jsonl > botistat.yaml. Logs of a known format get
    its preset.
    """
    with user_errors():
        from botistat.ingest.inspect import inspect_path, inspection_text

        inspection = inspect_path(path, sample)
        if inspection.sample.skipped:
            warn(f"{path}: {inspection.sample.summary()}")
        for name, reason in inspection.sample.unreadable:
            warn(f"skipped file {name}: {reason}")
        sys.stdout.write(inspection_text(inspection))


def presets() -> None:
    """List the ready mappings for known log formats (use with --preset NAME)."""
    from botistat.core.presets import PRESETS

    for preset in PRESETS.values():
        print(f"{preset.name}  ({preset.shape}s)  {preset.description}")
        print(f"  documented at: {preset.source}")
        print(f"  maps: {_mapping_text(preset.fields)}")
        if preset.failed_statuses:
            print(f"  failure statuses: {', '.join(preset.failed_statuses)}")
        if preset.limits:
            print(f"  limits: {preset.limits}")
        print()


def _mapping_text(fields: Mapping[str, str]) -> str:
    """``name <- path`` for each field; the parts of a composite message id as one list."""
    from botistat.core.schema import MESSAGE_ID_PARTS

    shown = [f"{name} <- {path}" for name, path in fields.items() if name not in MESSAGE_ID_PARTS]
    parts = [fields[part] for part in MESSAGE_ID_PARTS if part in fields]
    if len(parts) == 1:
        shown.append(f"message_id <- {parts[0]}")
    elif parts:
        shown.append(f"message_id <- [{', '.join(parts)}]")
    return ", ".join(shown)
