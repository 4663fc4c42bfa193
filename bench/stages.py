"""Where a report's time goes, stage by stage, on the plain dataset (bench/plain_dataset.py).

    python bench/stages.py                       # 2M records, JSON Lines
    python bench/stages.py --records 10000000 --format csv

Each stage runs alone, in this process, on the output of the one before (materialised), and
is timed in wall seconds and CPU seconds (all threads): start-up of the command, parsing the
blocks (Polars' reader, one block after another), typing them (timestamps, roles, counts),
the scan as a report runs it (both together, in worker threads), the country lookup of the
distinct addresses, joining the countries back and giving replies their user's country, the
metric partials (one collect of every query), assembling the report, and the JSON output.
The spill a report over its memory budget makes is timed apart, and the whole command last,
in a fresh process, in memory and spilled. Stages overlap in a real run (parsing and typing
run in parallel), so their sum is not the whole run's time.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from dataset import FORMATS, variant_files  # noqa: E402
from measure import measure, warm_page_cache  # noqa: E402
from plain_dataset import VERSION, write_plain_dataset  # noqa: E402

ROWS: list[tuple[str, float, float, str]] = []


@contextmanager
def stage(name: str, note: str = "") -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    ROWS.append((name, time.perf_counter() - wall, time.process_time() - cpu, note))


def timed(name: str, work: Callable[[], Any], note: str = "") -> Any:
    with stage(name, note):
        return work()


def child(name: str, command: list[str]) -> None:
    """Time a command in a child process: wall, CPU of the child (all its threads), memory."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = measure(command)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    ROWS.append((name, run.seconds, cpu, f"peak RssAnon {run.peak_rss_anon / 1e6:,.0f} MB"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--format", choices=FORMATS, default="jsonl")
    args = parser.parse_args()

    import polars as pl

    from botistat.core.config import Config
    from botistat.core.pricing import PriceBook
    from botistat.core.schema import METRIC_COLUMNS, canonical_schema
    from botistat.engine.local import _collect_partials
    from botistat.engine.partition import spill
    from botistat.geo.lookup import lookup_table, resolve_countries
    from botistat.geo.sources import RegistrySource
    from botistat.ingest import resolve_sources, scan_sources
    from botistat.ingest.blocks import DEFAULT_BLOCK_SIZE
    from botistat.ingest.decoder import SourceDecoder
    from botistat.ingest.normalize import with_missing_raw
    from botistat.ingest.salvage import ReadableBlocks
    from botistat.ingest.stats import IngestStats
    from botistat.metrics.countries import attributed_to_user
    from botistat.metrics.merge import merged_count
    from botistat.report.assemble import assemble_report
    from botistat.report.document import report_document
    from botistat.report.options import ReportOptions

    directory = write_plain_dataset(
        args.records, BENCH / "data" / f"plain-{args.records}-v{VERSION}"
    )
    paths = variant_files(directory, args.format)
    size = sum(Path(p).stat().st_size for p in paths)
    warm_page_cache(paths)

    command = [sys.executable, "-m", "botistat"]
    child("start-up (botistat --help)", [*command, "--help"])

    sources = resolve_sources(paths)
    columns = [c for c in METRIC_COLUMNS if c not in ("exchange", "latency_ms", "message_id")]
    config = Config()
    decoders = []
    blocks = []
    for source in sources:
        fmt = "csv" if args.format == "csv" else "jsonl"
        decoder = SourceDecoder(source, fmt, config, IngestStats(), columns)
        quote = b'"' if fmt == "csv" else None
        cut = ReadableBlocks(source, quote=quote, block_size=DEFAULT_BLOCK_SIZE, salvage=True)
        read = [block for block, _ in cut]
        read[0] = decoder.start(read[0])
        decoders.append(decoder)
        blocks.append(read)
    parsed = []
    with stage("parse (one block after another)", f"{sum(len(b) for b in blocks)} blocks"):
        for decoder, read in zip(decoders, blocks, strict=True):
            parsed.append([decoder._parse(block) for block in read])
    with stage("type (timestamps, roles, counts)"):
        for decoder, done in zip(decoders, parsed, strict=True):
            for block in done:
                decoder._normalize.checked(with_missing_raw(block.frame, decoder._raw_fields))
    del parsed, blocks

    scan = scan_sources(sources, config)
    wanted = [c for c in METRIC_COLUMNS if c not in scan.constants]
    records = timed(
        "scan: parse and type (worker threads)", lambda: scan.frame.select(wanted).collect()
    )
    schema = canonical_schema()
    keyed = records.lazy().with_columns(
        pl.lit(value, schema[name]).alias(name)
        for name, value in scan.constants.items()
        if name in METRIC_COLUMNS
    )
    table = timed(
        "country lookup (distinct addresses)",
        lambda: lookup_table(keyed, RegistrySource()).collect(),
    )
    resolved = timed("countries joined back", lambda: resolve_countries(keyed, table).collect())
    part = timed(
        "countries of replies (their user's)", lambda: attributed_to_user(resolved.lazy()).collect()
    )
    options = ReportOptions()
    book = PriceBook()
    partials = timed(
        "metric partials (one collect)",
        lambda: _collect_partials([(part.lazy(), merged_count(keyed))], [], options, book),
    )
    report = timed(
        "assemble the report",
        lambda: assemble_report(
            scan.stats.summary(), options, partials, RegistrySource().info, book.source
        ),
    )
    timed("JSON output", lambda: json.dumps(report_document(report)))
    with tempfile.TemporaryDirectory() as scratch:
        timed("spill to 8 partitions (apart)", lambda: spill(keyed, Path(scratch), 8))

    for label, budget in (
        ("whole command, in memory", "64G"),
        ("whole command, default budget", None),
    ):
        extra = ["--memory-budget", budget] if budget else []
        child(label, [*command, "report", *paths, "-f", "json", *extra])

    print(f"{args.records:,} plain records, {args.format}, {size / 1e6:,.0f} MB\n")
    print("| stage | wall s | CPU s | note |")
    print("|---|---:|---:|---|")
    for name, wall, cpu, note in ROWS:
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {note} |")


if __name__ == "__main__":
    main()
