"""``watch --replay`` and ``report`` run on one metric core: for any records, however split into
files and however the report runs (in memory or spilled to partitions), the numbers agree.

The property test feeds random records through both; the named tests are the disagreements
found before they shared the core (each failed then).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botistat.core.config import Config, parse_config
from botistat.core.model import CountrySourceInfo, Report
from botistat.engine.local import report_from_scan
from botistat.ingest import resolve_sources, scan_sources
from botistat.report.options import ReportOptions, SpikeOptions
from botistat.watch.monitor import MonitorSettings
from botistat.watch.replay import replay
from tests.conftest import run_botistat, write_jsonl

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BUCKET = 60
WINDOW = 6


class NoLookup:
    info = CountrySourceInfo(kind="none", name="test")

    def lookup(self, addresses: Sequence[str]) -> list[str | None]:
        return [None] * len(addresses)


def report(paths: list[Path], config: Config, partitions: int, min_tokens: float) -> Report:
    scan = scan_sources(resolve_sources([str(p) for p in paths]), config)
    spikes = SpikeOptions(bucket_seconds=BUCKET, window=WINDOW, min_tokens=min_tokens)
    options = ReportOptions(
        partitions=partitions, spikes=spikes, merge_messages=config.merges_messages
    )
    return report_from_scan(scan, options, NoLookup())


def replayed(paths: list[Path], config: Config, min_tokens: float) -> list[dict[str, Any]]:
    monitor = MonitorSettings(
        bucket_seconds=BUCKET,
        window=WINDOW,
        min_tokens=min_tokens,
        min_cost=10**9,  # cost spikes are watch's own; the report has none to compare
        cooldown=1,  # a run of spike buckets ends at the first calm one, as in a report
        merge_messages=config.merges_messages,
    )
    run = replay([str(p) for p in paths], config, monitor)
    return [item.document() for item in run.items]


def rounded(value: float | None) -> float | None:
    """Floats to what both sides compute exactly alike (the order of a sum may differ)."""
    return None if value is None else round(value, 6)


def timeline(result: Report) -> list[tuple[Any, ...]]:
    return [
        (p.start, p.messages, p.tokens, p.replies, rounded(p.p95_ms), rounded(p.error_rate))
        for p in result.timeline
    ]


def buckets(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            datetime.fromisoformat(e["bucket_start"]),
            e["messages"],
            e["tokens"],
            e["replies"],
            rounded(e["p95_ms"]),
            rounded(e["error_rate"]),
        )
        for e in events
        if e["event"] == "bucket"
    ]


def spike_starts(result: Report) -> list[tuple[str, datetime]]:
    return sorted((s.metric, s.start) for s in result.metrics.spikes)


def alert_starts(events: list[dict[str, Any]]) -> list[tuple[str, datetime]]:
    return sorted(
        (e["metric"], datetime.fromisoformat(e["bucket_start"]))
        for e in events
        if e["event"] == "spike"
    )


def assert_agree(paths: list[Path], config: Config, min_tokens: float = 0.0) -> Report:
    events = replayed(paths, config, min_tokens)
    in_memory = report(paths, config, 0, min_tokens)
    spilled = report(paths, config, 3, min_tokens)
    for result in (in_memory, spilled):
        assert buckets(events) == timeline(result)
        assert alert_starts(events) == spike_starts(result)
    total = sum(e["tokens"] for e in events if e["event"] == "bucket")
    assert total == in_memory.metrics.tokens.total
    replies = sum(e["replies"] for e in events if e["event"] == "bucket")
    assert replies == in_memory.metrics.response_ms.count
    return in_memory


# ------------------------------------------------------------------- any records, any split

record_strategy = st.fixed_dictionaries(
    {
        "second": st.integers(0, 20 * BUCKET),
        "conversation": st.sampled_from(["a", "b", "c", "d", "e"]),
        "role": st.sampled_from(["user", "user", "bot", "bot", "system"]),
        "status": st.sampled_from(["ok", "ok", "ok", "failed"]),
        "error": st.sampled_from([None, None, None, "rate_limit"]),
        "tokens": st.one_of(st.none(), st.integers(0, 5000)),
        "message": st.one_of(st.none(), st.sampled_from(["m1", "m2", "m3"])),
        "file": st.integers(0, 2),
    }
)


def write_records(directory: Path, records: list[dict[str, Any]], ids: bool) -> list[Path]:
    files: dict[int, list[dict[str, Any]]] = {}
    for index, each in enumerate(records):
        line: dict[str, Any] = {
            # Milliseconds make ties rare but possible.
            "timestamp": (START + timedelta(seconds=each["second"], milliseconds=index % 3))
            .isoformat()
            .replace("+00:00", "Z"),
            "conversation_id": each["conversation"],
            "role": each["role"],
            "status": each["status"],
            "model": "m",
            "bot_id": f"bot-{each['file']}",
        }
        if each["error"]:
            line["error"] = each["error"]
        if each["tokens"] is not None:
            line["total_tokens"] = each["tokens"]
        if ids and each["message"] and each["role"] == "bot":
            line["msg"] = f"{each['conversation']}-{each['message']}"
        files.setdefault(each["file"], []).append(line)
    return [write_jsonl(directory / f"part-{n}.jsonl", rows) for n, rows in sorted(files.items())]


@given(
    records=st.lists(record_strategy, min_size=1, max_size=120),
    ids=st.booleans(),
    min_tokens=st.sampled_from([0.0, 2000.0]),
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_replay_and_report_agree_on_any_records(
    tmp_path_factory: pytest.TempPathFactory,
    records: list[dict[str, Any]],
    ids: bool,
    min_tokens: float,
) -> None:
    directory = tmp_path_factory.mktemp("logs")
    # In time order within each file, as logs are written.
    ordered = sorted(records, key=lambda each: each["second"])
    paths = write_records(directory, ordered, ids)
    config = parse_config({"fields": {"message_id": "msg"}}) if ids else Config()
    assert_agree(paths, config, min_tokens)


# ------------------------------------------------------------ the disagreements, one by one


def test_a_response_logged_three_times_under_one_message_id(tmp_path: Path) -> None:
    """Streaming SDKs log one response several times: report and watch count it once."""
    at = START.isoformat().replace("+00:00", "Z")
    rows = [{"timestamp": at, "conversation_id": "c", "role": "user"}] + [
        {"timestamp": at, "conversation_id": "c", "role": "bot", "msg": "r1", "total_tokens": n}
        for n in (500, 1000, 1500)
    ]
    path = write_jsonl(tmp_path / "x.jsonl", rows)
    config = parse_config({"fields": {"message_id": "msg"}})
    result = assert_agree([path], config)
    assert result.metrics.tokens.total == 1500


def test_user_and_bot_lines_in_two_files(tmp_path: Path) -> None:
    """One conversation's user lines in one file and its bot lines in another: 5 replies."""
    users, bots = [], []
    for turn in range(5):
        at = START + timedelta(seconds=10 * turn)
        users.append({"timestamp": at.isoformat(), "conversation_id": "c", "role": "user"})
        reply = (at + timedelta(seconds=2)).isoformat()
        bots.append({"timestamp": reply, "conversation_id": "c", "role": "bot"})
    paths = [
        write_jsonl(tmp_path / "users.jsonl", users),
        write_jsonl(tmp_path / "bots.jsonl", bots),
    ]
    result = assert_agree(paths, Config())
    assert result.metrics.response_ms.count == 5


