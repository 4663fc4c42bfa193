"""Config loading: discovery order, strict validation, and the example file."""

from __future__ import annotations

from pathlib import Path

import pytest

from botistat.core.config import Config, load_config, parse_config
from botistat.core.errors import ConfigError
from tests.conftest import ROOT, write_text


def test_example_config_is_valid_and_equals_the_defaults() -> None:
    example = load_config(ROOT / "config.example.yaml")
    defaults = Config()
    assert dict(example.fields) == dict(defaults.fields)
    assert dict(example.roles) == dict(defaults.roles)
    assert example.failed_statuses == defaults.failed_statuses
    assert example.timezone == defaults.timezone


def test_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user_dir = tmp_path / "home"
    monkeypatch.setenv("BOTISTAT_CONFIG_DIR", str(user_dir))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert load_config().path is None
    write_text(user_dir / "config.yaml", "timezone: Asia/Tokyo\n")
    assert load_config().timezone == "Asia/Tokyo"
    write_text(work / "botistat.yaml", "timezone: Europe/Paris\n")
    assert load_config().timezone == "Europe/Paris"
    explicit = write_text(tmp_path / "x.yaml", "timezone: UTC\n")
    assert load_config(explicit).timezone == "UTC"


def test_missing_explicit_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"field": {}}, "unknown config key 'field'"),
        ({"fields": {"tokens": "x"}}, "fields.tokens"),
        ({"fields": {"role": ""}}, "fields.role"),
        ({"fields": {"role": "a..b"}}, "dotted field path"),
        ({"fields": ["role"]}, "fields must be a mapping"),
        ({"roles": {"robot": ["r"]}}, "roles.robot"),
        ({"roles": {"user": ["x"], "bot": ["X"]}}, "both user and bot"),
        ({"failed_statuses": 3}, "failed_statuses"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"timezone": 5}, "timezone"),
        ([1, 2], "mapping"),
    ],
)
def test_invalid(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_config(data, Path("cfg.yaml"))
    assert caught.value.where == "cfg.yaml"


def test_roles_and_statuses_are_case_insensitive_and_replace_defaults() -> None:
    config = parse_config({"roles": {"user": ["Visitor"]}, "failed_statuses": ["BOUNCED"]})
    assert config.role_values() == {
        "visitor": "user",
        "bot": "bot",
        "assistant": "bot",
        "ai": "bot",
    }
    assert config.failed_statuses == ("bounced",)


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    path = write_text(tmp_path / "c.yaml", "")
    assert load_config(path).fields == Config().fields


def test_a_path_cannot_be_both_a_value_and_a_parent() -> None:
    with pytest.raises(ConfigError, match="both as a value and as the parent"):
        parse_config({"fields": {"timestamp": "usage", "prompt_tokens": "usage.in"}})


@pytest.mark.parametrize("config_preset", ["openai", None])
def test_preset_option_replaces_the_configs_preset(
    tmp_path: Path, config_preset: str | None
) -> None:
    """``--preset`` takes the place of the config's ``preset:``; the config's own fields
    still win over it, key by key."""
    from botistat.core.config import default_fields, load_settings
    from botistat.core.presets import preset_named

    lines = [f"preset: {config_preset}"] if config_preset else []
    path = write_text(
        tmp_path / "botistat.yaml", "\n".join([*lines, "fields:", "  user_id: customer", ""])
    )
    config = load_settings(path, "langfuse")
    langfuse = preset_named("langfuse")
    assert langfuse is not None
    assert config.preset == "langfuse"
    assert config.record == langfuse.shape
    assert dict(config.fields) == {**default_fields(), **langfuse.fields, "user_id": "customer"}


def test_preset_option_without_a_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botistat.core.config import load_settings
    from botistat.core.presets import preset_named

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nothing"))
    monkeypatch.delenv("BOTISTAT_CONFIG_DIR", raising=False)
    litellm = preset_named("litellm")
    assert litellm is not None
    config = load_settings(None, "litellm")
    assert (config.preset, config.record) == ("litellm", litellm.shape)
    with pytest.raises(ConfigError):
        load_settings(None, "no-such-preset")


def test_columns_a_config_fixes_for_every_record(tmp_path: Path) -> None:
    """Exchange flags and latency are fixed unless an input is exchange-shaped; the message
    id unless one is mapped, for all inputs or by a ``sources:`` rule."""
    from botistat.ingest import Source
    from botistat.ingest.scan import constant_columns

    logs = [Source(str(tmp_path / n), tmp_path / n, "jsonl", False, 0) for n in ("a", "b")]
    assert constant_columns(logs, Config()) == {
        "exchange": False,
        "latency_ms": None,
        "message_id": None,
    }
    rule = write_text(
        tmp_path / "rule.yaml",
        "sources:\n  - glob: '*b'\n    record: exchange\n    fields: {message_id: id}\n",
    )
    assert constant_columns(logs, load_config(rule)) == {}
    assert constant_columns(logs[:1], load_config(rule)) == {
        "exchange": False,
        "latency_ms": None,
        "message_id": None,
    }
    mapped = write_text(tmp_path / "mapped.yaml", "fields: {message_id: id}\n")
    assert constant_columns(logs, load_config(mapped)) == {
        "exchange": False,
        "latency_ms": None,
    }
