"""The README's promises: its first commands, and options that match ``--help``."""

from __future__ import annotations

import json
import re

import typer

from botistat.cli.app import app
from tests.conftest import ROOT, run_botistat

README = (ROOT / "README.md").read_text()


def first_commands() -> list[str]:
    match = re.search(r"```sh\n(.*?)\n```", README, re.DOTALL)
    assert match, "README has no sh block"
    return match.group(1).splitlines()


def test_readme_starts_with_install_and_test_commands() -> None:
    assert README.index("```sh") < 20, "the commands must come first"
    install, tests = first_commands()
    assert "pip install" in install
    assert install.endswith("botistat report sample_logs/")
    assert "pytest" in tests


def test_readme_report_command_works_on_the_sample_logs() -> None:
    result = run_botistat("report", "sample_logs/")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["messages"]["total"] > 0
    assert doc["input"]["skipped"] > 0  # the sample has a few malformed lines on purpose
    assert b"Traceback" not in result.stderr


def test_every_option_is_documented() -> None:
    command = typer.main.get_command(app)
    for name, sub in command.commands.items():  # type: ignore[attr-defined]
        assert f"botistat {name}" in README, f"command {name} is not in the README"
        for param in sub.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert f"`{opt}" in README, f"{name} {opt} is not in the README"


def test_ci_runs_the_readme_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "README.md" in ci
    for tool in ("ruff check", "ruff format --check", "mypy botistat"):
        assert tool in ci
