"""What a terminal shows: colours (and NO_COLOR), narrow screens and wide breakdowns.

Each run here is botistat on a real pseudo-terminal of a given width, as a person would run
it, or piped, as a script would.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_botistat, write_jsonl

#: An SGR sequence: colour, bold, dim... (cursor movement is not a style).
STYLE = re.compile(r"\x1b\[[0-9;]*m")
#: A number cut short by a table too narrow for it (``3,71…``).
CUT_NUMBER = re.compile(r"(?<![\w,.])\d[\d,.]*…")
#: Plain text, to read the layout.
PLAIN = {"NO_COLOR": "1"}


def run_on_terminal(
    *args: str,
    columns: int = 100,
    env: dict[str, str] | None = None,
    until: str | None = None,
    timeout: float = 60,
) -> tuple[int, str]:
    """botistat with stdin, stdout and stderr on a pseudo-terminal ``columns`` wide: its
    exit status and all it showed. With ``until``, SIGINT once that text has shown."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    environment = {**base, "TERM": "xterm-256color", "COLUMNS": str(columns), **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "botistat", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=ROOT,
        env=environment,
        start_new_session=True,
    )
    os.close(terminal)
    shown = b""
    deadline = time.monotonic() + timeout
    interrupted = False
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.1)
            if ready:
                try:
                    data = os.read(controller, 65536)
                except OSError:  # the program ended and closed the terminal
                    break
                if not data:
                    break
                shown += data
            if until is not None and not interrupted and until.encode() in shown:
                process.send_signal(signal.SIGINT)
                interrupted = True
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    text = shown.decode(errors="replace").replace("\r\n", "\n")
    assert "Traceback" not in text, text
    return code, text


@pytest.fixture(scope="module")
def sample_report() -> dict[str, Any]:
    result = run_botistat("report", "sample_logs", "--by", "user_id", "-f", "json")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


class TestColours:
    def test_report_tables_are_coloured_on_a_terminal(self) -> None:
        code, shown = run_on_terminal("report", "sample_logs")
        assert code == 0
        assert STYLE.search(shown)
        assert "╭" in shown

    @pytest.mark.parametrize("command", [["report", "sample_logs"], ["report", "--help"]])
    def test_no_color_means_no_style_at_all(self, command: list[str]) -> None:
        code, shown = run_on_terminal(*command, env={"NO_COLOR": "1"})
        assert code == 0
        assert not STYLE.search(shown), STYLE.search(shown)
        assert "╭" in shown  # still drawn for a terminal, only without colour

    def test_check_table_honours_no_color(self) -> None:
        args = ("check", "sample_logs", "-t", "errors.rate < 2%")
        code, coloured = run_on_terminal(*args)
        assert code == 1
        assert STYLE.search(coloured)
        code, plain = run_on_terminal(*args, env={"NO_COLOR": "1"})
        assert code == 1
        assert not STYLE.search(plain)
        assert "FAIL" in plain

    def test_dumb_terminal_gets_no_colour(self) -> None:
        code, shown = run_on_terminal("report", "sample_logs", env={"TERM": "dumb"})
        assert code == 0
        assert not STYLE.search(shown)

    def test_force_color_colours_a_pipe_and_no_color_wins(self) -> None:
        args = ("report", "sample_logs", "-f", "table")
        forced = run_botistat(*args, env={"NO_COLOR": "", "FORCE_COLOR": "1"})
        assert STYLE.search(forced.stdout.decode())
        both = run_botistat(*args, env={"NO_COLOR": "1", "FORCE_COLOR": "1"})
        assert not STYLE.search(both.stdout.decode())

    def test_watch_live_view_honours_no_color(self, tmp_path: Path) -> None:
        log = write_jsonl(
            tmp_path / "live.jsonl",
            [{"timestamp": time.time(), "role": "user", "conversation_id": "c"}],
        )
        args = ("watch", str(log), "--poll", "0.1")
        code, shown = run_on_terminal(*args, until="Recent alerts", env={"NO_COLOR": "1"})
        assert code == 130
        assert "open conversations" in shown
        assert not STYLE.search(shown), STYLE.search(shown)
        code, coloured = run_on_terminal(*args, until="Recent alerts")
        assert code == 130
        assert STYLE.search(coloured)


class TestWidths:
    def test_narrow_terminal_cuts_no_number(self, sample_report: dict[str, Any]) -> None:
        code, shown = run_on_terminal(
            "report", "sample_logs", "--by", "user_id", columns=60, env=PLAIN
        )
        assert code == 0
        tables = shown[shown.index("Messages") : shown.index("Read 9 file(s)")]
        assert all(len(line) <= 60 for line in tables.splitlines()), tables
        assert not CUT_NUMBER.search(tables)
        tokens = sample_report["tokens"]
        for value in (tokens["prompt"], tokens["total"], sample_report["messages"]["total"]):
            assert f"{value:,}" in tables
        assert f"{sample_report['response_ms']['p99']:,.1f}" in tables
        # Every group is named whole (the first column keeps its words whole).
        for group in sample_report["groups"]:
            assert re.search(rf"│ {re.escape(group['key'])} +│", tables), group["key"]
        # What did not fit is said, not cut.
        assert "Hidden at this width: User, Bot, p50 ms, Tokens" in " ".join(tables.split())

    def test_one_row_tables_turn_on_their_side(self, sample_report: dict[str, Any]) -> None:
        _, shown = run_on_terminal("report", "sample_logs", columns=60, env=PLAIN)
        tokens = shown[shown.index("Tokens\n") : shown.index("Cost")]
        assert re.search(r"│ Prompt +│ +1,321,835 │", tokens), tokens

    def test_wide_enough_terminal_shows_every_column(self) -> None:
        _, shown = run_on_terminal(
            "report", "sample_logs", "--by", "user_id", columns=200, env=PLAIN
        )
        assert "Hidden at this width" not in shown
        assert "│ Avg reply ms │" in shown

    def test_piped_table_is_as_wide_as_its_content(self, sample_report: dict[str, Any]) -> None:
        result = run_botistat("report", "sample_logs", "--by", "user_id", "-f", "table")
        assert result.returncode == 0
        text = result.stdout.decode()
        assert "+-----" in text  # ASCII rules: no terminal to draw boxes on
        assert not CUT_NUMBER.search(text)
        assert "Hidden at this width" not in text
        spikes = text[text.index("\nSpikes\n") : text.index("\nBy user_id\n")]
        for spike in sample_report["spikes"]:
            assert f"{spike['tokens']:,}" in spikes
        for group in sample_report["groups"]:
            assert f"| {group['key']} " in text
            for spike in group["spikes"]:
                assert f"user_id={group['key']} " in spikes
                assert f"{spike['tokens']:,} " in spikes
