"""Countries from IPs: real mmdb files built here, the offline default, and bad databases.

Expected values are worked out by hand from the networks written into each test database.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from typer.testing import CliRunner

from botistat.core.config import Config
from botistat.core.model import CountrySourceInfo
from botistat.engine.local import report_from_scan
from botistat.geo.sources import MmdbSource, RegistrySource
from botistat.ingest import resolve_sources, scan_sources
from botistat.report.options import ReportOptions
from tests.conftest import invoke, write_jsonl, write_text

NETWORKS = {
    "81.2.69.0/24": ("GB", "United Kingdom"),
    "2a02:8070::/32": ("DE", "Germany"),
    "89.160.20.0/24": ("SE", "Sweden"),
    "175.16.199.0/24": ("CN", "China"),
}


def build_database(path: Path, database_type: str, networks: dict[str, tuple[str, str]]) -> Path:
    writer = MMDBWriter(
        ip_version=6, ipv4_compatible=True, database_type=database_type, languages=["en"]
    )
    for network, (code, name) in networks.items():
        record: dict[str, Any] = {"country": {"iso_code": code, "names": {"en": name}}}
        if "City" in database_type:
            record["city"] = {"names": {"en": "Somewhere"}}
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


@pytest.fixture
def country_db(tmp_path: Path) -> Path:
    return build_database(tmp_path / "GeoLite2-Country.mmdb", "GeoLite2-Country", NETWORKS)


def message(ip: str | None, conversation: str, **extra: Any) -> dict[str, Any]:
    record = {"timestamp": "2026-11-19T10:00:00Z", "role": "user", "conversation_id": conversation}
    if ip is not None:
        record["ip"] = ip
    return {**record, **extra}


#: Each IP spelling and what it must resolve to.
CASES = [
    ("81.2.69.5", "GB"),
    (" 81.2.69.6 ", "GB"),  # surrounding blanks
    ("81.2.69.7:443", "GB"),  # ip:port
    ("::ffff:81.2.69.8", "GB"),  # IPv4-mapped IPv6
    ("[2a02:8070::1]:8080", "DE"),  # [IPv6]:port
    ("2A02:8070::5", "DE"),  # upper-case IPv6
    ("89.160.20.1", "SE"),
    ("10.0.0.1", "private"),
    ("100.64.1.1", "private"),  # CGNAT
    ("::1", "private"),
    ("192.168.1.10", "private"),
    ("not-an-ip", "invalid"),
    ("999.1.1.1", "invalid"),
    ("8.8.8.8", "not_found"),  # public, but not in this database
    (None, "no_ip"),
]


def countries_of(cli: CliRunner, *args: str) -> dict[str, Any]:
    result = invoke(cli, "report", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    countries: dict[str, Any] = json.loads(result.stdout)["countries"]
    return countries


#: In memory the addresses are joined to their countries; spilled, looked up by position.
IN_MEMORY_AND_SPILLED = pytest.mark.parametrize("spill", [(), ("--partitions", "4")])


@IN_MEMORY_AND_SPILLED
def test_lookups_and_unknown_reasons(
    cli: CliRunner, tmp_path: Path, country_db: Path, spill: tuple[str, ...]
) -> None:
    log = write_jsonl(
        tmp_path / "a.jsonl", [message(ip, f"c{i}") for i, (ip, _) in enumerate(CASES)]
    )
    countries = countries_of(cli, str(log), "--geoip-db", str(country_db), *spill)
    top = {row["country"]: row["messages"] for row in countries["top"]}
    assert top == {"GB": 4, "DE": 2, "SE": 1}
    assert [row["country"] for row in countries["top"]] == ["GB", "DE", "SE"]
    assert countries["unknown"]["messages"] == 8
    assert countries["unknown"]["reasons"] == {
        "no_ip": 1,
        "private": 4,
        "invalid": 2,
        "not_found": 1,
    }
    assert countries["source"] == {
        "name": "GeoLite2-Country",
        "kind": "mmdb",
        "version": countries["source"]["date"],
        "date": countries["source"]["date"],
        "path": str(country_db),
    }
    assert countries["top"][0]["name"] == "United Kingdom"


@IN_MEMORY_AND_SPILLED
def test_own_country_field_wins(
    cli: CliRunner, tmp_path: Path, country_db: Path, spill: tuple[str, ...]
) -> None:
    log = write_jsonl(
        tmp_path / "a.jsonl",
        [
            message("81.2.69.5", "a", country="fr"),
            message("10.0.0.1", "b", country="FR"),
            message("81.2.69.6", "c"),
        ],
    )
    countries = countries_of(cli, str(log), "--geoip-db", str(country_db), *spill)
    assert [(r["country"], r["messages"]) for r in countries["top"]] == [("FR", 2), ("GB", 1)]
    assert countries["unknown"]["messages"] == 0


def test_ties_top_n_and_other(cli: CliRunner, tmp_path: Path, country_db: Path) -> None:
    records = (
        [message("89.160.20.1", f"se{i}", user_id=f"u{i % 2}") for i in range(3)]
        + [message("81.2.69.1", "gb", user_id="x") for _ in range(3)]
        + [message("175.16.199.1", "cn") for _ in range(2)]
        + [message("2a02:8070::1", "de")]
    )
    log = write_jsonl(tmp_path / "a.jsonl", records)
    countries = countries_of(cli, str(log), "--geoip-db", str(country_db), "--top", "2")
    # GB and SE tie on 3 messages: the code breaks the tie.
    assert [(r["country"], r["conversations"], r["users"]) for r in countries["top"]] == [
        ("GB", 1, 1),
        ("SE", 3, 2),
    ]
    assert countries["other"]["countries"] == 2
    assert countries["other"]["messages"] == 3
    assert countries["other"]["conversations"] == 2
    assert countries["other"]["share"] == pytest.approx(3 / 9)


@pytest.mark.parametrize("database_type", ["GeoLite2-City", "DBIP-Country-Lite", "DBIP-City-Lite"])
def test_city_and_dbip_databases(tmp_path: Path, database_type: str) -> None:
    path = build_database(tmp_path / "db.mmdb", database_type, NETWORKS)
    source = MmdbSource(path)
    assert source.lookup(["81.2.69.1", "2a02:8070::9", "8.8.8.8"]) == ["GB", "DE", None]
    assert source.info.name == database_type


def test_offline_default(cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOTISTAT_GEOIP_DB", raising=False)
    # Registry delegations: 8.8.8.8 is ARIN space registered to the US, 1.0.16.0/20 is
    # APNIC space registered to Japan, 2001:4860::/32 is Google's US IPv6 block.
    log = write_jsonl(
        tmp_path / "a.jsonl",
        [message("8.8.8.8", "a"), message("1.0.16.1", "b"), message("2001:4860::8888", "c")],
    )
    countries = countries_of(cli, str(log))
    assert {r["country"]: r["messages"] for r in countries["top"]} == {"US": 2, "JP": 1}
    if countries["source"]["kind"] == "registry":  # no system database on this machine
        assert countries["source"]["name"].startswith("iptocc")
        assert countries["source"]["version"]


def test_database_precedence(
    cli: CliRunner, tmp_path: Path, country_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = build_database(
        tmp_path / "other.mmdb", "GeoLite2-Country", {"81.2.69.0/24": ("IE", "Ireland")}
    )
    log = write_jsonl(tmp_path / "a.jsonl", [message("81.2.69.5", "a")])
    config = write_text(tmp_path / "cfg.yaml", f"geoip:\n  database: {other.name}\n")
    monkeypatch.setenv("BOTISTAT_GEOIP_DB", str(country_db))
    # Environment only: GB. Config beats the environment: IE. The option beats both: GB.
    assert countries_of(cli, str(log))["top"][0]["country"] == "GB"
    assert countries_of(cli, str(log), "-c", str(config))["top"][0]["country"] == "IE"
    assert (
        countries_of(cli, str(log), "-c", str(config), "--geoip-db", str(country_db))["top"][0][
            "country"
        ]
        == "GB"
    )


@pytest.mark.parametrize("kind", ["missing", "garbage", "truncated", "asn"])
def test_bad_database_is_a_clear_error(
    cli: CliRunner, tmp_path: Path, country_db: Path, kind: str
) -> None:
    from tests.test_cli import assert_user_error

    log = write_jsonl(tmp_path / "a.jsonl", [message("81.2.69.5", "a")])
    path = tmp_path / "bad.mmdb"
    if kind == "garbage":
        path.write_bytes(b"this is not a database\n" * 100)
    elif kind == "truncated":
        path.write_bytes(country_db.read_bytes()[:200])
    elif kind == "asn":
        build_database(path, "GeoLite2-ASN", NETWORKS)
    assert_user_error(invoke(cli, "report", str(log), "--geoip-db", str(path)), str(path))


class CountingSource:
    """Wraps a source and records every address it is asked about."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.asked: list[str] = []

    @property
    def info(self) -> CountrySourceInfo:
        info: CountrySourceInfo = self.inner.info
        return info

    def lookup(self, addresses: Sequence[str]) -> list[str | None]:
        self.asked.extend(addresses)
        result: list[str | None] = self.inner.lookup(addresses)
        return result


