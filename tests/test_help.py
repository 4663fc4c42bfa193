"""``--help`` as a person reads it, and usage errors in botistat's one-line form.

The help is rendered by the real program (a subprocess) at the widths a terminal has; usage
errors are real runs, checked for their exit code and every line of stderr.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from botistat.cli import completion
from botistat.cli.app import app
from botistat.cli.parsing import reflow
from tests.conftest import invoke, run_botistat
from tests.hostile.conftest import run_hostile

COMMANDS = ("", "report", "check", "watch", "email", "inspect", "presets", "config")
#: Typer's own metavars: a Python type or a choice in angle brackets, braces around a
#: required argument.
TYPER_METAVAR = re.compile(r"<(bool|str|int|float|path|list\[|[a-z]+ range|[a-z]+\|)|\{\w+\}\.\.\.")


def help_text(command: str, columns: int) -> str:
    args = [command, "--help"] if command else ["--help"]
    result = run_botistat(*args, env={"COLUMNS": str(columns)})
    assert result.returncode == 0, result.stderr
    return result.stdout.decode()


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_no_type_metavars_and_cuts_nothing(command: str, columns: int) -> None:
    text = help_text(command, columns)
    assert not TYPER_METAVAR.search(text), TYPER_METAVAR.search(text)
    assert "…" not in text  # a word longer than its column is cut short
    assert all(len(line) <= columns for line in text.splitlines())


@pytest.mark.parametrize("command", COMMANDS)
def test_no_metavar_is_a_parameter_name(command: str) -> None:
    """Typer's default metavar is the parameter's name in capitals (``TOP_USAGE``): every
    option says what it takes instead (N, FILE, DURATION...)."""
    options = re.findall(
        r"│ (--[\w-]+)(?: +-\w)? +([A-Z][A-Z_]*_[A-Z_]+)\b", help_text(command, 120)
    )
    assert not options, options


def test_flags_have_no_metavar_and_options_the_readme_one() -> None:
    text = help_text("report", 120)
    assert re.search(r"│ --strict +Fail \(exit 2\)", text)  # the help follows the flag at once
    assert re.search(r"│ --since +T +Only records", text)
    assert re.search(r"│ --config +-c +FILE +Config file", text)
    assert re.search(r"│ --format +-f +FORMAT +table, json,", text)
    assert "Usage: botistat report [OPTIONS] PATHS..." in text


def every_command() -> list[tuple[str, typer.core.TyperCommand]]:
    group = typer.main.get_command(app)
    return [("", group), *group.commands.items()]  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", COMMANDS)
def test_no_line_break_in_the_middle_of_a_sentence(command: str) -> None:
    """Wide enough that nothing needs wrapping, every paragraph of a command's help and
    every option's help is on one line: a break there came from the source text."""
    lines = help_text(command, 1000).splitlines()
    found = dict(every_command())[command]
    texts = reflow(found.help or "").split("\n\n")
    texts += [param.help for param in found.params if getattr(param, "help", None)]
    for text in texts:
        assert any(text in line for line in lines), text


def test_command_list_shows_whole_sentences() -> None:
    lines = help_text("", 1000).splitlines()
    assert any(
        "alert on token spikes, slow replies and error surges as they happen" in line
        for line in lines
    )


def usage_error(*args: str) -> tuple[str, str]:
    """The error line and the hint line of a run that must fail as a usage error."""
    result = run_hostile(*args)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert result.stdout == b""
    lines = stderr.splitlines()
    assert len(lines) == 2, stderr
    assert lines[0].startswith("botistat: error: "), stderr
    assert lines[1].startswith("  hint: "), stderr
    return lines[0], lines[1]


def test_bad_choice_is_one_line_naming_the_option() -> None:
    error, hint = usage_error("report", "sample_logs", "--format", "xml")
    assert error == "botistat: error: invalid value 'xml' (--format)"
    assert hint == "  hint: choose one of: table, json, csv, markdown, html, text"


def test_short_option_is_named_by_its_long_name() -> None:
    error, _ = usage_error("check", "sample_logs", "-f", "yaml")
    assert error == "botistat: error: invalid value 'yaml' (--format)"
    error, _ = usage_error("check", "sample_logs", "-t")
    assert error == "botistat: error: missing value (--threshold)"


def test_unknown_option_suggests_the_close_ones() -> None:
    error, hint = usage_error("report", "sample_logs", "--formt", "json")
    assert error == "botistat: error: unknown option --formt (botistat report)"
    assert "did you mean --format?" in hint
    error, hint = usage_error("report", "sample_logs", "--bogus")
    assert hint == "  hint: see: botistat report --help"


