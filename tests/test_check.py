"""``botistat check`` as CI runs it: a real subprocess, exit codes, outputs, JUnit, GitHub.

The logs: bot "fast" answers 10 user messages in 1 s each, one reply with an API error
(error rate 10%); bot "slow" answers 10 in 3 s each with no error. Overall: 20 replies,
p95 3000 ms, error rate 1/20 = 5%.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import given
from hypothesis import strategies as st

from botistat.core.errors import ConfigError
from botistat.report.thresholds import parse_threshold
from tests.conftest import run_botistat, write_jsonl, write_text


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    records: list[dict[str, Any]] = []
    for bot, delay in (("fast", 1), ("slow", 3)):
        for i in range(10):
            conversation = f"{bot}-{i}"
            start = 1_763_546_400 + i * 60
            records.append(
                {"timestamp": start, "role": "user", "conversation_id": conversation, "bot_id": bot}
            )
            reply = {
                "timestamp": start + delay,
                "role": "assistant",
                "conversation_id": conversation,
                "bot_id": bot,
                "total_tokens": 100,
            }
            if bot == "fast" and i == 0:
                reply["error"] = True
            records.append(reply)
    return write_jsonl(tmp_path_factory.mktemp("check") / "logs.jsonl", records)


def check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = run_botistat("check", *args, env=env)
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def test_all_pass(logs: Path) -> None:
    result = check(str(logs), "-t", "errors.rate < 6%", "-t", "response_ms.p95 <= 3s")
    assert result.returncode == 0, result.stderr
    assert "all thresholds hold" in result.stdout
    assert result.stdout.count("pass") == 2


def test_one_breach(logs: Path) -> None:
    result = check(str(logs), "-t", "errors.rate < 2%", "-t", "messages.total == 40")
    assert result.returncode == 1
    assert "1 check(s) failed" in result.stdout
    line = next(line for line in result.stdout.splitlines() if "errors.rate < 2%" in line)
    assert "5.00%" in line and "FAIL" in line and "over by 3.00 pp" in line


def test_breaches_across_groups(logs: Path) -> None:
    result = check(
        str(logs),
        "--by",
        "bot_id",
        "-t",
        "errors.rate < 5%",
        "-t",
        "response_ms.p50 < 2000ms",
        "--format",
        "json",
    )
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    failed = {(c["threshold"], c["group"]) for c in doc["checks"] if c["status"] == "fail"}
    assert failed == {("errors.rate < 5%", "fast"), ("response_ms.p50 < 2000ms", "slow")}
    assert doc["failures"] == 2
    assert doc["passed"] is False
    slow = next(
        c for c in doc["checks"] if c["group"] == "slow" and c["metric"] == "response_ms.p50"
    )
    assert slow["actual"] == 3000.0
    assert slow["margin"] == 1000.0


def test_bad_expression_points_at_the_bad_part(logs: Path) -> None:
    result = check(str(logs), "-t", "errors.rate =< 2%")
    assert result.returncode == 2
    assert result.stderr.startswith("botistat: error: cannot parse threshold 'errors.rate =< 2%'")
    assert "column 13" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unknown_metric_lists_names_and_suggests(logs: Path) -> None:
    result = check(str(logs), "-t", "response.p95 < 3s")
    assert result.returncode == 2
    assert "unknown metric 'response.p95'" in result.stderr
    assert "did you mean 'response_ms.p95'?" in result.stderr
    assert "errors.rate" in result.stderr and "tokens.error" in result.stderr


def test_no_data_fails_unless_allowed(logs: Path) -> None:
    # A percentile has no value without records (a count would be 0, and judged).
    later = ["--since", "2030-01-01", "-t", "response_ms.p95 < 3s"]
    result = check(str(logs), *later)
    assert result.returncode == 1
    assert "no data" in result.stdout
    allowed = check(str(logs), *later, "--allow-empty")
    assert allowed.returncode == 0
    assert "no data" in allowed.stdout


def test_no_data_for_one_metric(tmp_path: Path) -> None:
    only_users = write_jsonl(
        tmp_path / "u.jsonl", [{"timestamp": 1_763_546_400, "role": "user", "conversation_id": "x"}]
    )
    result = check(str(only_users), "-t", "response_ms.p95 < 1s", "-t", "messages.user == 1")
    assert result.returncode == 1
    assert check(str(only_users), "-t", "errors.rate < 1%", "--allow-empty").returncode == 0


def test_thresholds_from_config(logs: Path, tmp_path: Path) -> None:
    config = write_text(
        tmp_path / "botistat.yaml",
        "thresholds:\n  - errors.rate < 10%\n  - tokens.total <= 2k\n",
    )
    assert check(str(logs), "-c", str(config)).returncode == 0
    stricter = check(str(logs), "-c", str(config), "-t", "tokens.error < 50")
    assert stricter.returncode == 1
    assert "tokens.error < 50" in stricter.stdout
    bad = write_text(tmp_path / "bad.yaml", "thresholds:\n  - errors.rate < two\n")
    result = check(str(logs), "-c", str(bad))
    assert result.returncode == 2
    assert str(bad) in result.stderr


def test_no_thresholds_is_a_usage_error(logs: Path) -> None:
    result = check(str(logs))
    assert result.returncode == 2
    assert "no thresholds" in result.stderr


def test_junit_file(logs: Path, tmp_path: Path) -> None:
    junit = tmp_path / "report.xml"
    result = check(
        str(logs),
        "--by",
        "bot_id",
        "-t",
        "errors.rate < 5%",
        "-t",
        "tokens.total > 0",
        "--junit",
        str(junit),
    )
    assert result.returncode == 1
    root = ElementTree.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "4"
    assert suite.get("failures") == "1"
    cases = suite.findall("testcase")
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["errors.rate < 5% [bot_id=fast]"]


def test_github_actions_annotations_and_summary(logs: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    result = check(str(logs), "-t", "errors.rate < 2%", "-t", "messages.total > 1", env=env)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("::error")]
    assert errors == [
        "::error title=botistat check::errors.rate < 2%25 failed: actual 5.00%25 over by 3.00 pp"
    ]
    text = summary.read_text()
    assert text.startswith("earlier step\n### ❌ botistat check: 1 check(s) failed")
    assert "| errors.rate < 2% | (all) | 5.00% | FAIL | over by 3.00 pp |" in text


@pytest.mark.parametrize(
    ("text", "metric", "op", "value"),
    [
        ("errors.rate < 2%", "errors.rate", "<", 0.02),
        ("response_ms.p95<3s", "response_ms.p95", "<", 3000.0),
        ("response_ms.p99 <= 1.5m", "response_ms.p99", "<=", 90_000.0),
        ("response_ms.avg != 250ms", "response_ms.avg", "!=", 250.0),
        ("tokens.total >= 1.2M", "tokens.total", ">=", 1_200_000.0),
        ("messages.failed == 0", "messages.failed", "==", 0.0),
        ("  input.skipped > 3 ", "input.skipped", ">", 3.0),
    ],
)
def test_parse(text: str, metric: str, op: str, value: float) -> None:
    threshold = parse_threshold(text)
    assert (threshold.metric, threshold.op) == (metric, op)
    assert threshold.value == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tokens.total < 3s", "not in milliseconds"),
        ("messages.total < 5%", "only applies to rates"),
        ("errors.rate", "expected one of"),
        ("errors.rate <", "expected a number"),
        ("< 5", "must start with a metric"),
        ("errors.rate < 5 apples", "not a number"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_threshold(text)


@given(
    st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.sampled_from(["", "ms", "s", "m", "h"]),
)
def test_units_scale_to_milliseconds(op: str, number: float, unit: str) -> None:
    threshold = parse_threshold(f"response_ms.max {op} {number!r}{unit}")
    scale = {"": 1, "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}[unit]
    assert threshold.value == pytest.approx(number * scale)
    assert threshold.holds(threshold.value) == (op in ("<=", ">=", "=="))