@pytest.mark.parametrize("partitions", [0, 4])
def test_each_distinct_address_is_looked_up_once(
    tmp_path: Path, country_db: Path, partitions: int
) -> None:
    records = [
        message(ip, f"c{i % 13}") for i in range(400) for ip in ("81.2.69.5", "81.2.69.5:99")
    ] + [message("89.160.20.1", "z"), message("10.0.0.1", "y")]
    log = write_jsonl(tmp_path / "a.jsonl", records)
    source = CountingSource(MmdbSource(country_db))
    scan = scan_sources(resolve_sources([str(log)]), Config())
    report = report_from_scan(scan, ReportOptions(partitions=partitions), source)
    assert sorted(source.asked) == ["81.2.69.5", "89.160.20.1"]
    assert report.metrics.countries.top[0].messages == 800


def test_by_country_and_reply_attribution(cli: CliRunner, tmp_path: Path, country_db: Path) -> None:
    bot = {"role": "assistant", "ip": "10.0.0.9", "total_tokens": 5}
    log = write_jsonl(
        tmp_path / "a.jsonl",
        [
            message("81.2.69.5", "a"),
            {**bot, "conversation_id": "a", "timestamp": "2026-11-19T10:00:02Z"},
            message("89.160.20.1", "b"),
            {**bot, "conversation_id": "b", "timestamp": "2026-11-19T10:00:04Z"},
        ],
    )
    result = invoke(
        cli, "report", str(log), "--geoip-db", str(country_db), "--by", "country", "-f", "json"
    )
    doc = json.loads(result.stdout)
    groups = {g["key"]: g for g in doc["groups"]}
    # Bot records come from a private server address: unknown, but their replies are timed
    # for the user's country.
    assert set(groups) == {"GB", "SE", None}
    assert groups["GB"]["response_ms"]["avg"] == 2000.0
    assert groups["SE"]["response_ms"]["avg"] == 4000.0
    assert groups[None]["response_ms"]["count"] == 0
    assert groups[None]["tokens"]["total"] == 10
    rows = {row["country"]: row for row in doc["countries"]["top"]}
    assert rows["SE"]["avg_response_ms"] == 4000.0
    assert doc["countries"]["unknown"]["tokens"] == 10


