"""Deterministic benchmark logs: N records of interleaved conversations, in several formats.

Generated with Polars expressions (no Python loop per record), so 10M records take seconds.
Each variant holds the same records split into daily-ish files:

- ``jsonl/``: JSON Lines; timestamps in eight styles mixed within files (see
  ``_timestamp_text``), plus one file with numeric epoch milliseconds;
- ``csv/``: the same records as CSV with a different column order;
- ``gz/``: the JSON Lines files gzip-compressed.

Timestamps within a conversation are distinct, so reply times never depend on tie order.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl

START_MS = 1_794_873_600_000  # 2026-11-17T00:00:00Z
SPAN_MS = 3 * 86_400_000
TURNS = 8  # records per conversation: user, bot, user, bot, ...
FILES = 6
STYLES = 8  # timestamp styles, see _timestamp_text
#: Bump when the generated records change, so cached datasets are made anew.
VERSION = 2
COUNTRIES = ["US", "DE", "IN", "GB", "FR", "BR", "JP", "ES", "IT", "NL", "PL", "MX", "CA", "AU"]
COLUMNS = [
    "timestamp",
    "conversation_id",
    "role",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "error",
    "error_code",
    "ip",
    "country",
    "bot_id",
    "channel",
    "model",
    "user_id",
]


def _uniform(seed: int, modulo: int) -> pl.Expr:
    """A deterministic pseudo-random integer in [0, modulo) per row."""
    return (pl.int_range(pl.len(), dtype=pl.UInt64).hash(seed) % modulo).cast(pl.Int64)


def records(n: int) -> pl.DataFrame:
    """The benchmark records, in time order, with typed columns."""
    conversations = max(1, n // TURNS)
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    conversation = index // TURNS
    turn = index % TURNS
    is_user = turn % 2 == 0
    # Each conversation starts at a pseudo-random time; turns follow 1-30 s apart.
    start = (conversation.hash(11) % SPAN_MS).cast(pl.Int64) + START_MS
    step = (index.hash(12) % 29_000).cast(pl.Int64) + 1_000
    frame = pl.DataFrame({"i": pl.int_range(n, eager=True)}).select(
        conversation.alias("c"),
        turn.alias("turn"),
        is_user.alias("is_user"),
        (start + turn * 30_000 + step).alias("ms"),
        _uniform(13, 100).alias("roll"),
        _uniform(14, 3000).alias("prompt"),
        _uniform(15, 800).alias("completion"),
        _uniform(16, len(COUNTRIES) * 3).alias("country_pick"),
        _uniform(17, STYLES).alias("style"),
    )
    failed = ~pl.col("is_user") & (pl.col("roll") < 3)
    errored = ~pl.col("is_user") & (pl.col("roll") < 5)
    bot = pl.col("c") % 3
    return frame.sort("ms").select(
        pl.col("ms"),
        pl.col("style"),
        pl.format("conv-{}", pl.col("c")).alias("conversation_id"),
        pl.when(pl.col("is_user"))
        .then(pl.lit("user"))
        .otherwise(pl.lit("assistant"))
        .alias("role"),
        pl.when(failed).then(pl.lit("failed")).otherwise(pl.lit("delivered")).alias("status"),
        pl.when(pl.col("is_user")).then(None).otherwise(pl.col("prompt")).alias("prompt_tokens"),
        pl.when(pl.col("is_user") | failed)
        .then(None)
        .otherwise(pl.col("completion"))
        .alias("completion_tokens"),
        pl.lit(None, pl.Int64).alias("total_tokens"),
        pl.when(errored).then(True).otherwise(None).alias("error"),
        pl.when(errored).then(pl.lit("rate_limit")).otherwise(None).alias("error_code"),
        pl.format("10.{}.{}.7", pl.col("c") % 200, (pl.col("c") // 200) % 250).alias("ip"),
        pl.when(pl.col("is_user") & (pl.col("country_pick") < len(COUNTRIES)))
        .then(pl.col("country_pick").replace_strict(dict(enumerate(COUNTRIES))))
        .otherwise(None)
        .alias("country"),
        pl.format("bot-{}", bot).alias("bot_id"),
        pl.when(bot == 0).then(pl.lit("web")).otherwise(pl.lit("whatsapp")).alias("channel"),
        pl.lit("gpt-4o-mini").alias("model"),
        pl.format("user-{}", pl.col("c") % max(1, conversations // 3)).alias("user_id"),
    )


def iso_timestamp() -> pl.Expr:
    """The records' time as most logs write it: ISO 8601 with milliseconds and ``Z``."""
    return (
        pl.from_epoch(pl.col("ms"), time_unit="ms")
        .dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .alias("timestamp")
    )


