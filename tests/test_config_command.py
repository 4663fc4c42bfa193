"""``botistat config``: the settings in effect, where they came from, and never a password."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from botistat.core.config import Config, load_config, parse_config
from botistat.report.options import SpikeOptions
from tests.conftest import run_botistat, write_text
from tests.hostile.conftest import run_hostile

CONFIG = """\
preset: nested-messages
fields: {channel: meta.source}
roles: {user: [user, visitor]}
timezone: Europe/Berlin
thresholds: ["errors.rate < 2%"]
spikes: {bucket: 5m, window: 0}
email:
  host: smtp.example.com
  password_env: TEST_SMTP_PASSWORD
  to: [team@example.com]
sources:
  - glob: "gateway/*.jsonl"
    preset: litellm
prices:
  "ft:gpt-4o-mini:*": {input: 0.3, output: 1.2}
  "*": {input: 1, output: 2}
"""
SECRET = "hunter2-never-printed"


def show_config(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    result = run_hostile(
        "config", *args, cwd=cwd, env={"BOTISTAT_CONFIG_DIR": str(cwd / "user"), **(env or {})}
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    return result


def plain(value: Any) -> Any:
    """Mappings and tuples as dicts and lists, to compare."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    return value


def same_settings(shown: Config, original: Config) -> None:
    """What a command would do with ``shown`` is what it does with ``original``."""
    names = ("fields", "roles", "failed_statuses", "timezone", "thresholds", "record", "preset")
    for name in (*names, "prices"):
        assert plain(getattr(shown, name)) == plain(getattr(original, name)), name
    assert [(r.glob, dict(r.fields), r.record) for r in shown.sources] == [
        (r.glob, dict(r.fields), r.record) for r in original.sources
    ]
    # Unset spike settings are written with the value a command uses for them.
    window = SpikeOptions().window if original.spikes.window is None else original.spikes.window
    assert (shown.spikes.bucket, shown.spikes.window) == (original.spikes.bucket, window)
    for name in ("host", "to", "password_env", "security"):
        assert getattr(shown.email, name) == getattr(original.email, name), name


def test_defaults_say_where_a_config_was_looked_for(tmp_path: Path) -> None:
    text = show_config(cwd=tmp_path).stdout.decode()
    first = text.splitlines()[0]
    assert first == (
        f"# defaults, no config file found (looked at {tmp_path / 'botistat.yaml'}, "
        f"{tmp_path / 'user' / 'config.yaml'})"
    )
    assert "a known log format is detected" in text
    shown = parse_config(yaml.safe_load(text))
    same_settings(shown, Config())
    assert "window: 24  # default" in text
    assert "# host: not set" in text


def test_a_config_file_applied_with_its_preset_and_rules(tmp_path: Path) -> None:
    config = write_text(tmp_path / "settings.yaml", CONFIG)
    result = show_config("-c", str(config), cwd=tmp_path, env={"TEST_SMTP_PASSWORD": SECRET})
    text = result.stdout.decode()
    assert text.splitlines()[0] == f"# from {config}"
    assert SECRET.encode() not in result.stdout
    assert "password_env: TEST_SMTP_PASSWORD  # set in this environment" in text
    original = load_config(config)
    # The preset's mapping and the rule's are written out, field by field.
    assert "  conversation_id: conversationId" in text
    assert "  channel: meta.source" in text
    assert "  record: exchange" in text
    dumped = write_text(tmp_path / "dumped.yaml", text)
    same_settings(load_config(dumped), original)
    # Read back, it says the same (the defaults it filled in are now set).
    again = show_config(
        "-c", str(dumped), cwd=tmp_path, env={"TEST_SMTP_PASSWORD": SECRET}
    ).stdout.decode()
    assert again.splitlines()[1:] == [
        line.split("  # default")[0] for line in text.splitlines()[1:]
    ]


def test_the_config_in_the_working_directory_and_preset_option(tmp_path: Path) -> None:
    write_text(tmp_path / "botistat.yaml", "timezone: Asia/Tokyo\n")
    text = show_config("--preset", "openai", cwd=tmp_path).stdout.decode()
    assert text.splitlines()[:2] == [
        f"# from {tmp_path / 'botistat.yaml'}",
        "# --preset openai replaces the config's preset:",
    ]
    assert "timezone: Asia/Tokyo" in text
    assert "preset: openai" in text
    assert "record: exchange" in text


def test_password_env_not_set_is_said(tmp_path: Path) -> None:
    config = write_text(tmp_path / "c.yaml", "email: {password_env: TEST_UNSET_PASSWORD}\n")
    text = show_config("-c", str(config), cwd=tmp_path).stdout.decode()
    assert "password_env: TEST_UNSET_PASSWORD  # NOT set in this environment" in text


def test_missing_or_bad_config_is_one_line(tmp_path: Path) -> None:
    result = run_botistat("config", "-c", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.decode().splitlines()
    assert lines[0] == f"botistat: error: config file not found ({tmp_path / 'nope.yaml'})"
    bad = write_text(tmp_path / "bad.yaml", "timezon: UTC\n")
    result = run_botistat("config", "-c", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert b"unknown config key 'timezon'" in result.stderr
