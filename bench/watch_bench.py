"""How fast ``botistat watch`` keeps up with appended records, and its memory over time.

    python bench/watch_bench.py [--records 1000000] [--days 3]

1. Throughput: a real ``botistat watch`` subprocess follows a file; the script appends
   ``--records`` records as fast as it can, then a burst of tokens, and times how long the watch
   takes to report the burst: records / that time is the rate it keeps up with.
2. Memory: the live monitor is fed ``--days`` of simulated traffic (2,000 records a minute, in
   one-minute buckets, with new conversations all the time); its private memory (RssAnon) is
   printed after each simulated day and should stay flat.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent


def line(conversation: str, role: str, at: str, tokens: int = 0) -> str:
    row = {"timestamp": at, "conversation_id": conversation, "role": role, "bot_id": "b"}
    if tokens:
        row["prompt_tokens"] = tokens
    return json.dumps(row)


def throughput(records: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "app.jsonl"
        now = datetime.now(UTC)
        with log.open("w") as handle:  # a quiet baseline over the last minutes
            for back in range(600, 0, -1):
                at = (now - timedelta(seconds=back)).isoformat()
                handle.write(line(f"h{back}", "user", at) + "\n")
                handle.write(line(f"h{back}", "bot", at, 1000) + "\n")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "botistat",
                "watch",
                str(log),
                "--format",
                "jsonl",
                "--bucket",
                "10s",
                "--window",
                "30",
                "--min-tokens",
                "100000",
                "--poll",
                "0.1",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None and process.stdout is not None
        process.stderr.readline()  # "watching ..."
        arrived: list[float] = []
        threading.Thread(
            target=lambda: [arrived.append(time.monotonic()) for _ in process.stdout],  # type: ignore[union-attr]
            daemon=True,
        ).start()
        start = time.monotonic()
        batch = 50_000
        with log.open("a") as handle:
            for first in range(0, records, batch):
                at = datetime.now(UTC).isoformat()
                rows = []
                for i in range(first, min(first + batch, records), 2):
                    rows.append(line(f"c{i}", "user", at))
                    rows.append(line(f"c{i}", "bot", at))
                handle.write("\n".join(rows) + "\n")
                handle.flush()
            at = datetime.now(UTC).isoformat()
            handle.write(line("loop", "bot", at, 10_000_000) + "\n")
        written = time.monotonic() - start
        while not arrived and time.monotonic() - start < 300:
            time.sleep(0.01)
        process.terminate()
        process.wait(10)
        if not arrived:
            raise SystemExit("the burst was never reported")
        return records / (arrived[0] - start), written


def memory(days: int) -> list[tuple[int, float]]:
    from botistat.watch.monitor import LiveMonitor, MonitorSettings

    monitor = LiveMonitor(MonitorSettings(bucket_seconds=60, window=60))
    start = datetime(2026, 11, 1, tzinfo=UTC)
    per_minute = 2000
    readings = []
    for minute in range(days * 24 * 60):
        at = start + timedelta(minutes=minute)
        conversations = [f"c{minute}-{i}" for i in range(per_minute // 2)]
        frame = pl.DataFrame(
            {
                "timestamp": [at, at + timedelta(seconds=2)] * (per_minute // 2),
                "role": ["user", "bot"] * (per_minute // 2),
                "failed": [False] * per_minute,
                "error": [False] * per_minute,
                "prompt_tokens": [None, 800] * (per_minute // 2),
                "completion_tokens": [None, 200] * (per_minute // 2),
                "total_tokens": [None] * per_minute,
                "conversation_id": [c for c in conversations for _ in range(2)],
                "bot_id": ["b"] * per_minute,
                "model": ["m"] * per_minute,
                "latency_ms": [None] * per_minute,
                "exchange": [False] * per_minute,
                "cost": [None] * per_minute,
                "cache_read_tokens": [None] * per_minute,
                "cache_write_tokens": [None] * per_minute,
            },
            schema_overrides={
                "timestamp": pl.Datetime("us", "UTC"),
                "role": pl.Enum(["user", "bot", "other"]),
                "total_tokens": pl.Int64,
                "latency_ms": pl.Float64,
                "cost": pl.Float64,
                "cache_read_tokens": pl.Int64,
                "cache_write_tokens": pl.Int64,
            },
        )
        monitor.add(frame)
        monitor.check(at + timedelta(seconds=59))
        if (minute + 1) % (24 * 60) == 0:
            readings.append(((minute + 1) // (24 * 60), _rss_anon_mb()))
    return readings


def _rss_anon_mb() -> float:
    for row in Path("/proc/self/status").read_text().splitlines():
        if row.startswith("RssAnon:"):
            return int(row.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=3)
    args = parser.parse_args()
    rate, written = throughput(args.records)
    print(
        f"throughput: {args.records:,} records appended in {written:.1f}s; "
        f"watch kept up with {rate:,.0f} records/s"
    )
    for day, mb in memory(args.days):
        print(f"memory after simulated day {day}: {mb:,.0f} MB private (RssAnon)")


if __name__ == "__main__":
    main()
