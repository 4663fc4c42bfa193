"""The library API: ``import botistat`` builds the same report as the command, prints nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import botistat
from tests.conftest import ROOT, run_botistat, write_jsonl


def test_build_report_equals_the_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # file names in the report are as given
    report = botistat.build_report([Path("sample_logs")], since="2026-11-18", by="bot_id")
    document = botistat.report_document(report)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # a library call prints nothing

    command = run_botistat(
        "report", "sample_logs", "--since", "2026-11-18", "--by", "bot_id", "-f", "json"
    )
    assert command.returncode == 0, command.stderr
    expected = json.loads(command.stdout)
    assert json.loads(json.dumps(document)) == expected
    assert report.metrics.messages.total == expected["messages"]["total"] > 0


def test_config_as_a_path_an_object_or_none(tmp_path: Path) -> None:
    logs = write_jsonl(
        tmp_path / "x.jsonl",
        [{"when": "2026-11-19T10:00:00Z", "who": "user", "conversation_id": "c"}],
    )
    config = tmp_path / "cfg.yaml"
    config.write_text("fields:\n  timestamp: when\n  role: who\n")
    assert botistat.build_report([logs], config).metrics.messages.user == 1
    assert botistat.build_report([logs], botistat.load_config(config)).input.records == 1
    # Without a config the default field names apply: "when" is not a timestamp.
    with pytest.raises(botistat.BotistatError, match="timestamp"):
        botistat.build_report([logs])


def test_user_errors_are_raised_not_printed() -> None:
    with pytest.raises(botistat.BotistatError) as raised:
        botistat.build_report(["/nonexistent/logs"])
    assert raised.value.where == "/nonexistent/logs"


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError):
        _ = botistat.no_such_thing  # type: ignore[attr-defined]


def test_build_report_through_a_cache(tmp_path: Path) -> None:
    """A cache kept by the library gives the plain numbers, cold and warm; one that cannot
    be used is a warning, never a wrong number."""
    sample = ROOT / "sample_logs"
    plain = botistat.report_document(botistat.build_report([sample]))
    cache = tmp_path / "cache"
    for _ in ("cold", "warm"):
        cached = botistat.build_report([sample], cache=cache)
        assert botistat.report_document(cached) == plain
    assert any(cache.iterdir())
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    with pytest.warns(UserWarning, match="cache"):
        unusable = botistat.build_report([sample], cache=blocked)
    assert botistat.report_document(unusable) == plain