def test_missing_argument_shows_the_usage() -> None:
    error, hint = usage_error("report")
    assert error == "botistat: error: missing PATHS (botistat report)"
    assert hint == "  hint: usage: botistat report [OPTIONS] PATHS..."


def test_bad_numbers() -> None:
    error, hint = usage_error("report", "sample_logs", "--top", "ten")
    assert error == "botistat: error: 'ten' is not a whole number (--top)"
    assert hint == "  hint: give a whole number of at least 1"
    error, hint = usage_error("report", "sample_logs", "--top", "0")
    assert error == "botistat: error: 0 is out of range (--top)"
    error, hint = usage_error("watch", "sample_logs", "--poll", "soon")
    assert error == "botistat: error: 'soon' is not a number (--poll)"
    assert hint == "  hint: give a number of at least 0.05"


def test_unknown_command_and_extra_arguments() -> None:
    error, hint = usage_error("reprt", "sample_logs")
    assert error == "botistat: error: unknown command 'reprt' (botistat)"
    assert hint.startswith("  hint: did you mean report? commands: report, check, ")
    error, _ = usage_error("presets", "extra")
    assert error == "botistat: error: unexpected argument(s): extra (botistat presets)"
    error, _ = usage_error("report", "sample_logs", "--strict=yes")
    assert error == "botistat: error: the option takes no value (--strict)"


def test_help_and_version_stay_fast_to_import() -> None:
    """``--help`` imports neither Polars nor the renderers."""
    code = (
        "import sys; from botistat.cli.app import main; sys.argv = ['botistat', 'report', "
        "'--help']\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('polars', 'botistat.render'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "80", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr


class TestCompletion:
    """``--install-completion`` and ``--show-completion``, from a real bash."""

    def run_in_bash(self, command: str, home: Path) -> subprocess.CompletedProcess[str]:
        # `; true`: bash stays the parent process, which is how the shell is detected.
        return subprocess.run(
            ["bash", "-c", f"{sys.executable} -m botistat {command}; true"],
            capture_output=True,
            text=True,
            check=False,
            env={"HOME": str(home), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
            cwd=Path(__file__).resolve().parent.parent,
            timeout=60,
        )

    def test_show_completion_prints_the_bash_script(self, tmp_path: Path) -> None:
        result = self.run_in_bash("--show-completion", tmp_path)
        assert "_BOTISTAT_COMPLETE=complete_bash" in result.stdout, result.stderr
        assert "complete -o default -F _botistat_completion botistat" in result.stdout

    def test_install_completion_writes_the_script_and_sources_it(self, tmp_path: Path) -> None:
        result = self.run_in_bash("--install-completion", tmp_path)
        assert "bash completion installed" in result.stdout, result.stderr
        script = tmp_path / ".bash_completions" / "botistat.sh"
        assert "_BOTISTAT_COMPLETE" in script.read_text()
        assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()

    def test_completion_completes_commands_and_options(self) -> None:
        completed = run_botistat(
            env={
                "_BOTISTAT_COMPLETE": "complete_bash",
                "COMP_WORDS": "botistat rep",
                "COMP_CWORD": "1",
            }
        )
        assert completed.stdout.decode().split() == ["report"]
        completed = run_botistat(
            env={
                "_BOTISTAT_COMPLETE": "complete_bash",
                "COMP_WORDS": "botistat report --for",
                "COMP_CWORD": "2",
            }
        )
        assert completed.stdout.decode().split() == ["--format"]

    @pytest.mark.parametrize(
        ("shell", "error"),
        [
            (None, "cannot tell which shell this is (--show-completion)"),
            ("tcsh", "no completion for the tcsh shell (--show-completion)"),
        ],
    )
    def test_a_shell_without_completion_is_one_line(
        self, cli: CliRunner, monkeypatch: pytest.MonkeyPatch, shell: str | None, error: str
    ) -> None:
        # Which shell runs these tests cannot be chosen from here (shells up the process
        # tree are found): the detection is replaced.
        monkeypatch.setattr(completion, "current_shell", lambda: shell)
        result = invoke(cli, "--show-completion")
        assert result.exit_code == 2
        assert result.stderr.splitlines()[0] == f"botistat: error: {error}"
        assert result.stderr.splitlines()[1].startswith("  hint: ")
        assert result.stdout == ""

    def test_shell_from_environment_when_not_detected(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import shellingham  # type: ignore[import-untyped]

        def undetected() -> tuple[str, str]:
            raise shellingham.ShellDetectionFailure

        monkeypatch.setattr(shellingham, "detect_shell", undetected)
        monkeypatch.setenv("SHELL", "/usr/local/bin/zsh")
        assert completion.current_shell() == "zsh"
        monkeypatch.delenv("SHELL")
        assert completion.current_shell() is None
