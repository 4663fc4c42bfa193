"""Kept partial results of finished conversations (``botistat.engine.cache.settled``): a
cached run uses them only where they are exact, so every number equals a plain run's."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botistat.engine.cache import inputs as cache_inputs
from botistat.engine.cache import settled
from botistat.engine.cache.settled import INDEX
from tests.test_cache import agrees, report

START = datetime(2026, 11, 17, tzinfo=UTC)
HOUR = 3600


def message(second: int, conversation: str, turn: int, **extra: Any) -> str:
    user = turn % 2 == 0
    values: dict[str, Any] = {
        "timestamp": (START + timedelta(seconds=second)).isoformat().replace("+00:00", "Z"),
        "conversation_id": conversation,
        "role": "user" if user else "assistant",
        "user_id": f"u{conversation[-1]}",
        "bot_id": f"b{len(conversation) % 2}",
        "model": "gpt-4o-mini" if turn % 3 else "gpt-4o",
    }
    if user:
        values["ip"] = f"{81 + len(conversation) % 3}.{turn}.1.1"
    else:
        values |= {"prompt_tokens": 100 + second % 97, "completion_tokens": 10 + turn}
        if second % 7 == 0:
            values["status"] = "failed"
    return json.dumps(values | extra) + "\n"


def conversation(name: str, start: int, turns: int = 4, gap: int = 20) -> list[tuple[int, str]]:
    """A conversation's records as (second, line)."""
    return [(start + i * gap, message(start + i * gap, name, i)) for i in range(turns)]


def lines(records: list[tuple[int, str]]) -> str:
    return "".join(line for _, line in sorted(records, key=lambda r: r[0]))


def pieces(cache: Path) -> list[dict[str, Any]]:
    data = json.loads((cache / INDEX).read_text())
    return [piece for state in data["keys"].values() for piece in state["pieces"]]


def day(hours: int) -> list[tuple[int, str]]:
    """A conversation starting every 10 minutes for ``hours`` hours."""
    found: list[tuple[int, str]] = []
    for k in range(hours * 6):
        found += conversation(f"c{k}", k * 600)
    return found


class Plans:
    """The :class:`~botistat.engine.cache.settled.SettledRun` of each cached run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runs: list[settled.SettledRun] = []
        original = settled.SettledStore.plan

        def plan(store: settled.SettledStore, *args: Any) -> settled.SettledRun:
            self.runs.append(original(store, *args))
            return self.runs[-1]

        monkeypatch.setattr(settled.SettledStore, "plan", plan)


def test_finished_conversations_are_kept_and_their_segments_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plans = Plans(monkeypatch)
    logs = tmp_path / "logs"
    logs.mkdir()
    records = day(6)
    (logs / "a.jsonl").write_text(lines([r for r in records if r[0] < 4 * HOUR]))
    (logs / "b.jsonl").write_text(lines([r for r in records if r[0] >= 4 * HOUR]))
    cache = tmp_path / "cache"
    agrees([logs], cache)
    # Conversations of the first five hours are finished (the newest record is at 5:51).
    assert sum(piece["conversations"] for piece in pieces(cache)) == 5 * 6 - 1
    agrees([logs], cache)
    warm = plans.runs[-1]
    assert warm.used and warm.rows is not None
    # a.jsonl holds finished conversations only: not read; b.jsonl holds open ones.
    assert len(warm._skipped) == 1
    (logs / "a.jsonl").write_text(lines(records[:8]))  # rewritten: parsed again, all of it
    agrees([logs], cache)
    assert not plans.runs[-1]._skipped


def test_a_conversation_resumed_after_it_was_finished_is_computed_again(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    records = day(4)
    log.write_text(lines(records))
    cache = tmp_path / "cache"
    agrees([log], cache)
    assert pieces(cache)
    # c1 (finished hours ago) gets a late reply, and a new conversation starts.
    late = [(5 * HOUR, message(5 * HOUR, "c1", 5)), *conversation("z9", 5 * HOUR + 30)]
    with log.open("a") as handle:
        handle.write(lines(late))
    plain, _ = report([log])
    cached, _ = report([log], cache=cache)
    assert cached == plain
    assert plain["messages"]["total"] == len(records) + len(late)


@pytest.mark.parametrize(
    "options",
    [
        ("--by", "day"),
        ("--by", "country"),
        ("--by", "hour", "--since", "2026-11-17T02:00:00Z"),
        ("--until", "2026-11-17T03:10:00Z"),
        ("--since", "2026-11-17T01:05:00Z", "--until", "2026-11-17T04:00:00Z"),
        ("--memory-budget", "1M"),
    ],
)
def test_ranges_breakdowns_and_partitions_agree_over_growth(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    records = day(8)
    first, rest = records[: len(records) // 2], records[len(records) // 2 :]
    (logs / "a.jsonl").write_text(lines(first))
    cache = tmp_path / "cache"
    agrees([logs], cache, *options)
    agrees([logs], cache, *options)
    (logs / "a.jsonl").rename(logs / "a-1.jsonl")
    (logs / "a.jsonl").write_text(lines(rest[: len(rest) // 2]))
    agrees([logs], cache, *options)
    with (logs / "a.jsonl").open("a") as handle:
        handle.write(lines(rest[len(rest) // 2 :]))
    agrees([logs], cache, *options)
    # Another range over the same cache: its pieces are used only where they fit.
    agrees([logs], cache, "--since", "2026-11-17T03:00:00Z")
    agrees([logs], cache, *options)


def test_a_damaged_piece_or_index_is_never_used(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(lines(day(4)))
    cache = tmp_path / "cache"
    agrees([log], cache)
    (piece,) = pieces(cache)
    replies = cache / "settled" / piece["id"] / "replies.parquet"
    data = bytearray(replies.read_bytes())
    data[len(data) // 2] ^= 0xFF
    replies.write_bytes(bytes(data))
    agrees([log], cache)
    (cache / INDEX).write_text("{not json")
    assert "botistat-settled.json" in agrees([log], cache)
    assert pieces(cache)  # rebuilt


def test_a_copy_of_a_log_and_merged_segments_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy of a log is read from the same segments as the log (twice, as a plain run
    reads both); a log appended to over many runs has its segments merged."""
    plans = Plans(monkeypatch)
    monkeypatch.setattr(cache_inputs, "MAX_SEGMENTS", 2)
    log = tmp_path / "app.jsonl"
    copy = tmp_path / "copy.jsonl"
    records = day(10)
    step = len(records) // 5
    log.write_text(lines(records[:step]))
    cache = tmp_path / "cache"
    for k in range(1, 5):
        agrees([log], cache)  # from the third on, this run merges the log's segments
        agrees([log], cache)
        assert plans.runs[-1].used  # the pieces outlive the merge
        shutil.copy(log, copy)
        agrees([log, copy], cache)
        copy.unlink()
        agrees([log], cache)
        with log.open("a") as handle:
            handle.write(lines(records[k * step : (k + 1) * step]))


