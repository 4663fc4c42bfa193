"""How fast records get their country: 1M records, 100k distinct public IPs.

Compares botistat's distinct-IP lookup (normalise in Polars, look up each distinct address
once, join back) for an mmdb database and for the offline registry data, against the naive
reference of one geoip2 lookup per record, all in the same run.

    python bench/geo_lookups.py [--records 1000000] [--distinct 100000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import polars as pl
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from botistat.geo.lookup import lookup_table, resolve_countries
from botistat.geo.sources import CountrySource, MmdbSource, RegistrySource

COUNTRIES = ["US", "DE", "GB", "FR", "IN", "BR", "JP", "NL", "PL", "ES", "IT", "MX", "CA", "AU"]


def make_addresses(rng: random.Random, distinct: int) -> tuple[list[str], list[str]]:
    """Distinct public addresses (IPv4 in /24 networks, some IPv6) and those networks."""
    networks: set[str] = set()
    addresses: set[str] = set()
    while len(addresses) < distinct:
        if rng.random() < 0.8:
            a, b, c = rng.randrange(11, 223), rng.randrange(256), rng.randrange(256)
            if a in (100, 127, 169, 172, 192, 198, 203):
                continue
            networks.add(f"{a}.{b}.{c}.0/24")
            addresses.add(f"{a}.{b}.{c}.{rng.randrange(1, 255)}")
        else:
            block = rng.randrange(0x2400, 0x2C00)
            networks.add(f"{block:x}::/16")
            addresses.add(f"{block:x}:{rng.randrange(1 << 16):x}::{rng.randrange(1, 1 << 16):x}")
    return sorted(addresses), sorted(networks)


def build_database(path: Path, networks: list[str], rng: random.Random) -> None:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    for network in networks:
        code = rng.choice(COUNTRIES)
        writer.insert_network(IPSet([network]), {"country": {"iso_code": code}})
    writer.to_db_file(str(path))


def time_botistat(frame: pl.DataFrame, source: CountrySource) -> tuple[float, int]:
    start = time.perf_counter()
    keyed = frame.lazy().cache()
    resolved = resolve_countries(keyed, lookup_table(keyed, source))
    known = resolved.select(pl.col("country").is_not_null().sum()).collect().item()
    return time.perf_counter() - start, int(known)


def time_per_record(ips: list[str], database: Path) -> tuple[float, int]:
    import geoip2.database
    import geoip2.errors

    start = time.perf_counter()
    known = 0
    with geoip2.database.Reader(str(database)) as reader:
        for ip in ips:
            try:
                if reader.country(ip).country.iso_code:
                    known += 1
            except (geoip2.errors.AddressNotFoundError, ValueError):
                pass
    return time.perf_counter() - start, known


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--distinct", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(7)
    addresses, networks = make_addresses(rng, args.distinct)
    ips = [rng.choice(addresses) for _ in range(args.records)]
    frame = pl.DataFrame(
        {"ip": ips, "country": [None] * len(ips)}, schema={"ip": pl.String, "country": pl.String}
    )
    with tempfile.TemporaryDirectory() as directory:
        database = Path(directory) / "bench-country.mmdb"
        build_database(database, networks, rng)
        rows = [
            ("botistat, mmdb (distinct IPs)", *time_botistat(frame, MmdbSource(database))),
            ("botistat, offline iptocc (distinct IPs)", *time_botistat(frame, RegistrySource())),
            ("reference: geoip2 per record", *time_per_record(ips, database)),
        ]
    print(f"{args.records:,} records, {len(addresses):,} distinct IPs, {len(networks):,} networks")
    print(f"{'engine':42} {'seconds':>8} {'records/s':>12} {'with country':>13}")
    for name, seconds, known in rows:
        print(f"{name:42} {seconds:8.2f} {args.records / seconds:12,.0f} {known:13,}")


if __name__ == "__main__":
    main()
