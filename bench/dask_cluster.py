"""Throughput of ``botistat report --engine dask`` with 1 and 2 worker processes, against the
single-process engine, on the same generated logs; and where the cluster's time goes.

    python bench/dask_cluster.py                                # 1M JSONL records, 1 and 2 workers
    python bench/dask_cluster.py --records 2000000 --format csv --repeat 3

For each worker count a scheduler and that many ``dask worker --nthreads 1`` processes are
started from the command line (not timed), then ``botistat report --engine dask --scheduler``
runs as a child process (timed with ``measure.py``, as the other benchmarks are); its JSON
must equal the single-process run's. One more run, in this process, records Dask's task
stream: the seconds the workers spent parsing, moving pieces between them (the shuffle),
computing partitions' partials; what remains of the wall time is the client's (listing the
inputs, the country lookup, merging the partials, assembling the report) and scheduling.
"""

# Not named distributed.py: with bench/ on sys.path (as the tests put it), that would hide
# the distributed package from everything imported after it.
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from dataset import FORMATS, VERSION, variant_files, write_dataset  # noqa: E402
from measure import measure_ok, warm_page_cache  # noqa: E402

#: Task key prefixes (see botistat/engine/cluster.py) and the stage each belongs to.
STAGES = {
    "botistat-parse": "parse",
    "botistat-summary": "parse",
    "botistat-piece": "shuffle",
    "botistat-partition": "partials",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def cluster(workers: int) -> Iterator[str]:
    """A scheduler and ``workers`` single-threaded worker processes, as a user starts them."""
    dask = str(Path(sys.executable).with_name("dask"))
    address = f"tcp://127.0.0.1:{free_port()}"
    port = address.rsplit(":", 1)[1]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    started = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"], **quiet
        )
    ]
    try:
        for _ in range(workers):
            started.append(
                subprocess.Popen(
                    [dask, "worker", address, "--nthreads", "1", "--no-dashboard"], **quiet
                )
            )
        from distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="2s") as client:
                    client.wait_for_workers(workers, timeout=60)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for process in reversed(started):
            process.terminate()
        for process in started:
            process.wait(timeout=30)


def report(files: list[str], *options: str) -> tuple[float, int, dict[str, Any]]:
    command = [sys.executable, "-m", "botistat", "report", *files, "--format", "json", *options]
    run = measure_ok(command)
    return run.seconds, run.peak_rss_anon, json.loads(run.stdout)


def stages(files: list[str], address: str) -> tuple[float, dict[str, float]]:
    """One report on the cluster in this process: its wall time, and the seconds of task
    time per stage (computing, and for the shuffle, transferring pieces too)."""
    from distributed import Client, get_task_stream

    from botistat.api import ReportRequest, make_report
    from botistat.core.config import Config

    request = ReportRequest(paths=files, engine="dask", scheduler=address)
    with Client(address) as client, get_task_stream(client=client) as stream:
        start = time.perf_counter()
        make_report(request, Config())
        wall = time.perf_counter() - start
    seconds: dict[str, float] = defaultdict(float)
    for task in stream.data:
        key = str(task["key"])
        stage = next((name for prefix, name in STAGES.items() if key.startswith(prefix)), "other")
        for step in task["startstops"]:
            kind = "transfer" if step["action"] == "transfer" else stage
            seconds[kind] += step["stop"] - step["start"]
    return wall, dict(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--format", choices=FORMATS, default="jsonl")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    directory = write_dataset(args.records, BENCH / "data" / f"{args.records}-v{VERSION}")
    files = variant_files(directory, args.format)
    size = sum(Path(p).stat().st_size for p in files)
    warm_page_cache(files)
    print(
        f"{args.records:,} records, {args.format}, {len(files)} files, {size / 1e6:,.0f} MB, "
        f"{os.cpu_count()} cores; median of {args.repeat} run(s)\n"
    )
    local = [report(files) for _ in range(args.repeat)]
    expected = local[0][2]
    rows = [("single process", [run[0] for run in local], [run[1] for run in local], None)]
    for workers in args.workers:
        with cluster(workers) as address:
            runs = [
                report(files, "--engine", "dask", "--scheduler", address)
                for _ in range(args.repeat)
            ]
            for _, _, document in runs:
                if document != expected:
                    raise SystemExit(f"{workers} worker(s): the report differs from one process")
            split = stages(files, address)
        rows.append(
            (f"dask, {workers} worker(s)", [r[0] for r in runs], [r[1] for r in runs], split)
        )
    print("| engine | seconds | records/s | MB/s | client peak RssAnon MiB |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds, memory, _ in rows:
        median = statistics.median(seconds)
        print(
            f"| {name} | {median:.2f} | {args.records / median:,.0f} | {size / 1e6 / median:,.0f} "
            f"| {max(memory) / (1 << 20):,.0f} |"
        )
    print("\nTask seconds per stage (summed over workers), one run in-process:\n")
    print("| engine | wall s | parse | shuffle: pieces | shuffle: transfers | partials | other |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, _, _, split in rows:
        if split is None:
            continue
        wall, seconds = split
        cells = " | ".join(
            f"{seconds.get(kind, 0.0):.2f}"
            for kind in ("parse", "shuffle", "transfer", "partials", "other")
        )
        print(f"| {name} | {wall:.2f} | {cells} |")


if __name__ == "__main__":
    main()
