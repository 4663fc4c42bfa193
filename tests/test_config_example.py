"""config.example.yaml documents every key the config accepts, and is a valid config."""

from __future__ import annotations

import re

import pytest

from botistat.core import config
from botistat.core.schema import FIELDS, ROLE_BOT, ROLE_USER
from tests.conftest import ROOT

EXAMPLE = ROOT / "config.example.yaml"
TEXT = EXAMPLE.read_text()

#: Each section of the config and the keys it accepts, from the tuples the loader checks
#: against (so a key added there and not here fails this test).
SECTIONS = {
    "fields": FIELDS,
    "roles": (ROLE_USER, ROLE_BOT),
    "geoip": config.GEOIP_KEYS,
    "spikes": config.SPIKE_KEYS,
    "email": config.EMAIL_KEYS,
    "sources": config.SOURCE_KEYS,
    "prices": config.PRICE_KEYS,
    "cache": config.CACHE_KEYS,
}


def section(name: str) -> str:
    """The lines of a top-level section: up to the next top-level key."""
    match = re.search(rf"^{name}:.*?(?=^[a-z_]+:|\Z)", TEXT, re.DOTALL | re.MULTILINE)
    assert match, f"no {name}: section"
    return match.group(0)


def test_every_section_is_handled() -> None:
    """Every top-level key that holds keys of its own is checked below."""
    nested = {"fields", "roles", "geoip", "spikes", "email", "sources", "prices", "cache"}
    assert nested <= set(config.TOP_LEVEL_KEYS)
    assert set(SECTIONS) == nested


@pytest.mark.parametrize("key", config.TOP_LEVEL_KEYS)
def test_top_level_key_is_documented(key: str) -> None:
    # Set, or shown commented out where setting it would change what botistat does.
    assert re.search(rf"^(# ?)?{key}:", TEXT, re.MULTILINE), key


@pytest.mark.parametrize(
    ("name", "key"), [(name, key) for name, keys in SECTIONS.items() for key in keys]
)
def test_section_key_is_documented(name: str, key: str) -> None:
    # A key line ("  key: ...", "#  - key: ..."), or a key of a one-line mapping ("{key: ...").
    pattern = rf"^[ #]*(- )?{key}:|[{{,] ?{key}:"
    assert re.search(pattern, section(name), re.MULTILINE), f"{name}.{key}"


def test_the_example_loads() -> None:
    settings = config.load_config(EXAMPLE)
    # It states the defaults: read with it, logs are read as without any config.
    assert dict(settings.fields) == config.default_fields()
    assert settings.spikes.min_cost == 1
    assert settings.email.timeout == 30