@settings(max_examples=15, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(["new", "resume", "rotate", "truncate", "range", "partial"]),
            st.integers(min_value=0, max_value=40),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_history_with_long_gaps_agrees_with_plain_runs(events: list[tuple[str, int]]) -> None:
    """Conversations that start, finish, resume hours later, logs rotated and truncated,
    lines half-written, runs with and without a time range: every cached run equals a plain
    run."""
    with tempfile.TemporaryDirectory() as scratch:
        logs = Path(scratch) / "logs"
        logs.mkdir()
        log = logs / "app.jsonl"
        now = 0
        log.write_text(lines(conversation("c0", now)))
        cache = Path(scratch) / "cache"
        options: tuple[str, ...] = ()
        for kind, value in events:
            now += (value % 5) * HOUR // 2 + 60
            text = ""
            if kind in ("new", "partial"):
                text = lines(conversation(f"n{value}", now))
            elif kind == "resume":  # an old conversation goes on
                text = message(now, f"n{value}" if value % 2 else "c0", 5 + value % 3)
            if kind == "partial":
                text = text[: len(text) // 3]
            elif kind == "rotate":
                log.rename(logs / f"app-{now}.jsonl")
                text = lines(conversation(f"r{value}", now))
            elif kind == "truncate":
                log.write_text(lines(conversation(f"t{value}", now)))
            elif kind == "range":
                since = START + timedelta(seconds=now - (value % 4) * HOUR)
                options = () if value % 3 == 0 else ("--since", since.isoformat())
            with log.open("a") as handle:
                handle.write(text)
            agrees([logs], cache, *options)


def test_partial_results_that_cannot_be_written_are_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    log = tmp_path / "app.jsonl"
    log.write_text(lines(day(4)))
    cache = tmp_path / "cache"

    def full(*_: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(settled.os, "link", full)
        patch.setattr(settled.shutil, "copyfile", full)
        warned = agrees([log], cache)
    assert "cannot keep partial results: No space left on device" in warned
    data = json.loads((cache / INDEX).read_text())
    assert [state["covered"] for state in data["keys"].values()] == [[]]
    assert not pieces(cache)
    assert not list((cache / settled.DIRECTORY).iterdir())  # what was written is swept
    agrees([log], cache)
    assert pieces(cache)


def test_a_moving_time_range_cuts_one_piece_not_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finished conversations are kept in pieces by the time of their first record, so
    ``--since 24h`` run every hour drops (and computes again) the piece it cuts through,
    not the whole window."""
    plans = Plans(monkeypatch)
    monkeypatch.setattr(settled.SettledRun, "partitions", lambda self, planned: 4)
    log = tmp_path / "app.jsonl"
    log.write_text(lines(day(12)))
    cache = tmp_path / "cache"
    since = START + timedelta(hours=2)
    agrees([log], cache, "--since", since.isoformat())
    assert len(pieces(cache)) == 4
    for hour in range(1, 4):
        moved = since + timedelta(hours=hour, minutes=5)
        agrees([log], cache, "--since", moved.isoformat())
        run = plans.runs[-1]
        assert len(run.used) >= 2, "only the piece the bound cuts through is dropped"


def test_cache_info_tells_the_kept_results_and_clear_removes_them(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from botistat.cli.app import app

    log = tmp_path / "app.jsonl"
    log.write_text(lines(day(6)))
    cache = tmp_path / "cache"
    agrees([log], cache)
    agrees([log], cache, "--by", "day")
    runner = CliRunner()
    shown = runner.invoke(app, ["cache", "info", str(cache)])
    assert shown.exit_code == 0
    held = sum(piece["conversations"] for piece in pieces(cache))
    assert held == 2 * (5 * 6 - 1)  # the same conversations, for two report settings
    assert f"kept results: 2 piece(s), {held} finished conversation(s), 2 report" in shown.stdout
    cleared = runner.invoke(app, ["cache", "clear", str(cache)])
    assert cleared.exit_code == 0
    assert not (cache / INDEX).exists() and not (cache / settled.DIRECTORY).exists()
