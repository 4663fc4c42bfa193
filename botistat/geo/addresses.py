"""Client IP addresses: clean them up in Polars, then classify each distinct one."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import polars as pl

#: Why a message has no country, as reported under ``countries.unknown.reasons``.
NO_IP: Final = "no_ip"
PRIVATE: Final = "private"
INVALID: Final = "invalid"
NOT_FOUND: Final = "not_found"
REASONS: Final = (NO_IP, PRIVATE, INVALID, NOT_FOUND)

_IPV4: Final = r"\d{1,3}(?:\.\d{1,3}){3}"


def ip_key(raw: pl.Expr) -> pl.Expr:
    """The address part of an ``ip`` field, in one canonical spelling.

    Handles surrounding blanks, ``1.2.3.4:443``, ``[2001:db8::1]:443``, ``[::1]``, zone ids
    (``fe80::1%eth0``) and IPv4-mapped IPv6 (``::ffff:1.2.3.4`` becomes ``1.2.3.4``).
    Anything else is kept as it is, to be classified as invalid later.
    """
    text = raw.str.strip_chars().str.to_lowercase()
    text = text.str.replace(r"^\[([0-9a-f:.]+)\](?::\d+)?$", "${1}")
    text = text.str.replace(rf"^({_IPV4}):\d+$", "${1}")
    text = text.str.replace(r"%[^%]*$", "")
    text = text.str.replace(rf"^(?:0{{0,4}}:){{0,5}}:?ffff:({_IPV4})$", "${1}")
    return text.replace("", None)


def classify(text: str) -> str | None:
    """None for a public address worth looking up, else the reason it has no country."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return INVALID
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # Not globally routable covers private, loopback, link-local, CGNAT (100.64.0.0/10),
    # documentation and reserved ranges; multicast is never a client address either.
    if not address.is_global or address.is_multicast:
        return PRIVATE
    return None


def common_private_ipv4(keys: pl.Series) -> pl.Series:
    """True for well-formed IPv4 in 10/8, 127/8, 169.254/16, 172.16/12, 192.168/16 or
    100.64/10 (CGNAT): the bulk of private addresses in logs, recognised without Python.

    Everything else (false here) is classified one by one with :func:`classify`.
    """
    import polars as pl

    octet = r"(0|[1-9]\d{0,2})"
    parts = keys.str.extract_groups(rf"^{octet}\.{octet}\.{octet}\.{octet}$")
    frame = parts.struct.unnest().select(pl.all().cast(pl.UInt16, strict=False))
    a, b = pl.col(frame.columns[0]), pl.col(frame.columns[1])
    in_range = pl.all_horizontal(pl.all().is_not_null() & (pl.all() <= 255))
    private = (
        (a == 10)
        | (a == 127)
        | ((a == 169) & (b == 254))
        | ((a == 172) & (b >= 16) & (b <= 31))
        | ((a == 192) & (b == 168))
        | ((a == 100) & (b >= 64) & (b <= 127))
    )
    return frame.select((in_range & private).fill_null(False)).to_series()


#: First octets holding no special-purpose IPv4 range (RFC 6890, Python's ``is_global``):
#: every well-formed address in them is public. 0, 10, 100, 127, 169, 172, 192, 198, 203 and
#: 224 and above each hold some range that is not.
_PLAIN_FIRST_OCTETS: Final = tuple(
    a for a in range(1, 224) if a not in (10, 100, 127, 169, 172, 192, 198, 203)
)
_HEX: Final = "[0-9a-f]{1,4}"
#: What follows the first group of an IPv6 address without an embedded IPv4 part, in the
#: forms ``ipaddress`` accepts: seven more groups, or ``a`` groups, ``::`` and ``b`` groups with
#: at most seven groups in all (``::`` stands for at least one).
_IPV6_AFTER_FIRST: Final = "|".join(
    [f"(?::{_HEX}){{7}}", f"(?::{_HEX}){{6}}::"]
    + [f"(?::{_HEX}){{{a}}}::(?:{_HEX}(?::{_HEX}){{0,{5 - a}}})?" for a in range(6)]
)


def surely_public(keys: pl.Series) -> pl.Series:
    """True for cleaned-up addresses (:func:`ip_key`) that are well-formed and public without
    asking :func:`classify`: IPv4 whose first octet holds no special range, and IPv6 in
    2400::/6 to 2fff::/16 (regional registries' allocations; 2620::/16 left to
    :func:`classify`, it holds AS112). Python's ``ipaddress`` costs about 7 us an address;
    logs with tens of thousands of distinct public clients spend most of their lookup there.

    False means only "not known here": such addresses are classified one by one.
    """
    import polars as pl

    octet = r"(?:0|[1-9]\d{0,2})"
    parts = keys.str.extract_groups(rf"^({octet})\.({octet})\.({octet})\.({octet})$")
    octets = parts.struct.unnest().select(pl.all().cast(pl.UInt16, strict=False))
    ipv4 = octets.select(
        pl.all_horizontal(pl.all().is_not_null() & (pl.all() <= 255))
        & pl.nth(0).is_in(_PLAIN_FIRST_OCTETS)
    ).to_series()
    ipv6 = keys.str.contains(rf"^2[4-9a-f][0-9a-f]{{2}}(?:{_IPV6_AFTER_FIRST})$") & ~(
        keys.str.starts_with("2620:")
    )
    return (ipv4.fill_null(False) | ipv6.fill_null(False)).alias(keys.name)
