"""Type the raw string columns of a parsed block into the canonical record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from botistat.config import Config
from botistat.ingest.cascade import read_in_steps
from botistat.ingest.timestamps import parse_timestamp_series
from botistat.schema import (
    CACHE_FIELDS,
    MESSAGE_ID_PARTS,
    REQUIRED_FIELDS,
    ROLE_OTHER,
    TEXT_FIELDS,
    TOKEN_FIELDS,
    canonical_schema,
)

if TYPE_CHECKING:
    import polars as pl

#: Raw fields each canonical column is computed from.
RAW_INPUTS: Final[dict[str, tuple[str, ...]]] = {
    "timestamp": ("timestamp",),
    "role": ("role",),
    "failed": ("status",),
    "error": ("error", "error_code"),
    "country": ("country",),
    **{name: (name,) for name in TOKEN_FIELDS + TEXT_FIELDS + CACHE_FIELDS},
    "cost": ("cost",),
    "message_id": MESSAGE_ID_PARTS,
}
#: Values of an ``error`` field that mean "no error".
FALSE_WORDS: Final = ("false", "0", "no", "none", "null")


def raw_fields_for(columns: list[str], config: Config | None = None) -> set[str]:
    """The raw fields needed to compute these canonical columns (plus the required ones).

    A message id is read only when the config maps one (merging repeated usage is opt-in).
    """
    wanted = set(REQUIRED_FIELDS)
    for column in columns:
        if column == "message_id":
            if config is not None:
                wanted.update(p for p in MESSAGE_ID_PARTS if p in config.fields)
            continue
        wanted.update(RAW_INPUTS[column])
    return wanted


def canonical_exprs(config: Config, columns: list[str]) -> list[pl.Expr]:
    """Expressions turning raw string columns into the named canonical columns (all but the
    :data:`SERIES_COLUMNS`, which :class:`BlockNormalizer` types as Series)."""
    import polars as pl

    schema = canonical_schema()
    exprs = {
        "failed": _clean(pl.col("status"))
        .str.to_lowercase()
        .is_in(list(config.failed_statuses))
        .fill_null(False),
        "error": _error_flag(pl.col("error"), pl.col("error_code")),
        "country": _clean(pl.col("country")).str.to_uppercase(),
    }
    for name in TEXT_FIELDS:
        exprs[name] = _clean(pl.col(name))
    exprs["cost"] = pl.col("cost").str.strip_chars().cast(pl.Float64, strict=False)
    parts = [p for p in MESSAGE_ID_PARTS if p in config.fields]
    exprs["message_id"] = (
        pl.when(pl.any_horizontal(_clean(pl.col(p)).is_not_null() for p in parts))
        .then(
            pl.concat_str([_clean(pl.col(p)) for p in parts], separator="\x1f", ignore_nulls=True)
        )
        .otherwise(None)
        if parts
        else pl.lit(None, pl.String)
    )
    return [exprs[name].cast(schema[name]).alias(name) for name in columns]


#: Columns :class:`BlockNormalizer` types column by column, faster than their expressions.
SERIES_COLUMNS: Final = ("timestamp", "role", *TOKEN_FIELDS, *CACHE_FIELDS)


class BlockNormalizer:
    """Turns parsed blocks into the canonical columns; the expressions are built once.

    The costliest columns are typed as Series, each in steps that only touch the rows the
    cheap step left over: an eager ``select`` does not share repeated subexpressions, so the
    plain expressions would cast each text several times.
    """

    def __init__(self, config: Config, columns: list[str]) -> None:
        self._columns = columns
        self._config = config
        self._exprs = canonical_exprs(config, [c for c in columns if c not in SERIES_COLUMNS])

    def __call__(self, raw: pl.DataFrame) -> pl.DataFrame:
        """The canonical columns of one parsed block (raw fields it lacks read as missing)."""
        import polars as pl

        schema = canonical_schema()
        typed: list[pl.Series] = []
        for name in self._columns:
            if name == "timestamp":
                typed.append(parse_timestamp_series(raw.get_column(name), self._config.timezone))
            elif name == "role":
                typed.append(_roles(raw.get_column(name), self._config))
            elif name in SERIES_COLUMNS:
                typed.append(_counts(raw.get_column(name)))
        frame = pl.DataFrame([series.cast(schema[series.name]) for series in typed])
        if self._exprs:
            frame = frame.hstack(raw.select(self._exprs)) if typed else raw.select(self._exprs)
        return frame.select(self._columns)


def _roles(raw: pl.Series, config: Config) -> pl.Series:
    """Canonical roles: the few distinct raw values are mapped, then looked up per row,
    straight into the canonical type (a cast afterwards would hash every row again)."""
    import polars as pl

    role_type = canonical_schema()["role"]
    distinct = raw.unique().drop_nulls()
    mapped = distinct.to_frame("role").select(_role(pl.col("role"), config)).to_series()
    return raw.replace_strict(
        distinct, mapped.cast(role_type), default=None, return_dtype=role_type
    )


def _counts(raw: pl.Series) -> pl.Series:
    """Whole numbers, read exactly; only what is not an integer goes through a float."""
    import polars as pl

    if raw.dtype.is_integer():  # read as JSON integers
        return raw.cast(pl.Int64)
    text = raw.str.strip_chars()
    return read_in_steps(
        text,
        text.cast(pl.Int64, strict=False),
        [lambda rest: rest.cast(pl.Float64, strict=False).round().cast(pl.Int64, strict=False)],
    )


def with_missing_raw(frame: pl.DataFrame, raw_fields: set[str]) -> pl.DataFrame:
    """Add the raw fields a block lacks, as null strings."""
    import polars as pl

    missing = [pl.lit(None, pl.String).alias(n) for n in sorted(raw_fields - set(frame.columns))]
    return frame.with_columns(missing) if missing else frame


def _clean(raw: pl.Expr) -> pl.Expr:
    stripped = raw.str.strip_chars()
    return stripped.replace("", None)


def _role(raw: pl.Expr, config: Config) -> pl.Expr:
    import polars as pl

    value = _clean(raw).str.to_lowercase()
    mapped = value.replace_strict(config.role_values(), default=ROLE_OTHER, return_dtype=pl.String)
    return pl.when(value.is_null()).then(None).otherwise(mapped)


def _error_flag(error: pl.Expr, error_code: pl.Expr) -> pl.Expr:
    """``error`` when present and not empty (true unless a false-like word), else whether
    ``error_code`` is non-empty."""
    import polars as pl

    error_text = _clean(error).str.to_lowercase()
    has_code = _clean(error_code).is_not_null()
    return (
        pl.when(error_text.is_not_null())
        .then(~error_text.is_in(list(FALSE_WORDS)))
        .otherwise(has_code)
    )
