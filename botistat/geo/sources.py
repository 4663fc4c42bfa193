"""Where countries come from: a MaxMind-format database, or offline registry data.

A database is found via ``--geoip-db``, then config ``geoip.database``, then the
``BOTISTAT_GEOIP_DB`` environment variable, then the usual system locations. Without one,
botistat uses the ``iptocc`` package, which ships the regional internet registries' delegation
data (the country an address block is registered to) and needs no download at run time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from botistat.core.errors import ConfigError
from botistat.core.model import CountrySourceInfo

ENV_DATABASE: Final = "BOTISTAT_GEOIP_DB"
SYSTEM_DIRECTORIES: Final = ("/usr/share/GeoIP", "/var/lib/GeoIP", "/usr/local/share/GeoIP")
#: File names looked for in the system directories, most precise first.
SYSTEM_FILES: Final = (
    "GeoIP2-Country.mmdb",
    "GeoIP2-City.mmdb",
    "GeoLite2-Country.mmdb",
    "GeoLite2-City.mmdb",
    "dbip-country-lite.mmdb",
    "dbip-city-lite.mmdb",
)


class CountrySource(Protocol):
    """Anything that maps public IP addresses to ISO 3166-1 alpha-2 codes."""

    @property
    def info(self) -> CountrySourceInfo: ...

    def lookup(self, addresses: Sequence[str]) -> list[str | None]:
        """The country code of each address, or None where the source has none."""
        ...


class MmdbSource:
    """A GeoIP2/GeoLite2 or DB-IP Country or City database, read with ``geoip2``."""

    def __init__(self, path: Path) -> None:
        import geoip2.database
        import maxminddb

        where = str(path)
        if not path.is_file():
            raise ConfigError("GeoIP database not found", where, _DATABASE_HINT)
        try:
            self._reader = geoip2.database.Reader(str(path))
        except (maxminddb.InvalidDatabaseError, ValueError, OSError) as exc:
            raise ConfigError(
                "not a readable MaxMind (mmdb) database", where, _DATABASE_HINT
            ) from exc
        metadata = self._reader.metadata()
        database_type: str = metadata.database_type
        if "Country" in database_type:
            self._method = self._reader.country
        elif "City" in database_type:
            self._method = self._reader.city
        else:
            raise ConfigError(
                f"GeoIP database of type {database_type!r} has no countries",
                where,
                "use a Country or City database (GeoLite2, GeoIP2 or DB-IP lite)",
            )
        built = datetime.fromtimestamp(metadata.build_epoch, UTC).date().isoformat()
        self._info = CountrySourceInfo(
            name=database_type, kind="mmdb", version=built, date=built, path=where
        )

    @property
    def info(self) -> CountrySourceInfo:
        return self._info

    def lookup(self, addresses: Sequence[str]) -> list[str | None]:
        import geoip2.errors
        import maxminddb

        codes: list[str | None] = []
        for address in addresses:
            try:
                code = self._method(address).country.iso_code
            except (geoip2.errors.AddressNotFoundError, ValueError):
                code = None
            except maxminddb.InvalidDatabaseError as exc:
                raise ConfigError(
                    "GeoIP database is corrupt", self._info.path, _DATABASE_HINT
                ) from exc
            codes.append(code)
        return codes


class RegistrySource:
    """Offline registry delegation data from the ``iptocc`` package."""

    def __init__(self) -> None:
        from importlib.metadata import version

        self._info = CountrySourceInfo(
            name="iptocc (regional internet registry delegations)",
            kind="registry",
            version=version("iptocc"),
        )

    @property
    def info(self) -> CountrySourceInfo:
        return self._info

    def lookup(self, addresses: Sequence[str]) -> list[str | None]:
        from iptocc import country_code

        result: Any = country_code(list(addresses))
        return list(result)


_DATABASE_HINT = "give a GeoLite2/GeoIP2/DB-IP .mmdb file, or leave it out for offline data"


def find_database(explicit: Path | None, configured: Path | None) -> Path | None:
    """The database to use, in order of precedence; None for the offline default."""
    if explicit is not None:
        return explicit
    if configured is not None:
        return configured
    from_env = os.environ.get(ENV_DATABASE)
    if from_env:
        return Path(from_env)
    for directory in SYSTEM_DIRECTORIES:
        for name in SYSTEM_FILES:
            candidate = Path(directory) / name
            if candidate.is_file():
                return candidate
    return None


def open_country_source(explicit: Path | None, configured: Path | None) -> CountrySource:
    """Open the database found by :func:`find_database`, or the offline registry data."""
    path = find_database(explicit, configured)
    return MmdbSource(path) if path is not None else RegistrySource()
