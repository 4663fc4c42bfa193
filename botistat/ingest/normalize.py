"""Type the raw string columns of a parsed block into the canonical record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from botistat.core.config import Config
from botistat.core.schema import (
    CACHE_FIELDS,
    MESSAGE_ID_PARTS,
    REQUIRED_FIELDS,
    ROLE_OTHER,
    TEXT_FIELDS,
    TOKEN_FIELDS,
    canonical_schema,
)
from botistat.ingest.cascade import read_in_steps
from botistat.ingest.plausible import BOUNDS, checked
from botistat.ingest.timestamps import parse_timestamp_series

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
#: A count written with thousands separators (``1,200``, ``12,000,000.0``).
THOUSANDS: Final = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$"
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


def field_exprs(config: Config) -> dict[str, tuple[str, pl.Expr]]:
    """The canonical columns computed from one raw field each: the raw field, and the
    expression (of that field alone, value by value) that types it."""
    import polars as pl

    schema = canonical_schema()
    exprs = {
        "failed": (
            "status",
            _clean(pl.col("status"))
            .str.to_lowercase()
            .is_in(list(config.failed_statuses))
            .fill_null(False),
        ),
        "country": ("country", _clean(pl.col("country")).str.to_uppercase()),
        "cost": ("cost", pl.col("cost").str.strip_chars().cast(pl.Float64, strict=False)),
        **{name: (name, _clean(pl.col(name))) for name in TEXT_FIELDS},
    }
    return {
        name: (field, expr.cast(schema[name]).alias(name)) for name, (field, expr) in exprs.items()
    }


def message_id_expr(config: Config) -> pl.Expr | None:
    """The message id: the mapped id fields joined, those missing left out, null when the
    first is missing (it names the message, the others only tell its repeats apart: a user
    line with a session id and no message id of its own is no repeat of anything); None when
    the config maps no id field."""
    import polars as pl

    parts = [p for p in MESSAGE_ID_PARTS if p in config.fields]
    if not parts:
        return None
    return (
        pl.when(_clean(pl.col(parts[0])).is_not_null())
        .then(
            pl.concat_str([_clean(pl.col(p)) for p in parts], separator="\x1f", ignore_nulls=True)
        )
        .otherwise(None)
        .alias("message_id")
    )


#: Columns :class:`BlockNormalizer` types column by column, faster than their expressions.
SERIES_COLUMNS: Final = ("timestamp", "role", *TOKEN_FIELDS, *CACHE_FIELDS)
#: A column with at most this many distinct values is typed once per value (see
#: :class:`ByValue`); one with more, row by row.
DISTINCT_LIMIT: Final = 64
#: Rows that tell a column of many distinct values (ids, addresses) before it is hashed whole.
DISTINCT_SAMPLE: Final = 1024
#: Distinct results matched back onto the rows; with more, every row is typed.
MAX_RESULTS: Final = 4
#: Values matched by comparisons, beyond this with a hash lookup.
MAX_COMPARISONS: Final = 8
#: Typed values remembered per column; beyond this, forgotten and typed again.
KNOWN_LIMIT: Final = 4096


class BlockNormalizer:
    """Turns parsed blocks into the canonical columns; the expressions are built once.

    The costliest columns are typed as Series, each in steps that only touch the rows the
    cheap step left over: an eager ``select`` does not share repeated subexpressions, so the
    plain expressions would cast each text several times. Columns of few distinct values
    (statuses, roles, countries, bots, models) are typed once per value.
    """

    def __init__(self, config: Config, columns: list[str]) -> None:
        import polars as pl

        self._columns = columns
        self._config = config
        self._fields = {
            name: (field, ByValue(expr)) for name, (field, expr) in field_exprs(config).items()
        }
        error = _clean(pl.col("error")).str.to_lowercase()
        # The error flag: what ``error`` says (null where it says nothing), else whether
        # there is an ``error_code``.
        said = pl.when(error.is_not_null()).then(~error.is_in(list(FALSE_WORDS)))
        self._error_said = ByValue(said.alias("error"))
        self._error_coded = ByValue(_clean(pl.col("error_code")).is_not_null().alias("error"))
        self._role = ByValue(
            _role(pl.col("role"), config).cast(canonical_schema()["role"]).alias("role")
        )
        self._message_id = message_id_expr(config)

    def __call__(self, raw: pl.DataFrame) -> pl.DataFrame:
        """The canonical columns of one parsed block (raw fields it lacks read as missing)."""
        return self.checked(raw)[0]

    def checked(self, raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame | None]:
        """The canonical columns, and the implausible values dropped from them (``row``,
        ``problem``, ``value``; see :mod:`botistat.ingest.plausible`), if any."""
        import polars as pl

        typed: list[pl.Series] = []
        problems: list[pl.DataFrame] = []

        def plausible(name: str, column: pl.Series, raw_column: pl.Series) -> pl.Series:
            column, found = checked(name, column, raw_column)
            if found is not None:
                problems.append(found)
            return column

        for name in self._columns:
            if name == "timestamp":
                typed.append(parse_timestamp_series(raw.get_column(name), self._config.timezone))
            elif name == "role":
                typed.append(self._role(raw.get_column("role")))
            elif name in SERIES_COLUMNS:
                column = raw.get_column(name)
                typed.append(plausible(name, _counts(column).alias(name), column))
            elif name == "error":
                said = self._error_said(raw.get_column("error"))
                coded = self._error_coded(raw.get_column("error_code"))
                typed.append(said.zip_with(said.is_not_null(), coded))
            elif name == "message_id":
                typed.append(
                    pl.Series(name, [None], pl.String).new_from_index(0, raw.height)
                    if self._message_id is None
                    else raw.select(self._message_id).to_series()
                )
            elif name in BOUNDS:
                field, typing = self._fields[name]
                column = raw.get_column(field)
                typed.append(plausible(name, typing(column), column))
            else:
                field, typing = self._fields[name]
                typed.append(typing(raw.get_column(field)))
        return pl.DataFrame(typed), pl.concat(problems) if problems else None


class ByValue:
    """Types a column value by value with ``typing`` (an expression of that column alone),
    each distinct value once, remembering the results across blocks.

    Statuses, roles, countries, bots and models repeat a few values: the rows are matched
    against the values by equality, one comparison per value, which is several times
    cheaper than stripping, lowercasing and looking up every row. A column whose values are
    already what they type to (clean text) is returned as it is. Columns of many distinct
    values, or of many distinct results, are typed row by row. Safe to share between
    threads: at worst two threads type the same new value. At most :data:`KNOWN_LIMIT`
    values are remembered.
    """

    def __init__(self, typing: pl.Expr) -> None:
        self._typing = typing
        self._known: dict[Any, Any] = {}
        #: The name and type of the results, once known.
        self._result: tuple[str, pl.DataType] | None = None

    def __call__(self, raw: pl.Series) -> pl.Series:
        import polars as pl

        if raw.null_count() == len(raw):  # a field the input does not have
            values: list[Any] = [None]
        else:
            if raw.head(DISTINCT_SAMPLE).n_unique() > DISTINCT_LIMIT // 2:
                return self._every_row(raw)
            distinct = raw.unique()
            if len(distinct) > DISTINCT_LIMIT:
                return self._every_row(raw)
            values = distinct.to_list()
        # Other threads may replace the dict of known values, never change it.
        known = self._known
        new = [value for value in values if value not in known]
        if new:
            results = self._every_row(pl.Series(raw.name, new, raw.dtype))
            self._result = (results.name, results.dtype)
            typed_now = dict(zip(new, results.to_list(), strict=True))
            if len(known) + len(new) > KNOWN_LIMIT:  # start over with this block's values
                known = {value: known[value] for value in values if value in known}
            known = known | typed_now
            self._known = known
        assert self._result is not None  # set before any value is known
        name, dtype = self._result
        if dtype == raw.dtype and all(known[value] == value for value in values):
            return raw.alias(name)
        # The rows of a missing value, and of every value typed the same way, need no match.
        fallback = known[None] if None in values else None
        matched: dict[Any, list[Any]] = {}
        for value in values:
            if value is not None and known[value] != fallback:
                matched.setdefault(known[value], []).append(value)
        if len(matched) > MAX_RESULTS:
            return self._every_row(raw)
        if not matched:
            return pl.Series(name, [fallback], dtype).new_from_index(0, len(raw))
        typed = pl.lit(fallback, dtype)
        column = pl.col(raw.name)
        for result, alike in matched.items():
            typed = pl.when(_equals_any(column, alike)).then(pl.lit(result, dtype)).otherwise(typed)
        return raw.to_frame().select(typed.alias(name)).to_series()

    def _every_row(self, raw: pl.Series) -> pl.Series:
        return raw.to_frame().select(self._typing).to_series()


def _equals_any(column: pl.Expr, values: list[Any]) -> pl.Expr:
    """Whether ``column`` is one of ``values``: comparisons, a tenth of the cost of a hash
    lookup each, while there are few."""
    import operator
    from functools import reduce

    if len(values) > MAX_COMPARISONS:
        return column.is_in(values)
    any_of: pl.Expr = reduce(operator.or_, (column == value for value in values))
    return any_of


def _counts(raw: pl.Series) -> pl.Series:
    """Whole numbers, read exactly; only what is not an integer goes through a float (a
    fraction is rounded half to even), and digits grouped by thousands (``1,200``) are read
    without the commas. Bounds are checked after (:func:`~botistat.ingest.plausible.checked`).
    """
    import polars as pl

    if raw.dtype.is_integer():  # read as JSON integers
        return raw.cast(pl.Int64)
    text = raw.str.strip_chars()
    return read_in_steps(
        text,
        text.cast(pl.Int64, strict=False),
        [_rounded, _grouped],
    )


def _rounded(text: pl.Series) -> pl.Series:
    import polars as pl

    return text.cast(pl.Float64, strict=False).round().cast(pl.Int64, strict=False)


def _grouped(text: pl.Series) -> pl.Series:
    """``1,200`` as 1200: commas between groups of three digits, nothing else."""
    import polars as pl

    digits = pl.first()
    plain = text.to_frame().select(
        pl.when(digits.str.contains(THOUSANDS)).then(digits.str.replace_all(",", "", literal=True))
    )
    return _rounded(plain.to_series())


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
