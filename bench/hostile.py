"""What hostile JSON Lines cost against a clean file of the same records.

    python bench/hostile.py                     # 200k records
    python bench/hostile.py --records 50000 --timeout 60 --repeat 3
    python bench/hostile.py --parser            # the JSON Lines parser alone, on one block

Writes (or reuses) four files under ``bench/data/hostile-<records>-v<VERSION>/``:

- ``clean.jsonl``: chat records (ISO timestamps, conversation ids, user and assistant turns,
  token counts, public client IPs);
- ``bad-1pct.jsonl``: the same records with a bad line after every hundredth one (truncated
  JSON, garbage, invalid UTF-8 in turn);
- ``bad-half.jsonl``: the same records with a bad line after every one (every other line bad);
- ``outlier-ts.jsonl``: the clean records plus one user message at ``0001-01-01T00:00:00Z`` and
  one at ``9999-12-31T23:59:59Z``.

Runs ``botistat report FILE --format json`` on each as a fresh subprocess, and prints wall
time, peak resident memory (the child's VmHWM, sampled from /proc) and peak private
memory (RssAnon, sampled from /proc every 20 ms), with ratios against the clean file. It checks
that every record is read and every bad line counted, and that the bad lines change none of
the metrics. A run that takes longer than ``--timeout`` seconds, or whose private memory grows
past ``--max-memory`` MB, is killed and reported as such.

With ``--parser``, the JSON Lines block parser alone (in this process) parses one 16 MB block of
the clean records, and the same with 1% and 50% of bad lines: junk (as above) or lines that
look like objects but are none (two records on one line, a NaN, a number out of range), the
costly case of its fallback. It prints the CPU time of each (all threads), against the clean
block's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import polars as pl  # noqa: E402
from dataset import iso_timestamp, records  # noqa: E402
from measure import measure  # noqa: E402

#: Bump when the generated files change, so cached ones are made anew.
VERSION = 1
DATA = BENCH / "data"
#: First octets of public (globally routed) IPv4 networks.
PUBLIC_FIRST_OCTETS = [23, 31, 45, 62, 77, 81, 91, 104, 151, 185, 193, 212]
OUTLIERS = ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")
#: Metric sections that bad lines must leave unchanged.
SECTIONS = ("messages", "tokens", "errors", "response_ms")


@dataclass(frozen=True)
class Variant:
    name: str
    path: Path
    records: int
    skipped: int


@dataclass(frozen=True)
class Run:
    seconds: float
    max_rss: int
    peak_rss_anon: int
    #: Why the run was killed ("" if it was not).
    killed: str
    returncode: int
    output: bytes
    error: bytes


def octet(k: int) -> pl.Expr:
    """The ``k``-th octet of a conversation's client address: a public network first."""
    value = pl.col("conversation_id").hash(21 + k)
    if k == 0:
        first = dict(enumerate(PUBLIC_FIRST_OCTETS))
        return (value % len(first)).cast(pl.Int64).replace_strict(first, return_dtype=pl.Int64)
    return value % 254 + 1


def clean_lines(n: int) -> list[bytes]:
    """``n`` chat records as JSON Lines, in time order."""
    frame = records(n).select(
        iso_timestamp(),
        "conversation_id",
        "role",
        "status",
        "prompt_tokens",
        "completion_tokens",
        "error",
        "error_code",
        pl.format("{}.{}.{}.{}", *(octet(k) for k in range(4))).alias("ip"),
        "bot_id",
        "channel",
        "model",
        "user_id",
    )
    with tempfile.TemporaryFile() as handle:
        frame.write_ndjson(handle)
        handle.seek(0)
        return handle.read().splitlines()


def bad_line(k: int, good: bytes) -> bytes:
    """The ``k``-th bad line: truncated JSON, garbage or invalid UTF-8, in turn."""
    kind = k % 3
    if kind == 0:
        return good[: len(good) // 2]
    if kind == 1:
        return b"<<< garbage %d: not JSON at all >>>" % k
    return good.replace(b'"conv-', b'"conv-\xff\xfe', 1)


def with_bad_lines(
    lines: list[bytes], every: int, make: Callable[[int, bytes], bytes] = bad_line
) -> tuple[list[bytes], int]:
    out: list[bytes] = []
    bad = 0
    for i, line in enumerate(lines, start=1):
        out.append(line)
        if i % every == 0:
            out.append(make(bad, line))
            bad += 1
    return out, bad


def glued_line(k: int, good: bytes) -> bytes:
    """The ``k``-th bad line that looks like an object: two records on one line, a NaN, a
    number out of range, in turn."""
    kind = k % 3
    if kind == 0:
        return good + good
    if kind == 1:
        return good[:-1] + b', "score": NaN}'
    return good.replace(b'"role"', b'"n": 1e999, "role"', 1)


def outliers(lines: list[bytes]) -> list[bytes]:
    extra = [
        json.dumps(
            {"timestamp": ts, "conversation_id": f"outlier-{i}", "role": "user", "ip": "81.2.69.1"}
        ).encode()
        for i, ts in enumerate(OUTLIERS)
    ]
    return [*lines, *extra]


def write_variants(n: int) -> list[Variant]:
    directory = DATA / f"hostile-{n}-v{VERSION}"
    clean = clean_lines(n)
    one, one_bad = with_bad_lines(clean, 100)
    half, half_bad = with_bad_lines(clean, 1)
    variants = [
        (Variant("clean", directory / "clean.jsonl", n, 0), clean),
        (Variant("1% bad", directory / "bad-1pct.jsonl", n, one_bad), one),
        (Variant("every other bad", directory / "bad-half.jsonl", n, half_bad), half),
        (Variant("outlier timestamps", directory / "outlier-ts.jsonl", n + 2, 0), outliers(clean)),
    ]
    done = directory / ".complete"
    if not done.exists():
        directory.mkdir(parents=True, exist_ok=True)
        for variant, lines in variants:
            variant.path.write_bytes(b"".join(line + b"\n" for line in lines))
        done.touch()
    return [variant for variant, _ in variants]


def run_measured(command: list[str], timeout: float, max_memory: int) -> Run:
    """Run a command in a fresh child: its wall time, its peak RSS (VmHWM) and its
    peak private memory (RssAnon, sampled from /proc); killed after ``timeout`` seconds or
    past ``max_memory`` bytes of private memory."""
    run = measure(command, timeout=timeout, max_memory=max_memory)
    return Run(
        run.seconds,
        run.peak_rss,
        run.peak_rss_anon,
        run.killed,
        run.returncode,
        run.stdout,
        run.stderr,
    )


def check(variant: Variant, document: dict[str, Any], clean: dict[str, Any] | None) -> str:
    """Whether every record was read, every bad line counted, and the metrics unchanged."""
    problems = []
    summary = document["input"]
    for key, expected in (("records", variant.records), ("skipped", variant.skipped)):
        if summary[key] != expected:
            problems.append(f"{key} {summary[key]} (expected {expected})")
    if clean is not None and variant.records == clean["input"]["records"]:
        problems += [f"{s} differ" for s in SECTIONS if document[s] != clean[s]]
    return "ok" if not problems else "; ".join(problems)


def best_run(runs: list[Run]) -> Run:
    """The run of median time, with the highest peak memory of all."""
    middle = sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]
    return Run(
        middle.seconds,
        max(run.max_rss for run in runs),
        max(run.peak_rss_anon for run in runs),
        next((run.killed for run in runs if run.killed), ""),
        middle.returncode,
        middle.output,
        middle.error,
    )