def test_registry_source_reports_its_version() -> None:
    info = RegistrySource().info
    assert info.kind == "registry"
    assert info.version and info.version[0].isdigit()


@settings(max_examples=300)
@given(
    st.one_of(
        st.ip_addresses(v=4).map(str),
        st.tuples(*[st.integers(0, 400)] * 4).map(lambda t: ".".join(map(str, t))),
        st.sampled_from(["10.0.0.1", "010.1.2.3", "172.31.255.255", "172.32.0.1", "100.127.9.9"]),
        st.text(alphabet="0123456789.", max_size=15),
    )
)
def test_fast_private_check_agrees_with_ipaddress(text: str) -> None:
    from botistat.geo.addresses import PRIVATE, classify, common_private_ipv4

    fast = common_private_ipv4(pl.Series([text], dtype=pl.String))[0]
    if fast:
        assert classify(text) == PRIVATE


def _ipv6_text(groups: list[int], cut: tuple[int, int] | None) -> str:
    """Eight groups as text, the run ``cut`` (start, length) written as ``::``."""
    parts = [f"{group:x}" for group in groups]
    if cut is None:
        return ":".join(parts)
    start, length = cut
    return ":".join(parts[:start]) + "::" + ":".join(parts[start + length :])


@settings(max_examples=500)
@given(
    st.one_of(
        st.ip_addresses(v=4).map(str),
        st.ip_addresses(v=6).map(str),
        st.tuples(*[st.integers(0, 300)] * 4).map(lambda t: ".".join(map(str, t))),
        st.builds(
            _ipv6_text,
            st.tuples(
                st.integers(0x1F00, 0x3000), *[st.sampled_from([0, 1, 0xDB8, 0xFFFF])] * 7
            ).map(list),
            st.one_of(st.none(), st.tuples(st.integers(0, 7), st.integers(1, 8))),
        ),
        st.builds(
            lambda first, rest: f"{first:x}:{rest}",
            st.integers(0x2400, 0x2FFF),
            st.text(alphabet="0123456789abcdef:", max_size=40),
        ),
        st.sampled_from(["2620:4f:8000::1", "2a00::", "2a00:1:2:3:4:5:6::", "2a00::1::2"]),
    )
)
def test_surely_public_agrees_with_ipaddress(text: str) -> None:
    """What the fast check calls public, ``classify`` (Python's ipaddress) does too."""
    from botistat.geo.addresses import classify, surely_public

    if surely_public(pl.Series([text], dtype=pl.String))[0]:
        assert classify(text) is None
