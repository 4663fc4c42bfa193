"""Peak memory of ``botistat report`` under several ``--memory-budget`` values, same input.

    python bench/memory_budget.py                              # 1M JSONL: 64M 256M 1G default
    python bench/memory_budget.py --records 10000000 --format csv --repeat 3
    python bench/memory_budget.py --budgets 32M 64M 128M 256M 512M 1G 2G

For each budget: the partitions the input is spilled to (0: processed in memory), wall time,
peak RSS (the process's VmHWM: every page it had, file-backed ones included) and peak private memory
(RssAnon sampled from /proc every 20 ms, as bench/run.py does). With ``--repeat``, each
budget runs that many times in turn; the median of each figure is printed, and the spread.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from dataset import FORMATS, VERSION, variant_files, write_dataset  # noqa: E402
from measure import measure_ok, warm_page_cache  # noqa: E402


@dataclass(frozen=True)
class Run:
    seconds: float
    max_rss: int
    peak_rss_anon: int


def run_measured(command: list[str]) -> Run:
    """Run a command; its wall time, sampled VmHWM and peak RssAnon (bytes)."""
    run = measure_ok(command)
    return Run(run.seconds, run.peak_rss, run.peak_rss_anon)


def partitions(files: list[str], budget: str) -> int:
    from botistat.engine.partition import default_memory_budget, parse_size, partitions_for
    from botistat.ingest import resolve_sources

    size = default_memory_budget() if budget == "default" else parse_size(budget)
    return partitions_for(resolve_sources(files), size)


def command(files: list[str], budget: str) -> list[str]:
    chosen = [] if budget == "default" else ["--memory-budget", budget]
    return [sys.executable, "-m", "botistat", "report", *files, "--format", "json", *chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--format", choices=FORMATS, default="jsonl")
    parser.add_argument("--budgets", nargs="+", default=["64M", "256M", "1G", "default"])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    from botistat.engine.partition import default_memory_budget

    directory = write_dataset(args.records, BENCH / "data" / f"{args.records}-v{VERSION}")
    files = variant_files(directory, args.format)
    size = sum(Path(p).stat().st_size for p in files)
    warm_page_cache(files)
    print(
        f"{args.records:,} records, {args.format}, {size / 1e6:,.0f} MB; default budget here: "
        f"{default_memory_budget() >> 20} MiB; median of {args.repeat} run(s) (min-max)\n"
    )
    print("| budget | partitions | seconds | peak RSS MiB | peak RssAnon MiB |")
    print("|---|---:|---:|---:|---:|")
    runs: dict[str, list[Run]] = {budget: [] for budget in args.budgets}
    for _ in range(args.repeat):
        for budget in args.budgets:  # in turn, so a slow spell of the machine hits all alike
            runs[budget].append(run_measured(command(files, budget)))
    for budget in args.budgets:
        done = runs[budget]

        def figure(values: list[float], scale: float, digits: int) -> str:
            middle = f"{statistics.median(values) / scale:,.{digits}f}"
            if len(values) == 1:
                return middle
            return f"{middle} ({min(values) / scale:,.{digits}f}-{max(values) / scale:,.{digits}f})"

        print(
            f"| {budget} | {partitions(files, budget)} | "
            f"{figure([r.seconds for r in done], 1, 2)} | "
            f"{figure([r.max_rss for r in done], 1 << 20, 0)} | "
            f"{figure([r.peak_rss_anon for r in done], 1 << 20, 0)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
