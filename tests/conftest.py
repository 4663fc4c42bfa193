"""Shared helpers: writing log files and running the CLI in-process or as a subprocess."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from typer.testing import CliRunner

from botistat.cli.app import app

ROOT = Path(__file__).resolve().parent.parent

# Property tests check results, not speed: on a busy 2-core CI machine an example may take
# longer than hypothesis' default 200 ms deadline, which would fail a correct test.
settings.register_profile("botistat", deadline=None)
settings.load_profile("botistat")


def write_jsonl(path: Path, records: Iterable[dict[str, Any] | str]) -> Path:
    """Write records (dicts as JSON, strings verbatim) one per line; ``.gz`` compresses."""
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    return write_text(path, text)


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str, input: str | None = None) -> Any:
    """Run botistat in-process; stdout and stderr are kept apart."""
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def run_botistat(
    *args: str,
    cwd: Path | None = None,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run botistat as a real subprocess (``python -m botistat``)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env = {**base, "NO_COLOR": "1", "COLUMNS": "120", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "botistat", *args],
        cwd=cwd or ROOT,
        input=input,
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )


def free_port() -> int:
    """A TCP port on localhost nobody listens on now (for a test server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rounded(value: Any) -> Any:
    """Floats in nested data rounded to 12 places: sums of dollars may differ in their last
    bits when partitions add up in another order."""
    if isinstance(value, float):
        return round(value, 12)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value
