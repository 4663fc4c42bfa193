"""``botistat watch``: the live monitor, and the real command on real, growing files."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
import pytest

from botistat.core.schema import canonical_schema
from botistat.watch.monitor import LiveMonitor, MonitorSettings
from tests.conftest import ROOT

# ---------------------------------------------------------------- the monitor, in process


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    base = {
        "failed": False,
        "error": False,
        "prompt_tokens": None,
        "completion_tokens": None,
        "latency_ms": None,
        "exchange": False,
        "cost": None,
        "cache_read_tokens": None,
        "cache_write_tokens": None,
    }
    full = [{**base, "total_tokens": None, "bot_id": "b", "model": "m", **row} for row in rows]
    schema = {name: canonical_schema()[name] for name in full[0]}
    return pl.DataFrame(full, schema=schema)


def turn(at: datetime, conversation: str, tokens: int, delay: float = 1.0) -> list[dict[str, Any]]:
    return [
        {"timestamp": at, "role": "user", "conversation_id": conversation},
        {
            "timestamp": at + timedelta(seconds=delay),
            "role": "bot",
            "conversation_id": conversation,
            "total_tokens": tokens,
        },
    ]


START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SETTINGS = MonitorSettings(bucket_seconds=60, window=10, min_tokens=1000, cooldown=2)


def test_monitor_alerts_once_and_resolves_after_cooldown() -> None:
    monitor = LiveMonitor(SETTINGS)
    for minute in range(10):
        monitor.add(frame(turn(START + timedelta(minutes=minute), f"c{minute}", 2000)))
        assert monitor.check(START + timedelta(minutes=minute, seconds=30)) == []
    burst = START + timedelta(minutes=10)
    monitor.add(frame(turn(burst, "loop", 30_000)))
    events = monitor.check(burst + timedelta(seconds=5))
    assert [(e.kind, e.metric) for e in events] == [("spike", "tokens")]
    assert events[0].value == 30_000
    assert events[0].baseline == 2000
    assert events[0].top["conversations"][0] == {"name": "loop", "tokens": 30_000}
    # More of the same spike in the open bucket: no second alert.
    monitor.add(frame(turn(burst + timedelta(seconds=10), "loop", 30_000)))
    assert monitor.check(burst + timedelta(seconds=20)) == []
    # Two quiet buckets close: resolved.
    for minute in (11, 12):
        monitor.add(frame(turn(START + timedelta(minutes=minute), f"q{minute}", 2000)))
    events = monitor.check(START + timedelta(minutes=13, seconds=1))
    assert [(e.kind, e.metric) for e in events] == [("resolved", "tokens")]
    assert events[0].peak == 60_000
    assert events[0].started == burst


def test_monitor_pairs_replies_across_batches() -> None:
    monitor = LiveMonitor(MonitorSettings(bucket_seconds=60, window=5, min_tokens=0))
    for index in range(5):  # five replies: enough for a p95
        user, bot = turn(START + timedelta(seconds=index), f"c{index}", 10, delay=4.0 + index)
        monitor.add(frame([user]))
        monitor.add(frame([bot]))
    monitor.check(START + timedelta(seconds=30))
    monitor.check(START + timedelta(seconds=61))
    [closed] = monitor.closed_buckets()
    assert closed.replies == 5
    # 4..8 s: the p95 by linear interpolation is 4 + 0.95 x 4 = 7.8 s.
    assert closed.p95_ms == pytest.approx(7800.0)


def test_monitor_memory_stays_bounded() -> None:
    monitor = LiveMonitor(MonitorSettings(bucket_seconds=60, window=5, min_tokens=0))
    for minute in range(500):
        at = START + timedelta(minutes=minute)
        rows = [r for i in range(30) for r in turn(at, f"c{minute}-{i}", 10)]
        monitor.add(frame(rows))
        monitor.check(at + timedelta(seconds=59))
    assert monitor.held_buckets() <= 2  # the open bucket (and one closing)
    assert monitor.conversations <= 10_000 + 30 * 6


# ---------------------------------------------------------------- the real command

BUCKET = 1  # seconds


def record(conversation: str, role: str, tokens: int = 0) -> str:
    row: dict[str, Any] = {
        "timestamp": datetime.now(UTC).isoformat(),
        "conversation_id": conversation,
        "role": role,
        "bot_id": "support",
        "model": "gpt-4o-mini",
    }
    if tokens:
        row["prompt_tokens"] = tokens
    return json.dumps(row) + "\n"


def history(path: Path, seconds: int = 12) -> None:
    """Steady traffic over the last seconds: 2 exchanges of 1000 tokens per second."""
    now = datetime.now(UTC)
    with path.open("a") as handle:
        for back in range(seconds * 2, 0, -1):
            at = (now - timedelta(seconds=back / 2)).isoformat()
            conversation = f"h{back}"
            handle.write(
                json.dumps({"timestamp": at, "conversation_id": conversation, "role": "user"})
                + "\n"
            )
            handle.write(
                json.dumps(
                    {
                        "timestamp": at,
                        "conversation_id": conversation,
                        "role": "bot",
                        "prompt_tokens": 1000,
                    }
                )
                + "\n"
            )


def write(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


class Watch:
    """A running ``botistat watch`` whose JSON events are collected as they arrive."""

    def __init__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "botistat",
                "watch",
                *args,
                "--format",
                "jsonl",
                "--bucket",
                f"{BUCKET}s",
                "--window",
                "10",
                "--min-tokens",
                "1000",
                "--poll",
                "0.1",
                "--cooldown",
                "1",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.stderr: list[str] = []
        threading.Thread(target=self._read_events, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.wait_for(lambda: any("watching" in line for line in self.stderr), "start", 30.0)

    def _read_events(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.append((time.monotonic(), json.loads(line)))

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def wait_for(self, condition: Any, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {self.events} {self.stderr}")
            time.sleep(0.05)

    def spikes(self) -> list[dict[str, Any]]:
        return [e for _, e in self.events if e["event"] == "spike"]

    def burst_is_reported(self, path: Path, name: str) -> float:
        """Write a burst; return how many seconds until its spike event arrived."""
        before = len(self.spikes())
        written = time.monotonic()
        write(
            path, "".join(record(name, r, 20_000 if r == "bot" else 0) for r in ["user", "bot"] * 3)
        )
        self.wait_for(lambda: len(self.spikes()) > before, f"spike for {name}")
        arrived = next(
            t for t, e in self.events if e["event"] == "spike" and e is self.spikes()[-1]
        )
        event = self.spikes()[-1]
        assert event["top"]["conversations"][0]["name"] == name
        return arrived - written

    def calm(self) -> None:
        """Wait for the current spike to resolve."""
        spikes = len(self.spikes())
        self.wait_for(
            lambda: sum(e["event"] == "resolved" for _, e in self.events) >= spikes, "resolved"
        )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=10)


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Path, Watch]]:
    logs = tmp_path / "logs"
    logs.mkdir()
    history(logs / "app.jsonl")
    watch = Watch(str(logs))
    yield logs, watch
    if watch.process.poll() is None:
        watch.stop()


def keep_normal(path: Path, seconds: float) -> None:
    """Normal traffic (like the history) for a while."""
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        write(path, record(f"n{i}", "user") + record(f"n{i}", "bot", 1000))
        i += 1
        time.sleep(0.5)


def test_normal_traffic_makes_no_event(watched: tuple[Path, Watch]) -> None:
    logs, watch = watched
    keep_normal(logs / "app.jsonl", 4)
    assert watch.events == []
    assert watch.stop() == 0


def test_bursts_through_rotation_and_new_files(watched: tuple[Path, Watch]) -> None:
    logs, watch = watched
    log = logs / "app.jsonl"
    keep_normal(log, 1)  # a recent baseline, however long the start took
    assert watch.burst_is_reported(log, "loop-1") < 2.0
    watch.calm()
    # Rotation by rename + create.
    log.rename(logs / "app.jsonl.1")
    history(log, 2)
    keep_normal(log, 2)
    assert watch.burst_is_reported(log, "loop-2") < 2.0
    watch.calm()
    # Rotation by copy + truncate.
    shutil.copy(log, logs / "app.jsonl.2")
    with log.open("w"):
        pass
    keep_normal(log, 2)
    assert watch.burst_is_reported(log, "loop-3") < 2.0
    watch.calm()
    # A new file in the watched directory.
    fresh = logs / "2026-11-26" / "other.jsonl"
    fresh.parent.mkdir()
    fresh.write_text("")
    keep_normal(log, 1)
    assert watch.burst_is_reported(fresh, "loop-4") < 2.0
    assert watch.stop() == 0


def test_ctrl_c_exits_130(watched: tuple[Path, Watch]) -> None:
    _, watch = watched
    assert watch.stop(signal.SIGINT) == 130


class _Collector(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Collector.fail_first > 0:
            _Collector.fail_first -= 1
            self.send_response(500)
            self.end_headers()
            return
        _Collector.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_webhook_and_exec_hooks(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Collector.received = []
    _Collector.fail_first = 1  # the first delivery fails and is retried
    logs = tmp_path / "logs"
    logs.mkdir()
    history(logs / "app.jsonl")
    hooked = tmp_path / "hook-input.jsonl"
    url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    watch = Watch(str(logs), "--webhook", url, "--exec", f"cat >> {hooked}")
    try:
        # Recent normal traffic, however long the start took: the burst needs a baseline.
        keep_normal(logs / "app.jsonl", 2)
        watch.burst_is_reported(logs / "app.jsonl", "loop-hook")
        watch.wait_for(lambda: len(_Collector.received) >= 1, "webhook")
        watch.wait_for(lambda: hooked.exists() and hooked.read_text().strip(), "exec hook")
    finally:
        assert watch.stop() == 0
        server.shutdown()
    posted = _Collector.received[0]
    assert posted["event"] == "spike"
    assert posted["text"].startswith("botistat: token spike")
    assert any("webhook failed (HTTP 500)" in line for line in watch.stderr)
    piped = json.loads(hooked.read_text().splitlines()[0])
    assert piped["top"]["conversations"][0]["name"] == "loop-hook"


def test_live_view_renders_the_open_bucket_and_alerts() -> None:
    from rich.console import Console

    from botistat.render.sparkline import sparkline
    from botistat.watch.view import live_view

    monitor = LiveMonitor(SETTINGS)
    for minute in range(11):
        tokens = 30_000 if minute == 10 else 2000
        monitor.add(frame(turn(START + timedelta(minutes=minute), f"c{minute}", tokens)))
    events = [e.document() for e in monitor.check(START + timedelta(minutes=10, seconds=5))]
    console = Console(record=True, width=120)
    console.print(live_view(monitor, 3, events))
    text = console.export_text()
    assert "30,000" in text and "2,000" in text
    assert "3 file(s) followed" in text
    assert "botistat: token spike at 12:10 UTC" in text
    assert sparkline([0.0, 1.0, None, 8.0]) == "▁▁ █"


def test_monitor_alerts_on_cost() -> None:
    from botistat.core.pricing import ModelPrice, PriceBook

    book = PriceBook({"m": ModelPrice(input=0.0, output=1_000_000.0)}, use_package=False)
    monitor = LiveMonitor(MonitorSettings(bucket_seconds=60, window=10, min_tokens=10**9), book)
    for minute in range(10):
        rows = turn(START + timedelta(minutes=minute), f"c{minute}", 0)
        rows[1]["completion_tokens"] = 2  # $2 a minute
        monitor.add(frame(rows))
        assert monitor.check(START + timedelta(minutes=minute, seconds=30)) == []
    rows = turn(START + timedelta(minutes=10), "pricey", 0)
    rows[1]["completion_tokens"] = 40  # $40
    monitor.add(frame(rows))
    events = monitor.check(START + timedelta(minutes=10, seconds=5))
    assert [(e.kind, e.metric, e.value) for e in events] == [("spike", "cost.usd", 40.0)]
    assert events[0].text().startswith("botistat: cost spike at 12:10 UTC: $40.00")


def test_monitor_reports_a_spike_whose_bucket_closed_before_its_data_came() -> None:
    monitor = LiveMonitor(SETTINGS)
    for minute in range(10):
        monitor.add(frame(turn(START + timedelta(minutes=minute), f"c{minute}", 2000)))
        monitor.check(START + timedelta(minutes=minute, seconds=30))
    monitor.check(START + timedelta(minutes=10, seconds=59))
    # The burst of minute 10 is folded in only after minute 10 is over.
    monitor.add(frame(turn(START + timedelta(minutes=10, seconds=50), "late", 30_000)))
    events = monitor.check(START + timedelta(minutes=11, seconds=1))
    assert [(e.kind, e.bucket_start) for e in events] == [("spike", START + timedelta(minutes=10))]


def test_monitor_merges_a_message_logged_in_several_batches() -> None:
    """A streaming SDK logs one response three times with growing usage: the message counts
    once, with its largest usage, however the lines fall into batches."""
    monitor = LiveMonitor(MonitorSettings(bucket_seconds=60, window=5, merge_messages=True))
    user, bot = turn(START, "c", 500)
    monitor.add(frame([{**user, "message_id": None}, {**bot, "message_id": "r1"}]))
    for tokens in (1000, 1500):
        monitor.add(frame([{**bot, "message_id": "r1", "total_tokens": tokens}]))
    monitor.check(START + timedelta(seconds=30))
    monitor.check(START + timedelta(seconds=61))
    [closed] = monitor.closed_buckets()
    assert (closed.messages, closed.tokens, closed.replies) == (2, 1500, 1)
    assert monitor.records == 2


def test_monitor_keeps_an_id_of_two_conversations_as_two_messages() -> None:
    """Message ids numbered per conversation: ``r1`` in conversations a and b is two messages,
    and a repeat of a's ``r1`` in a later batch merges with a's alone."""
    monitor = LiveMonitor(MonitorSettings(bucket_seconds=60, window=5, merge_messages=True))
    user_a, bot_a = turn(START, "a", 500)
    user_b, bot_b = turn(START, "b", 300)
    monitor.add(
        frame(
            [
                {**user_a, "message_id": None},
                {**bot_a, "message_id": "r1"},
                {**user_b, "message_id": None},
                {**bot_b, "message_id": "r1"},
            ]
        )
    )
    monitor.add(frame([{**bot_a, "message_id": "r1", "total_tokens": 700}]))
    monitor.check(START + timedelta(seconds=61))
    [closed] = monitor.closed_buckets()
    assert (closed.messages, closed.tokens, closed.replies) == (4, 700 + 300, 2)