def test_a_p95_series_with_gaps(tmp_path: Path) -> None:
    """Buckets with too few replies have no p95: the history skips them (it does not count
    them against the window), in watch as in the report, so a slow bucket after a quiet
    stretch is flagged by both."""
    rows: list[dict[str, Any]] = []

    def replies_at(minute: int, seconds: float, count: int = 5) -> None:
        for n in range(count):
            at = START + timedelta(minutes=minute, seconds=n * 5)
            conversation = f"m{minute}-{n}"
            rows.append(
                {"timestamp": at.isoformat(), "conversation_id": conversation, "role": "user"}
            )
            reply = at + timedelta(seconds=seconds)
            rows.append(
                {"timestamp": reply.isoformat(), "conversation_id": conversation, "role": "bot"}
            )

    for minute in range(0, 2 * WINDOW, 2):  # every other bucket has replies: gaps between
        replies_at(minute, 1.0 + 0.1 * (minute % 3))
    replies_at(2 * WINDOW + 1, 20.0)  # then a slow one
    path = write_jsonl(tmp_path / "x.jsonl", sorted(rows, key=lambda r: r["timestamp"]))
    result = assert_agree([path], Config())
    assert [s.metric for s in result.metrics.spikes] == ["response_ms.p95"]


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    at = START.isoformat()
    write_jsonl(logs / "x.jsonl", [{"timestamp": at, "role": "user", "total_tokens": 7}])
    result = run_botistat(
        "watch", str(logs), str(logs / "x.jsonl"), "--replay", "-f", "jsonl", "--bucket", "1m"
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["tokens"] for line in lines if line["event"] == "bucket"] == [7]


def test_a_followed_file_named_twice_is_followed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``watch logs /abs/logs/x.jsonl`` follows x once, as a report reads it once (both
    spellings of the file were followed, and each appended line counted twice)."""
    from botistat.ingest.follow import Follower

    monkeypatch.chdir(tmp_path)
    log = write_jsonl(tmp_path / "logs" / "x.jsonl", [{"timestamp": START.isoformat()}])
    follower = Follower(["logs", "logs/x.jsonl", str(log.resolve())])
    try:
        follower.start()
        assert follower.paths == [Path("logs/x.jsonl")]
        with log.open("a") as handle:
            handle.write('{"timestamp": "2026-11-20T09:00:01Z"}\n')
        assert [chunk.data.count(b"\n") for chunk in follower.poll()] == [1]
    finally:
        follower.close()


def test_an_id_in_two_conversations_is_two_messages(tmp_path: Path) -> None:
    """Ids numbered per conversation (``r1`` in a and in b) are two messages, in memory,
    spilled (where a and b may fall in different partitions) and in a replay."""
    at = START.isoformat().replace("+00:00", "Z")
    rows = [
        {"timestamp": at, "conversation_id": name, "role": role, "msg": msg, "total_tokens": n}
        for name, tokens in (("a", (500, 700)), ("b", (300,)))
        for role, msg, n in [("user", None, None), *(("bot", "r1", n) for n in tokens)]
    ]
    path = write_jsonl(tmp_path / "x.jsonl", rows)
    config = parse_config({"fields": {"message_id": "msg"}})
    result = assert_agree([path], config)
    assert result.metrics.tokens.total == 700 + 300
    assert result.input.merged == 1
    assert result.metrics.messages.total == 4
