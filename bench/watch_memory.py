"""Does the memory of ``botistat watch`` level off? Simulated time, then real time.

    python bench/watch_memory.py [--rate 1000] [--hours 168] [--batch 5] [--per-conversation 10]
    python bench/watch_memory.py --real 190 [--rate 1000]

1. Simulated (the default): the live monitor, which is all that ``watch`` keeps between polls,
   is fed ``--rate`` records per second of simulated time for ``--hours``, in batches of
   ``--batch`` minutes built in Polars, with watch's default settings (5-minute buckets, a
   baseline of 24). A week at 1,000 records/s is 604.8M records: too many to write and parse,
   not to fold in. Conversations of ``--per-conversation`` records (user and bot by turns)
   start all the time. It prints the process's private memory (RssAnon) and what the monitor
   holds, every simulated hour for the first three hours (the window fills in 2 h 5 min) and
   every twelve hours after. (A real watch folds in a batch per poll, every half second; the
   state kept is the same, and larger batches make a simulated week take less than an hour.)
2. ``--real SECONDS``: a real ``botistat watch`` (default settings) follows a file that gets
   ``--rate`` records a second for that long; its RssAnon is printed every ten seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from botistat.core.schema import canonical_schema
from botistat.watch.monitor import LiveMonitor, MonitorSettings

ROOT = Path(__file__).resolve().parent.parent


def traffic(index: pl.DataFrame, at: datetime, minutes: int, batch: int, per: int) -> pl.DataFrame:
    """``minutes`` of simulated traffic from ``at``: records evenly spread, new conversations
    of ``per`` records (named after the batch's number)."""
    schema = canonical_schema()
    step = minutes * 60_000_000 // index.height  # microseconds between records
    is_bot = pl.col("i") % 2 == 1
    return index.select(
        (pl.lit(at) + pl.duration(microseconds=pl.col("i") * step))
        .dt.cast_time_unit("us")
        .alias("timestamp"),
        pl.when(is_bot)
        .then(pl.lit("bot"))
        .otherwise(pl.lit("user"))
        .cast(schema["role"])
        .alias("role"),
        pl.lit(False).alias("failed"),
        pl.lit(False).alias("error"),
        pl.when(is_bot).then(800).cast(pl.Int64).alias("prompt_tokens"),
        pl.when(is_bot).then(200).cast(pl.Int64).alias("completion_tokens"),
        pl.lit(None, pl.Int64).alias("total_tokens"),
        pl.format("c{}-{}", pl.lit(batch), pl.col("i") // per).alias("conversation_id"),
        pl.lit("support").alias("bot_id"),
        pl.lit("gpt-4o-mini").alias("model"),
        pl.lit(None, pl.Float64).alias("latency_ms"),
        pl.lit(False).alias("exchange"),
        pl.lit(None, pl.Float64).alias("cost"),
        pl.lit(None, pl.Int64).alias("cache_read_tokens"),
        pl.lit(None, pl.Int64).alias("cache_write_tokens"),
    )


def simulated(rate: int, hours: int, batch: int, per: int) -> None:
    monitor = LiveMonitor(MonitorSettings())
    index = pl.DataFrame({"i": pl.int_range(0, rate * 60 * batch, eager=True)})
    start = datetime(2026, 11, 1, tzinfo=UTC)
    began = time.monotonic()
    print(f"{'hour':>5} {'MB':>6} {'buckets':>7} {'replies':>9} {'contributors':>12} {'last':>9}")
    for minute in range(0, hours * 60, batch):
        at = start + timedelta(minutes=minute)
        monitor.add(traffic(index, at, batch, minute // batch, per))
        monitor.check(at + timedelta(minutes=batch) - timedelta(microseconds=1))
        hour, rest = divmod(minute + batch, 60)
        if not rest and (hour <= 3 or hour % 12 == 0):
            held = monitor.held()
            print(
                f"{hour:>5} {memory_mb():>6,.0f} {held.buckets:>7} {held.replies:>9,} "
                f"{held.contributors:>12,} {held.conversations:>9,}   "
                f"({time.monotonic() - began:,.0f} s)",
                flush=True,
            )


def real(rate: int, seconds: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "app.jsonl"
        log.write_text("")
        watch = subprocess.Popen(
            [sys.executable, "-m", "botistat", "watch", str(log), "--format", "jsonl"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert watch.stderr is not None
        watch.stderr.readline()  # "watching ..."
        began = time.monotonic()
        written = 0
        shown = 0.0
        with log.open("a") as handle:
            while (elapsed := time.monotonic() - began) < seconds:
                at = datetime.now(UTC).isoformat()
                due = int(elapsed * rate) - written
                rows = []
                for i in range(written, written + due):
                    row: dict[str, Any] = {"timestamp": at, "conversation_id": f"c{i // 10}"}
                    row["role"] = "user"
                    if i % 2:  # as in the simulation
                        row |= {"role": "bot", "prompt_tokens": 800, "completion_tokens": 200}
                    rows.append(json.dumps(row | {"bot_id": "support", "model": "gpt-4o-mini"}))
                handle.write("".join(f"{row}\n" for row in rows))
                handle.flush()
                written += due
                if elapsed >= shown:
                    rss, private = memory_mb(watch.pid, "VmRSS"), memory_mb(watch.pid)
                    print(
                        f"{elapsed:5.0f} s: {rss:,.0f} MB ({private:,.0f} MB private)", flush=True
                    )
                    shown += 10
                time.sleep(0.1)
        watch.terminate()
        watch.wait(10)


def memory_mb(pid: int | str = "self", kind: str = "RssAnon") -> float:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith(f"{kind}:"):
            return int(row.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000, help="records per second")
    parser.add_argument("--hours", type=int, default=168, help="simulated hours")
    parser.add_argument("--batch", type=int, default=5, help="simulated minutes per batch")
    parser.add_argument("--per-conversation", type=int, default=10)
    parser.add_argument("--real", type=int, metavar="SECONDS", help="a real watch, this long")
    args = parser.parse_args()
    if 60 % args.batch:
        parser.error("--batch must divide an hour")
    if args.real:
        real(args.rate, args.real)
    else:
        simulated(args.rate, args.hours, args.batch, args.per_conversation)


if __name__ == "__main__":
    main()