def _timestamp_text() -> pl.Expr:
    """Every supported style, as strings: ISO with Z, with an offset, naive with a space or a
    T, epoch milliseconds, microseconds, fractional seconds and whole seconds (the last one
    drops the milliseconds, which both engines then see alike)."""
    moment = pl.from_epoch(pl.col("ms"), time_unit="ms").dt.replace_time_zone("UTC")
    berlin = moment.dt.convert_time_zone("Europe/Berlin")
    ms = pl.col("ms")
    style = pl.col("style")
    return (
        pl.when(style == 0)
        .then(moment.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))
        .when(style == 1)
        .then(berlin.dt.strftime("%Y-%m-%dT%H:%M:%S%.3f%:z"))
        .when(style == 2)
        .then(moment.dt.strftime("%Y-%m-%d %H:%M:%S%.3f"))
        .when(style == 3)
        .then(moment.dt.strftime("%Y-%m-%dT%H:%M:%S%.3f"))
        .when(style == 4)
        .then((ms * 1000).cast(pl.String))
        .when(style == 5)
        .then(pl.format("{}.{}", ms // 1000, (ms % 1000).cast(pl.String).str.zfill(3)))
        .when(style == 6)
        .then((ms // 1000).cast(pl.String))
        .otherwise(ms.cast(pl.String))
        .alias("timestamp")
    )


def write_dataset(n: int, directory: Path, files: int = FILES) -> Path:
    """Write all variants of ``n`` records under ``directory`` (kept when already complete)."""
    shuffled = [COLUMNS[0], *reversed(COLUMNS[1:])]

    def jsonl(k: int, part: pl.DataFrame) -> pl.DataFrame:
        if k == files - 1:
            # One file with numeric epoch milliseconds, as some SDKs write them.
            return part.select(pl.col("ms").alias("timestamp"), *COLUMNS[1:])
        return part.select(_timestamp_text(), *COLUMNS[1:])

    def csv(_: int, part: pl.DataFrame) -> pl.DataFrame:
        return part.select(_timestamp_text(), *COLUMNS[1:]).select(shuffled)

    return write_variants(directory, lambda: records(n), files, jsonl, csv)


Variant = Callable[[int, pl.DataFrame], pl.DataFrame]
#: The variants written, each in a directory of its name.
FORMATS = ("jsonl", "csv", "gz")


def variant_files(directory: Path, fmt: str) -> list[str]:
    """The files of one variant of a dataset written by :func:`write_variants`, in order."""
    return sorted(str(p) for p in (directory / fmt).iterdir())


def write_variants(
    directory: Path, frame: Callable[[], pl.DataFrame], files: int, jsonl: Variant, csv: Variant
) -> Path:
    """Split ``frame()`` into ``files`` parts and write each as JSON Lines (``jsonl(k,
    part)``), CSV (``csv(k, part)``) and gzipped JSON Lines under ``directory``, unless a
    complete set is there already."""
    done = directory / ".complete"
    if done.exists():
        return directory
    if directory.exists():
        shutil.rmtree(directory)
    for sub in FORMATS:
        (directory / sub).mkdir(parents=True)
    rows = frame()
    bounds = [round(rows.height * k / files) for k in range(files + 1)]
    for k in range(files):
        part = rows.slice(bounds[k], bounds[k + 1] - bounds[k])
        written = directory / "jsonl" / f"part-{k}.jsonl"
        jsonl(k, part).write_ndjson(written)
        csv(k, part).write_csv(directory / "csv" / f"part-{k}.csv")
        with (
            written.open("rb") as source,
            gzip.open(directory / "gz" / f"part-{k}.jsonl.gz", "wb", compresslevel=6) as target,
        ):
            shutil.copyfileobj(source, target, 16 << 20)
    done.touch()
    return directory