def parser_costs(lines: list[bytes], repeat: int) -> None:
    """CPU time of the JSON Lines parser on one block, clean and with bad lines."""
    from botistat.core.config import Config
    from botistat.ingest.blocks import DEFAULT_BLOCK_SIZE, Block
    from botistat.ingest.decoder import COUNT_FIELDS
    from botistat.ingest.jsonl import JsonlBlockParser
    from botistat.ingest.mapping import FieldMapping

    sizes = [len(line) + 1 for line in lines]
    clean = lines[: next(i for i in range(len(lines)) if sum(sizes[:i]) >= DEFAULT_BLOCK_SIZE)]
    blocks = {"clean": clean}
    for share, every in (("1%", 100), ("50%", 1)):
        blocks[f"{share} junk"] = with_bad_lines(clean, every)[0]
        blocks[f"{share} like objects"] = with_bad_lines(clean, every, glued_line)[0]
    config = Config()

    def parse(data: bytes) -> tuple[float, int, int]:
        mapping = FieldMapping(config.fields)
        parser = JsonlBlockParser(mapping, set(config.fields), frozenset(COUNT_FIELDS))
        start = time.process_time()
        parsed = parser.parse(Block(data, 1))
        return time.process_time() - start, parsed.frame.height, len(parsed.bad)

    parse(clean[0] + b"\n")  # Polars' first call starts its threads
    print("| block | lines | MB | rows | bad lines | CPU seconds | x clean |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    baseline = 0.0
    for name, block in blocks.items():
        data = b"".join(line + b"\n" for line in block)
        seconds, rows, bad = min(parse(data) for _ in range(repeat))
        baseline = baseline or seconds
        print(
            f"| {name} | {len(block):,} | {len(data) / 1e6:.1f} | {rows:,} | {bad:,} | "
            f"{seconds:.3f} | {seconds / baseline:.2f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per run")
    parser.add_argument("--max-memory", type=int, default=4000, help="MB of private memory per run")
    parser.add_argument("--repeat", type=int, default=1, help="runs per file (median time)")
    parser.add_argument("--parser", action="store_true", help="time the JSON Lines parser alone")
    args = parser.parse_args()
    if args.parser:
        parser_costs(clean_lines(args.records), max(args.repeat, 3))
        return
    variants = write_variants(args.records)
    print(
        "| input | lines | MB | records | skipped | seconds | x clean | peak RSS MB | x clean "
        "| peak RssAnon MB | check |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    clean_run: Run | None = None
    clean_doc: dict[str, Any] | None = None
    for variant in variants:
        command = [sys.executable, "-m", "botistat", "report", str(variant.path), "-f", "json"]
        limit = args.max_memory * 1_000_000
        run = best_run([run_measured(command, args.timeout, limit) for _ in range(args.repeat)])
        lines = variant.records + variant.skipped
        size = variant.path.stat().st_size / 1e6
        if run.killed == "timeout":
            verdict, counts = f"TIMEOUT after {args.timeout:.0f} s", "| - | - "
        elif run.killed:
            verdict, counts = f"KILLED past {args.max_memory:,} MB", "| - | - "
        elif run.returncode != 0:
            verdict = f"exit {run.returncode}: {run.error.decode(errors='replace')[-300:]!r}"
            counts = "| - | - "
        else:
            document = json.loads(run.output)
            verdict = check(variant, document, clean_doc)
            counts = f"| {document['input']['records']:,} | {document['input']['skipped']:,} "
            if clean_doc is None:
                clean_doc = document
        if clean_run is None:
            clean_run = run
        time_ratio = run.seconds / clean_run.seconds
        rss_ratio = run.max_rss / clean_run.max_rss
        print(
            f"| {variant.name} | {lines:,} | {size:,.0f} {counts}| {run.seconds:.2f} | "
            f"{time_ratio:.2f} | {run.max_rss / 1e6:,.0f} | {rss_ratio:.2f} | "
            f"{run.peak_rss_anon / 1e6:,.0f} | {verdict} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
