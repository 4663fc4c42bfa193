"""The logs most users have: one timestamp style, a public client IP on every record.

The same conversations as bench/dataset.py's records, written the way a chat backend or an LLM
gateway writes them: ISO timestamps with milliseconds and ``Z``, a client IP on every record
(user and bot alike) drawn from about 60,000 public addresses (IPv4 and IPv6) in ranges the
regional registries have allocated, no ``country`` field (countries come from the IPs), and a
few fields the report does not use (``request_id``, ``app_version``, ``latency_hint_ms``).

- ``jsonl/``: JSON Lines; ``csv/``: the same records as CSV; ``gz/``: the JSON Lines gzipped.
"""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path

import polars as pl
from dataset import FILES, iso_timestamp, records, write_variants

#: Bump when the generated records change, so cached datasets are made anew.
VERSION = 1
IPV4_ADDRESSES = 50_000
IPV6_ADDRESSES = 10_000
#: First 16 bits of IPv6 blocks the registries hand out (APNIC, ARIN, LACNIC, RIPE, AFRINIC).
IPV6_PREFIXES = (0x2001, 0x2400, 0x2600, 0x2800, 0x2A00, 0x2C0F)


def public_addresses(seed: int = 2026) -> list[str]:
    """Distinct global addresses that the registry data maps to a country, IPv4 first."""
    from iptocc import country_code

    rng = random.Random(seed)
    chosen: dict[str, None] = {}
    for version, wanted in ((4, IPV4_ADDRESSES), (6, IPV6_ADDRESSES)):
        found = 0
        while found < wanted:
            candidates = [_random_address(rng, version) for _ in range(wanted)]
            candidates = [a for a in candidates if a not in chosen and _is_global(a)]
            for address, code in zip(candidates, country_code(candidates), strict=True):
                if code is not None and found < wanted and address not in chosen:
                    chosen[address] = None
                    found += 1
    return list(chosen)


def _random_address(rng: random.Random, version: int) -> str:
    if version == 4:
        return ".".join(str(part) for part in (rng.randrange(1, 224), *rng.randbytes(2), 7))
    high = rng.choice(IPV6_PREFIXES) << 112
    return str(ipaddress.IPv6Address(high | rng.getrandbits(96)))


def _is_global(address: str) -> bool:
    return ipaddress.ip_address(address).is_global


def plain_records(n: int) -> pl.DataFrame:
    """bench/dataset.py's records, one ISO timestamp style, a public IP on every record."""
    pool = pl.Series("pool", public_addresses())
    frame = records(n)
    conversation = pl.col("conversation_id").str.slice(5).cast(pl.Int64)
    return frame.select(
        iso_timestamp(),
        "conversation_id",
        "role",
        "status",
        "prompt_tokens",
        "completion_tokens",
        (pl.col("prompt_tokens") + pl.col("completion_tokens").fill_null(0)).alias("total_tokens"),
        "error",
        pl.lit(pool).gather(conversation.hash(21) % len(pool)).alias("ip"),
        "bot_id",
        "channel",
        "model",
        "user_id",
        pl.format("req_{}", pl.int_range(pl.len()).hash(22) % 10**12).alias("request_id"),
        pl.lit("4.12.1").alias("app_version"),
        (pl.col("ms") % 997).alias("latency_hint_ms"),
    )


def write_plain_dataset(n: int, directory: Path, files: int = FILES) -> Path:
    """Write all variants of ``n`` plain records under ``directory`` (kept when complete)."""

    def as_is(_: int, part: pl.DataFrame) -> pl.DataFrame:
        return part

    return write_variants(directory, lambda: plain_records(n), files, as_is, as_is)
