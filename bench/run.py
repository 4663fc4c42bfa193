"""botistat against DuckDB on the same generated logs, in the same run.

    python bench/run.py                       # plain and mixed logs: 2M and 10M records,
                                              # JSONL, CSV and gzip
    python bench/run.py --datasets plain --records 2000000 --formats jsonl
    python bench/run.py --by hour             # also every metric per hour
    python bench/run.py --repeat 3            # each engine 3 times, in turn: the medians

Two datasets: ``plain`` (bench/plain_dataset.py: the logs most users have, one ISO timestamp
style, a public IP on every record; the headline) and ``mixed`` (bench/dataset.py: eight
timestamp styles, private IPs and a ``country`` field). For each dataset, size and format:
generate (or reuse) the dataset, run ``botistat report --format json``
(the default report: its timeline holds the tokens per hour) and the DuckDB reference
(bench/reference_duckdb.py) as subprocesses, check that their numbers agree, and print wall
time, records/s, MB/s and peak private memory (RssAnon, sampled from /proc: Polars
memory-maps files, and mapped pages are not private memory).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from dataset import FORMATS, VERSION, variant_files, write_dataset  # noqa: E402
from measure import measure_ok, warm_page_cache  # noqa: E402
from plain_dataset import VERSION as PLAIN_VERSION  # noqa: E402
from plain_dataset import write_plain_dataset  # noqa: E402

DATA = BENCH / "data"


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_anon: int
    output: str


def run_measured(command: list[str]) -> Run:
    """Run a command, sampling its private memory (RssAnon) every 20 ms."""
    run = measure_ok(command)
    return Run(run.seconds, run.peak_rss_anon, run.stdout.decode())


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """Differences between botistat's report and DuckDB's numbers (floats to 1e-9, beside
    what the report's JSON rounds off: milliseconds to 3 decimals, rates to 6 significant
    digits; docs/metrics.md, "Numbers in JSON and CSV")."""
    problems = []

    def close(a: Any, b: Any, section: str = "") -> bool:
        if isinstance(a, float) or isinstance(b, float):
            if a is None or b is None:
                return False
            rounding = {"response_ms": 0.5e-3, "errors": 5e-6 * abs(b)}.get(section, 0.0)
            return abs(a - b) <= 1e-9 * max(abs(b), 1e-12) + rounding
        return bool(a == b)

    for section in ("messages", "tokens", "errors", "response_ms"):
        for key, value in theirs[section].items():
            if not close(ours[section][key], value, section):
                problems.append(f"{section}.{key}: botistat {ours[section][key]} duckdb {value}")
    for key in ("records", "ignored"):
        if ours["input"][key] != theirs["input"][key]:
            problems.append(
                f"input.{key}: botistat {ours['input'][key]} duckdb {theirs['input'][key]}"
            )
    our_top = [(r["country"], r["messages"], r["conversations"]) for r in ours["countries"]["top"]]
    their_top = [
        (r["country"], r["messages"], r["conversations"]) for r in theirs["countries"]["top"]
    ]
    if our_top != their_top:
        problems.append(f"countries.top: botistat {our_top} duckdb {their_top}")
    for key in ("other", "unknown"):
        for field, value in theirs["countries"][key].items():
            if ours["countries"][key][field] != value:
                problems.append(
                    f"countries.{key}.{field}: {ours['countries'][key][field]} vs {value}"
                )
    expected = {hour: tokens for hour, tokens in theirs["hourly_tokens"].items() if tokens}
    # The timeline lists every hour from the first to the last, empty ones as zeros.
    timeline = {
        point["start"][:13].replace("T", " ") + ":00": point["tokens"]
        for point in ours["timeline"]["points"]
        if point["tokens"]
    }
    if ours["timeline"]["bucket_seconds"] != 3600 or timeline != expected:
        problems.append("tokens per hour (timeline) differ")
    if "groups" in ours:  # with --by hour, each group is an hour
        grouped = {g["key"]: g["tokens"]["total"] for g in ours["groups"] if g["tokens"]["total"]}
        if grouped != expected:
            problems.append("tokens per hour (groups) differ")
    return problems


def botistat_command(paths: list[str], by: str | None = None) -> list[str]:
    grouping = ["--by", by] if by else []
    return [sys.executable, "-m", "botistat", "report", *paths, "--format", "json", *grouping]


def duckdb_command(dataset: str, fmt: str, paths: list[str]) -> list[str]:
    kind = "csv" if fmt == "csv" else "jsonl"
    if dataset == "plain":
        kind = f"plain-{kind}"
    return [sys.executable, str(BENCH / "reference_duckdb.py"), kind, *paths]


def dataset_directory(dataset: str, records: int) -> Path:
    if dataset == "plain":
        return write_plain_dataset(records, DATA / f"plain-{records}-v{PLAIN_VERSION}")
    return write_dataset(records, DATA / f"{records}-v{VERSION}")


def median_run(runs: list[Run]) -> Run:
    """The run of median time (the slower middle one of an even count), with the highest
    peak memory of all the runs."""
    middle = sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]
    return Run(middle.seconds, max(run.peak_rss_anon for run in runs), middle.output)


def bench(
    dataset: str, records: int, fmt: str, by: str | None = None, repeat: int = 1
) -> list[str]:
    directory = dataset_directory(dataset, records)
    files = variant_files(directory, fmt)
    size = sum(Path(p).stat().st_size for p in files)
    warm_page_cache(files)
    # In turn, so that a slow spell of the machine falls on both engines alike.
    our_runs, their_runs = [], []
    for _ in range(repeat):
        our_runs.append(run_measured(botistat_command(files, by)))
        their_runs.append(run_measured(duckdb_command(dataset, fmt, files)))
    ours, theirs = median_run(our_runs), median_run(their_runs)
    problems = [
        problem
        for mine, reference in zip(our_runs, their_runs, strict=True)
        for problem in compare(json.loads(mine.output), json.loads(reference.output))
    ]
    rows = []
    ratio = f"{ours.seconds / theirs.seconds:.2f}"
    for engine, run, shown in (("botistat", ours, ratio), ("duckdb", theirs, "")):
        rows.append(
            f"| {dataset} | {records:,} | {fmt} | {size / 1e6:,.0f} | {engine} | "
            f"{run.seconds:.2f} | {records / run.seconds:,.0f} | {size / 1e6 / run.seconds:,.0f} | "
            f"{run.peak_rss_anon / 1e6:,.0f} | {shown} |"
        )
    verdict = "agree" if not problems else "DIFFER: " + "; ".join(problems[:5])
    rows.append(f"|  |  |  |  | numbers | {verdict} |  |  |  |  |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", nargs="+", choices=["plain", "mixed"], default=["plain", "mixed"]
    )
    parser.add_argument("--records", type=int, nargs="+", default=[2_000_000, 10_000_000])
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument(
        "--by", help="also break botistat's report down (e.g. hour); DuckDB computes the same"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each engine this many times, in turn; print the median time and the "
        "highest peak memory",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.repeat > 1:
        print(f"Median time of {args.repeat} runs per engine; peak memory: the highest.\n")
    print(
        "| dataset | records | format | MB | engine | seconds | records/s | MB/s | "
        "peak RssAnon MB | botistat/duckdb |"
    )
    print("|---|---:|---|---:|---|---:|---:|---:|---:|---:|")
    for dataset in args.datasets:
        for records in args.records:
            for fmt in args.formats:
                for row in bench(dataset, records, fmt, args.by, args.repeat):
                    print(row, flush=True)


if __name__ == "__main__":
    main()
