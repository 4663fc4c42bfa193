"""What tokens cost: per-model prices from the config, else from the ``genai-prices`` package.

``genai-prices`` (MIT, by Pydantic) ships a snapshot of the public price lists of the main model
providers and needs no network. Prices are taken per 1M tokens for input, output, cache reads
and cache writes, at the base tier (a long-context tier, where a provider has one, is not
applied). A model found in neither place is *unpriced*: reported with its tokens, never as $0.

Convention: ``prompt_tokens`` does not include cache tokens (as in Anthropic's usage objects);
``cache_read_tokens`` and ``cache_write_tokens`` are priced at their own rates.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from botistat.core.schema import CACHE_FIELDS

if TYPE_CHECKING:
    import polars as pl

PER_TOKENS: Final = 1_000_000
#: Tokens used to read a rate off genai-prices: small enough to stay in the base tier.
PROBE: Final = 1000
RATE_FIELDS: Final = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True)
class ModelPrice:
    """USD per 1M tokens; a missing cache rate falls back to the input rate."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    source: str = "config"


@dataclass
class PriceBook:
    """Config prices (exact model names, then glob patterns), then genai-prices."""

    overrides: Mapping[str, ModelPrice] = field(default_factory=dict)
    use_package: bool = True
    _cache: dict[str, ModelPrice | None] = field(default_factory=dict)

    def price(self, model: str) -> ModelPrice | None:
        if model not in self._cache:
            self._cache[model] = self._find(model)
        return self._cache[model]

    def _find(self, model: str) -> ModelPrice | None:
        lowered = model.lower()
        for pattern, price in self.overrides.items():
            if pattern.lower() == lowered:
                return price
        for pattern, price in self.overrides.items():
            if fnmatch.fnmatchcase(lowered, pattern.lower()):
                return price
        return _package_price(model) if self.use_package else None

    @property
    def source(self) -> str:
        version = package_version()
        table = f"genai-prices {version}" if version and self.use_package else "no price table"
        extra = f" + {len(self.overrides)} price(s) from the config" if self.overrides else ""
        return table + extra

    def rates(self, models: pl.Series) -> pl.Series:
        """Per-model rates (USD per 1M tokens) as a struct Series, null where unpriced."""
        import polars as pl

        rows = []
        for model in models.to_list():
            price = self.price(model) if model is not None else None
            rows.append(
                None
                if price is None
                else {
                    "input": price.input,
                    "output": price.output,
                    "cache_read": price.cache_read if price.cache_read is not None else price.input,
                    "cache_write": (
                        price.cache_write if price.cache_write is not None else price.input
                    ),
                    "price_source": price.source,
                }
            )
        return pl.Series("rates", rows, dtype=rates_type())


def rates_type() -> pl.DataType:
    import polars as pl

    return pl.Struct({**{name: pl.Float64 for name in RATE_FIELDS}, "price_source": pl.String})


def package_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genai-prices")
    except PackageNotFoundError:
        return None


def _package_price(model: str) -> ModelPrice | None:
    try:
        from genai_prices import Usage, calc_price
    except ImportError:
        return None

    def rate(**usage: int) -> float:
        calculation = calc_price(Usage(**usage), model_ref=model)
        return float(calculation.total_price) * PER_TOKENS / PROBE

    try:
        input_rate = rate(input_tokens=PROBE)
        return ModelPrice(
            input=input_rate,
            output=rate(output_tokens=PROBE),
            # genai-prices counts cached tokens inside input_tokens.
            cache_read=rate(input_tokens=PROBE, cache_read_tokens=PROBE),
            cache_write=rate(input_tokens=PROBE, cache_write_tokens=PROBE),
            source="genai-prices",
        )
    except (LookupError, ValueError, TypeError):
        return None


def record_cost(rates: str = "rates") -> pl.Expr:
    """A message's cost in USD from its tokens and its model's rates (null if unpriced, or if
    it has no prompt/completion split to price)."""
    import polars as pl

    rate = pl.col(rates).struct.field
    tokens = [
        pl.col("prompt_tokens").fill_null(0) * rate("input"),
        pl.col("completion_tokens").fill_null(0) * rate("output"),
        *(pl.col(name).fill_null(0) * rate(name.removesuffix("_tokens")) for name in CACHE_FIELDS),
    ]
    split = pl.any_horizontal(
        pl.col(name).is_not_null() for name in ("prompt_tokens", "completion_tokens", *CACHE_FIELDS)
    )
    priced = pl.col(rates).is_not_null() & split
    return pl.when(priced).then(pl.sum_horizontal(tokens) / PER_TOKENS).otherwise(None)
