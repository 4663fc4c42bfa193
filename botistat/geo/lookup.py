"""Give every record a country: its own ``country`` field, else a lookup of its IP.

Each distinct address is classified and looked up once; the small table of results is joined
back onto the records. Records without a country get the reason in ``country_unknown``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botistat.geo.addresses import NO_IP, NOT_FOUND, classify, ip_key
from botistat.geo.sources import CountrySource

if TYPE_CHECKING:
    import polars as pl

IP_KEY = "ip_key"


def with_ip_key(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Replace ``ip`` by its canonical spelling, the key of the lookup table."""
    import polars as pl

    return frame.with_columns(ip_key(pl.col("ip")).alias(IP_KEY)).drop("ip")


def lookup_table(keyed: pl.LazyFrame, source: CountrySource) -> pl.LazyFrame:
    """One row per distinct address with no country of its own: (``ip_key``, code, reason)."""
    import polars as pl

    dtype = pl.Struct({"ip_country": pl.String, "ip_reason": pl.String})
    return (
        keyed.filter(pl.col("country").is_null() & pl.col(IP_KEY).is_not_null())
        .select(IP_KEY)
        .unique()
        .with_columns(
            pl.col(IP_KEY)
            .map_batches(lambda keys: _look_up(keys, source), return_dtype=dtype)
            .alias("geo")
        )
        .unnest("geo")
    )


def resolve_countries(keyed: pl.LazyFrame, table: pl.LazyFrame) -> pl.LazyFrame:
    """Set ``country`` from the record or its address, and ``country_unknown`` when neither."""
    import polars as pl

    joined = keyed.join(table, on=IP_KEY, how="left", maintain_order="left")
    reason = (
        pl.when(pl.col("country").is_not_null())
        .then(None)
        .when(pl.col(IP_KEY).is_null())
        .then(pl.lit(NO_IP))
        .otherwise(pl.col("ip_reason"))
    )
    return joined.with_columns(
        pl.coalesce("country", "ip_country").alias("country"),
        reason.alias("country_unknown"),
    ).drop(IP_KEY, "ip_country", "ip_reason")


def _look_up(keys: pl.Series, source: CountrySource) -> pl.Series:
    import polars as pl

    addresses = keys.to_list()
    reasons: list[str | None] = [classify(address) for address in addresses]
    public = [address for address, reason in zip(addresses, reasons, strict=True) if not reason]
    found = iter(source.lookup(public))
    countries: list[str | None] = []
    for index, reason in enumerate(reasons):
        if reason is not None:
            countries.append(None)
            continue
        code = next(found)
        countries.append(code.upper() if code else None)
        if not code:
            reasons[index] = NOT_FOUND
    return pl.DataFrame(
        {"ip_country": countries, "ip_reason": reasons},
        schema={"ip_country": pl.String, "ip_reason": pl.String},
    ).to_struct("geo")
