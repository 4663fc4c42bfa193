"""The hostile-input suite: real files and real subprocesses, one test per class of input that
once crashed, hung, blew up memory or gave a wrong number.

Every run goes through :func:`run_hostile`, which fails the test on a traceback or a Rust
panic in stderr, and on a run that takes longer than its time limit.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import run_botistat

#: What may never appear on stderr, whatever the input.
CRASH_MARKERS = (b"Traceback (most recent call last)", b"panicked at", b"RUST_BACKTRACE")


def run_hostile(
    *args: str,
    cwd: Path | None = None,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run botistat as a subprocess and assert it did not crash (exit code left to the test)."""
    result = run_botistat(*args, cwd=cwd, input=input, env=env)
    for marker in CRASH_MARKERS:
        assert marker not in result.stderr, result.stderr.decode(errors="replace")[-3000:]
    return result


def report_json(*args: str, **kwargs: Any) -> tuple[dict[str, Any], str]:
    """``botistat report ... -f json`` that must succeed: its document and its stderr."""
    result = run_hostile("report", *args, "-f", "json", **kwargs)
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 0, stderr
    return json.loads(result.stdout), stderr


def nonblank_lines(path: Path) -> int:
    """Lines of a plain file that hold anything but blanks."""
    return sum(1 for line in path.read_bytes().split(b"\n") if line.strip())


def assert_accounted(document: dict[str, Any], lines: int) -> None:
    """Every line of message-shaped input is a record (a message), a skipped line or an
    ignored record (a role that is no message): nothing vanishes. Valid for runs without a
    time range and without message-id merging."""
    summary = document["input"]
    assert summary["records"] + summary["skipped"] + summary["ignored"] == lines, summary
