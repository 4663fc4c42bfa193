"""``botistat report --cache``: a plain run, building the cache, a warm run over unchanged
logs, and a run after the logs grew (1% more records appended, then the file rotated and a
small new one started: the newest records of the dataset, held back until then, so that
conversations open when the cache was built go on), side by side on the same files.

    python bench/cache.py                                   # 2M JSON Lines, median of 3
    python bench/cache.py --records 10000000 --format csv --repeat 3
    python bench/cache.py --since 2026-11-19T12:00:00Z        # the last sixth of the logs

Each repetition runs, in turn: plain and cold (a new cache) on the logs as generated, warm
(the cache just built); then the logs grow, and plain and "grown" (a copy of the warm cache)
run on them; then the logs are put back. Every cached run's JSON must equal its plain run's,
byte for byte. Printed: the median seconds of each, and its ratio to the plain run of the
same logs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from dataset import VERSION, write_dataset  # noqa: E402
from measure import measure_ok  # noqa: E402

#: Records appended before the rotation, as a share of all records.
APPENDED = 0.01
#: Records in the small file started by the rotation, as a share of all records.
ROTATED_IN = 0.001
#: Peak RssAnon of each run, in the order run.
PEAKS: list[int] = []


def run(logs: Path, cache: Path | None, since: str | None) -> tuple[float, bytes]:
    """Seconds and output of one report; its peak private memory goes to ``PEAKS``."""
    command = [sys.executable, "-m", "botistat", "report", str(logs), "--format", "json"]
    if since is not None:
        command += ["--since", since]
    if cache is not None:
        command += ["--cache", str(cache)]
    done = measure_ok(command)
    if b"warning: cache" in done.stderr:
        raise SystemExit(f"{command} warned:\n{done.stderr.decode()[-2000:]}")
    PEAKS.append(done.peak_rss_anon)
    return done.seconds, done.stdout


class Growth:
    """The logs growing as a live log does. The newest records (1.1% of all) are held back
    from the end of the last file, so that the cache is built on logs that stop mid-flight;
    :meth:`apply` appends 1% of them to the last file (conversations going on, new ones),
    renames it (as a log rotator does) and starts a new file with the rest; :meth:`undo`
    puts the held-back logs back."""

    def __init__(self, logs: Path, fmt: str, records: int) -> None:
        files = sorted(logs.iterdir())
        self.last = files[-1]
        self.suffix = self.last.suffix
        self.rotated = self.last.with_name(f"{self.last.stem}-rotated{self.suffix}")
        self.new = self.last.with_name(f"{self.last.stem}-new{self.suffix}")
        text = self.last.read_bytes()
        header = text[: text.index(b"\n") + 1] if fmt == "csv" else b""
        held = round((APPENDED + ROTATED_IN) * records)
        cut = len(text)
        for _ in range(held):
            cut = text.rindex(b"\n", 0, cut - 1) + 1
        self.size = cut
        tail = text[cut:]
        split = len(tail)
        for _ in range(round(ROTATED_IN * records)):
            split = tail.rindex(b"\n", 0, split - 1) + 1
        self.appended, self.started = tail[:split], header + tail[split:]
        os.truncate(self.last, self.size)

    def apply(self) -> None:
        with self.last.open("ab") as handle:
            handle.write(self.appended)
        self.last.rename(self.rotated)
        self.new.write_bytes(self.started)

    def undo(self) -> None:
        self.new.unlink()
        self.rotated.rename(self.last)
        os.truncate(self.last, self.size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--since", help="report on records from this time on (--since)")
    args = parser.parse_args()
    dataset = write_dataset(args.records, BENCH / "data" / f"{args.records}-v{VERSION}")
    with tempfile.TemporaryDirectory(prefix="botistat-cache-bench-") as scratch:
        work = Path(scratch)
        logs = work / "logs"
        # A copy: the runs append to the logs and rename them.
        shutil.copytree(dataset / args.format, logs)
        size = sum(p.stat().st_size for p in logs.iterdir())
        growth = Growth(logs, args.format, args.records)
        names = ("plain", "cold", "warm", "plain grown", "grown")
        times: dict[str, list[float]] = {name: [] for name in names}
        peaks: dict[str, list[int]] = {name: [] for name in names}
        for _ in range(args.repeat):
            cache = work / "cache"
            shutil.rmtree(cache, ignore_errors=True)
            seconds, plain = run(logs, None, args.since)
            times["plain"].append(seconds)
            peaks["plain"].append(PEAKS[-1])
            for name in ("cold", "warm"):
                seconds, cached = run(logs, cache, args.since)
                assert cached == plain, f"{name}: the numbers differ from a plain run's"
                times[name].append(seconds)
                peaks[name].append(PEAKS[-1])
            grown_cache = work / "cache-grown"
            shutil.rmtree(grown_cache, ignore_errors=True)
            shutil.copytree(cache, grown_cache)
            growth.apply()
            try:
                seconds, plain = run(logs, None, args.since)
                times["plain grown"].append(seconds)
                peaks["plain grown"].append(PEAKS[-1])
                seconds, cached = run(logs, grown_cache, args.since)
                assert cached == plain, "grown: the numbers differ from a plain run's"
                times["grown"].append(seconds)
                peaks["grown"].append(PEAKS[-1])
            finally:
                growth.undo()
        load = os.getloadavg()
        since = f", --since {args.since}" if args.since else ""
        print(
            f"{args.records:,} records{since}, {args.format}, {size / 1e6:,.0f} MB; median of "
            f"{args.repeat} (min-max); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
            "at the end\n"
        )
        print("| run | seconds | ratio to plain | peak RssAnon MiB |")
        print("|---|---:|---:|---:|")
        for name, values in times.items():
            base = times["plain grown" if "grown" in name else "plain"]
            ratio = statistics.median(values) / statistics.median(base)
            spread = f"{min(values):.2f}-{max(values):.2f}"
            peak = max(peaks[name]) >> 20
            print(
                f"| {name} | {statistics.median(values):.2f} ({spread}) | {ratio:.2f} | {peak:,} |"
            )


if __name__ == "__main__":
    main()
