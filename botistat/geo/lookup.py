"""Give every record a country: its own ``country`` field, else a lookup of its IP.

The distinct raw ``ip`` values are collected first, cleaned up, classified and looked up once
each; the small table of results is joined back onto the records. Records without a country
get the reason in ``country_unknown``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botistat.geo.addresses import (
    NO_IP,
    NOT_FOUND,
    PRIVATE,
    classify,
    common_private_ipv4,
    ip_key,
    surely_public,
)
from botistat.geo.sources import CountrySource

if TYPE_CHECKING:
    import polars as pl


def lookup_table(frame: pl.LazyFrame, source: CountrySource) -> pl.LazyFrame:
    """One row per distinct raw ``ip`` of records without a country: code and reason."""
    import polars as pl

    dtype = pl.Struct({"ip_country": pl.String, "ip_reason": pl.String})
    return (
        frame.filter(pl.col("country").is_null() & pl.col("ip").is_not_null())
        .select("ip")
        .unique()
        .with_columns(
            ip_key(pl.col("ip"))
            .map_batches(lambda keys: _look_up(keys, source), return_dtype=dtype)
            .alias("geo")
        )
        .unnest("geo")
    )


def resolve_countries(frame: pl.LazyFrame, table: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """Set ``country`` from the record or its address, and ``country_unknown`` when neither.

    A ``table`` already collected is looked up by position: each record's address is turned
    into its row in the table, and the results gathered from there (on a partition of the
    benchmark in memory, half the CPU of a join that keeps the records' order). A lazy one
    is joined.
    """
    import polars as pl

    if isinstance(table, pl.DataFrame):
        row = pl.col("ip").replace_strict(
            table.get_column("ip"),
            pl.int_range(table.height, dtype=pl.UInt32, eager=True),
            default=None,
            return_dtype=pl.UInt32,
        )
        joined = frame.with_columns(
            pl.lit(table.get_column(name)).gather(row).alias(name)
            for name in ("ip_country", "ip_reason")
        )
    else:
        joined = frame.join(table, on="ip", how="left", maintain_order="left")
    reason = (
        pl.when(pl.col("country").is_not_null())
        .then(None)
        .when(pl.col("ip").is_null())
        .then(pl.lit(NO_IP))
        .otherwise(pl.col("ip_reason"))
    )
    return joined.with_columns(
        pl.coalesce("country", "ip_country").alias("country"),
        reason.alias("country_unknown"),
    ).drop("ip", "ip_country", "ip_reason")


def _look_up(keys: pl.Series, source: CountrySource) -> pl.Series:
    """Classify and look up each distinct cleaned-up address once."""
    import polars as pl

    private = set(keys.filter(common_private_ipv4(keys)).to_list())
    surely = set(keys.filter(surely_public(keys)).to_list())
    distinct = [key for key in dict.fromkeys(keys.to_list()) if key is not None]
    reasons: dict[str, str | None] = {
        key: None if key in surely else PRIVATE if key in private else classify(key)
        for key in distinct
    }
    public = [key for key, reason in reasons.items() if reason is None]
    codes = dict(zip(public, source.lookup(public), strict=True))
    countries: list[str | None] = []
    found_reasons: list[str | None] = []
    for key in keys.to_list():
        code = codes.get(key) if key is not None else None
        countries.append(code.upper() if code else None)
        if key is None:
            found_reasons.append(NO_IP)
        elif code:
            found_reasons.append(None)
        else:
            found_reasons.append(reasons[key] or NOT_FOUND)
    return pl.DataFrame(
        {"ip_country": countries, "ip_reason": found_reasons},
        schema={"ip_country": pl.String, "ip_reason": pl.String},
    ).to_struct("geo")
