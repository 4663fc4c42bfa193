"""Bounded memory: when the records a report needs would not fit the memory budget, spill them.

Counts and sums stream in constant memory, but reply times need each conversation's records in
order, and distinct conversations per country need every conversation id. For inputs too big
for the budget, one streaming pass parses the inputs once and writes the columns the metrics
need to Parquet files on disk, hash-partitioned by conversation so that no conversation is split.
Each partition is then small enough to be processed in memory, and the partial results combine
exactly (see the ``merge_*`` functions in ``botistat.metrics``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from botistat.ingest import Source

if TYPE_CHECKING:
    import polars as pl

MIB: Final = 1 << 20
#: The default budget is an eighth of the machine's memory, kept between these bounds.
MIN_DEFAULT_BUDGET: Final = 256 * MIB
MAX_DEFAULT_BUDGET: Final = 1024 * MIB
#: Bytes of canonical columns per byte of uncompressed input, rounded up from the benchmark
#: logs (about 115 bytes of columns a record: 315 bytes of JSON, 108 of CSV). An unknown
#: format counts as CSV, the denser one, to err on the safe side.
FRAME_BYTES_PER_INPUT_BYTE: Final[dict[str | None, float]] = {
    "jsonl": 0.5,
    "csv": 1.2,
    "tsv": 1.2,
    None: 1.2,
}
#: Gzip-compressed logs expand five to fifteen times (the benchmark's JSON Lines: 12.8).
GZIP_EXPANSION: Final = 12
#: Processing a partition (the country join, the group keys, the reply sort, the group-bys)
#: peaked at six to seven times its columns on the benchmark logs.
WORKING_SET_FACTOR: Final = 8
#: Partitions used when the input size is unknown (stdin).
UNKNOWN_SIZE_PARTITIONS: Final = 16
#: The smallest partition spilled to: 32 MiB of columns, what the smallest default budget
#: (256 MiB) allows one. Memory the budget does not bound (the blocks being read and parsed,
#: the spill writers, Polars' and Python's own: about 300 MB on the benchmark machine) is
#: most of the peak below it, and each further partition only adds its own costs (an open
#: Parquet writer, about 0.3 MB, its row groups, its partial results and files): with
#: smaller partitions a smaller budget used more memory than a larger one.
MIN_PARTITION_BYTES: Final = MIN_DEFAULT_BUDGET // WORKING_SET_FACTOR
PARTITION_COLUMN: Final = "botistat_partition"
#: The column of :func:`conversation_hash` where a frame carries it.
CONVERSATION_KEY: Final = "conversation_hash"
HASH_SEED: Final = 20261125
#: Rows the partition files buffer in all before writing them: every open partition holds
#: one row group in memory during the spill, so the more partitions, the smaller the groups
#: (between the bounds below), and the spill pass stays the same size whatever the input.
SPILL_BUFFER_ROWS: Final = 12 * 65_536
ROW_GROUP_ROWS: Final = (8_192, 65_536)


def conversation_hash() -> pl.Expr:
    """The hash partitions are split by (equal ids, equal hashes; a null id hashes too)."""
    import polars as pl

    return pl.col("conversation_id").hash(HASH_SEED)


def default_memory_budget() -> int:
    """An eighth of physical memory, at least 256 MiB and at most 1 GiB."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return MIN_DEFAULT_BUDGET
    return max(MIN_DEFAULT_BUDGET, min(MAX_DEFAULT_BUDGET, total // 8))


def estimated_frame_bytes(sources: Sequence[Source]) -> int | None:
    """Roughly how much memory the canonical records of these inputs take; None if unknown."""
    total = 0
    for source in sources:
        if source.size is None:
            return None
        expanded = source.size * (GZIP_EXPANSION if source.gzip else 1)
        total += int(expanded * FRAME_BYTES_PER_INPUT_BYTE[source.format])
    return total


def partitions_for(sources: Sequence[Source], budget: int) -> int:
    """How many partitions to spill to; 0 means the records fit in memory as they are.

    The records spill when their columns would take more than a partition's share of the
    budget, into partitions of that share, but none smaller than :data:`MIN_PARTITION_BYTES`:
    a budget under 256 MiB spills as 256 MiB does (into one partition at least, which still
    keeps reading and processing apart), never into more partitions.
    """
    estimate = estimated_frame_bytes(sources)
    if estimate is None:
        return UNKNOWN_SIZE_PARTITIONS
    per_partition = budget // WORKING_SET_FACTOR
    if estimate <= per_partition:
        return 0
    return math.ceil(estimate / max(per_partition, MIN_PARTITION_BYTES))


def spill(
    frame: pl.LazyFrame,
    directory: Path,
    partitions: int,
    key: pl.Expr | None = None,
    drop: Sequence[str] = (),
) -> dict[int, pl.LazyFrame]:
    """Write ``frame`` to ``directory`` in one streaming pass, split by conversation (or by
    ``key``, an integer expression that keeps each conversation in one partition; the
    columns ``drop`` are not written).

    Returns the partitions written (an empty one is not), by number; rows keep their input
    order within each.
    """
    import polars as pl

    if key is None:
        key = conversation_hash() % partitions
    frame.with_columns(key.alias(PARTITION_COLUMN)).drop(drop).sink_parquet(
        pl.PartitionBy(directory, key=PARTITION_COLUMN, include_key=False),
        mkdir=True,
        maintain_order=True,
        compression="lz4",
        row_group_size=row_group_rows(partitions),
        # Each partition is read back whole: min/max statistics would never skip a row
        # group, and computing them took an eighth of the spill's time.
        statistics=False,
        engine="streaming",
    )
    found = {}
    for part in directory.glob(f"{PARTITION_COLUMN}=*"):
        if part.is_dir():
            found[int(part.name.split("=", 1)[1])] = pl.scan_parquet(part / "*.parquet")
    return dict(sorted(found.items()))


def row_group_rows(partitions: int) -> int:
    """Rows per row group of each of ``partitions`` files, see :data:`SPILL_BUFFER_ROWS`."""
    smallest, largest = ROW_GROUP_ROWS
    return max(smallest, min(largest, SPILL_BUFFER_ROWS // partitions))


_SIZE_UNITS: Final = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """``512M``, ``2G``, ``1.5GiB``, ``800MB`` or a number of bytes; binary units."""
    import re

    from botistat.core.errors import ConfigError

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(
            f"cannot read size {text!r}", "--memory-budget", "use a size such as 512M or 2G"
        )
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])
