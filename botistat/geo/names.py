"""Country names for ISO 3166-1 alpha-2 codes, from the pycountry database."""

from __future__ import annotations

from functools import cache
from typing import Final

#: Codes in use by registries but not (yet) in ISO 3166-1.
_EXTRA: Final = {"XK": "Kosovo", "EU": "European Union", "AP": "Asia/Pacific Region"}


@cache
def country_name(code: str) -> str | None:
    """The common English name of a country code (``KR`` -> South Korea), or None."""
    import pycountry

    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None:
        return _EXTRA.get(code.upper())
    name: str = getattr(country, "common_name", None) or country.name
    return name
