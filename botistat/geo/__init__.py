"""Countries from client IPs: address clean-up, country sources, and the per-IP lookup."""

from botistat.geo.lookup import resolve_countries
from botistat.geo.sources import CountrySource, open_country_source

__all__ = ["CountrySource", "open_country_source", "resolve_countries"]
