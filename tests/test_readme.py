"""The README's promises: its first commands, and options that match ``--help``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
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


@dataclass(frozen=True)
class Example:
    """What a README example needs: the exit code it ends with and the files it writes, or
    why it cannot run here."""

    code: int = 0
    writes: tuple[str, ...] = ()
    #: Runs after the lines before it in its block (they leave what it reads).
    after_previous: bool = False
    skip: str = ""


LIVE = "follows the logs live until it is stopped"
SMTP = "sends mail: needs a real SMTP server"
CLUSTER = "needs a Dask cluster on other machines (tests/test_dask_engine.py starts one)"
BUCKET = "needs a bucket and its credentials (tests/test_remote_inputs.py uses a local S3)"
#: Every example command of the README's usage sections, as written. A new one fails
#: test_every_example_is_classified until it is added here.
EXAMPLES = {
    "botistat report logs/": Example(),
    "botistat report 'logs/2026-11-*/*.jsonl.gz'": Example(),
    "zcat today.jsonl.gz | botistat report -": Example(),
    "botistat report logs/ --since 7d --by bot_id": Example(),
    "botistat report logs/ --since 2026-11-01 --until 2026-11-08 --format markdown -o week.md": (
        Example(writes=("week.md",))
    ),
    "botistat report logs/ --cache cache/ -o report.json": Example(writes=("report.json",)),
    "botistat cache info cache/": Example(after_previous=True),
    "botistat cache clear cache/": Example(after_previous=True),
    # The sample logs' error rate is 4.72%: the gate fails, as documented (exit 1).
    "botistat check logs/ -t 'errors.rate < 2%' -t 'response_ms.p95 < 3s'": Example(code=1),
    "botistat check logs/ --since 24h --by bot_id -t 'messages.failed <= 10' --junit checks.xml": (
        Example(writes=("checks.xml",))
    ),
    "botistat watch /var/log/chatbot/": Example(skip=LIVE),
    "botistat watch 'logs/*.jsonl' --bucket 1m --format jsonl | tee alerts.jsonl": Example(
        skip=LIVE
    ),
    "botistat watch logs/ --webhook https://hooks.slack.com/services/T000/B000/XXX": Example(
        skip="posts to a webhook: needs the network"
    ),
    "botistat watch logs/ --exec 'mail -s \"botistat alert\" oncall@example.com'": Example(
        skip=f"{LIVE}, and mails"
    ),
    "botistat email logs/ --range yesterday --compare previous --to team@example.com": Example(
        skip=SMTP
    ),
    "botistat email logs/ --range last-week --to team@example.com --subject "
    "'[bots] week: {messages} msgs'": Example(skip=SMTP),
    "botistat email logs/ --range yesterday --dry-run -o yesterday.eml": Example(
        writes=("yesterday.eml",)
    ),
    "botistat email --send-outbox": Example(skip=SMTP),
    "botistat config": Example(),
    "botistat config --preset litellm": Example(),
    "botistat --install-completion": Example(writes=("home/.bash_completions/botistat.sh",)),
    "botistat --show-completion": Example(),
    "botistat inspect gateway/calls.jsonl > botistat.yaml": Example(writes=("botistat.yaml",)),
    "botistat report gateway/": Example(after_previous=True),
    "botistat report logs/ --geoip-db ~/GeoLite2-Country.mmdb": Example(),
    "export BOTISTAT_GEOIP_DB=~/dbip-country-lite-2026-11.mmdb": Example(
        skip="sets a variable for later runs; runs nothing"
    ),
    "dask scheduler": Example(skip=CLUSTER),
    "dask worker tcp://HOST:8786 --nthreads 1": Example(skip=CLUSTER),
    "botistat report 's3://chat-logs/prod/2026-12-*/' --engine dask --scheduler tcp://HOST:8786": (
        Example(skip=CLUSTER)
    ),
    # A cluster of worker processes, started for the run.
    "botistat report logs/ --engine dask": Example(),
    "AWS_PROFILE=logs-reader botistat report s3://chat-logs/prod/2026-12-06/": Example(skip=BUCKET),
    "botistat report 'gs://chat-logs/prod/2026-12-*/*.jsonl.gz' --by model": Example(skip=BUCKET),
}


def example_blocks() -> list[list[str]]:
    """The commands of each ``sh`` block but the first (installing and testing, which CI
    runs) and those of the Development section, without their comments."""
    usage = README[README.index("## Usage") : README.index("## Development")]
    blocks = re.findall(r"```sh\n(.*?)\n```", usage, re.DOTALL)
    return [
        [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
        for block in blocks
    ]


def examples() -> list[tuple[str, list[str]]]:
    """Each example and the lines before it in its block."""
    return [(line, block[:index]) for block in example_blocks() for index, line in enumerate(block)]


def test_every_example_is_classified() -> None:
    found = [line for line, _ in examples()]
    assert [line for line in found if line not in EXAMPLES] == []
    assert [line for line in EXAMPLES if line not in found] == []


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A directory where the examples' paths exist: ``logs/`` (the sample logs), a gzip file
    for stdin, a gateway log to inspect, and a home with a GeoLite2-format database."""
    from tests.test_countries import NETWORKS, build_database

    shutil.copytree(ROOT / "sample_logs", tmp_path / "logs")
    shutil.copy(
        ROOT / "sample_logs/2026-11-19/onboarding-bot.jsonl.gz", tmp_path / "today.jsonl.gz"
    )
    (tmp_path / "gateway").mkdir()
    shutil.copy(ROOT / "sample_logs/2026-11-17/support-bot.jsonl", tmp_path / "gateway/calls.jsonl")
    home = tmp_path / "home"
    home.mkdir()
    build_database(home / "GeoLite2-Country.mmdb", "GeoLite2-Country", NETWORKS)
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "SHELL": "/bin/bash",
        "NO_COLOR": "1",
        "BOTISTAT_CONFIG_DIR": str(tmp_path / "no-user-config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        # The checkout under test, whatever botistat the virtualenv was installed from.
        "PYTHONPATH": str(ROOT),
    }
    return tmp_path, env


@pytest.mark.parametrize(("line", "before"), examples(), ids=[line for line, _ in examples()])
def test_readme_example_runs_as_written(
    line: str, before: list[str], workspace: tuple[Path, dict[str, str]]
) -> None:
    example = EXAMPLES[line]
    if example.skip:
        pytest.skip(example.skip)
    directory, env = workspace
    if example.after_previous:
        for earlier in before:
            assert run_example(earlier, directory, env).returncode == EXAMPLES[earlier].code
    result = run_example(line, directory, env)
    assert result.returncode == example.code, result.stderr
    assert "Traceback" not in result.stderr
    assert "botistat: error" not in result.stderr
    for name in example.writes:
        assert (directory / name).stat().st_size > 0, name


def run_example(
    line: str, directory: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    # Not the command alone: bash would exec it, and completion looks for the shell among
    # botistat's parent processes.
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{line}\nexit $?"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_readme_python_examples_run(tmp_path: Path) -> None:
    """Each ``python`` block of the README runs as written, from the checkout, and prints."""
    blocks = re.findall(r"```python\n(.*?)\n```", README, re.DOTALL)
    assert blocks, "README has no python example"
    for block in blocks:
        script = tmp_path / "example.py"
        script.write_text(block + "\n")
        result = subprocess.run(
            [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip(), block
