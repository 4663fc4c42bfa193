"""The allocator settings a report makes before Polars starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from botistat.engine.memory import JEMALLOC_CONF, JEMALLOC_DECAY

PROBE = """
import json, os, sys
from botistat.engine.memory import keep_freed_pages
if sys.argv[1] == "late":
    import polars
keep_freed_pages()
print(json.dumps(os.environ.get(sys.argv[2])))
"""


def _conf_seen(when: str, environ: dict[str, str]) -> str | None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, when, JEMALLOC_CONF],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    value: str | None = json.loads(done.stdout)
    return value


def _environ_without_conf() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != JEMALLOC_CONF}


def test_decay_is_set_before_polars_starts() -> None:
    assert _conf_seen("early", _environ_without_conf()) == JEMALLOC_DECAY


def test_the_users_own_setting_is_kept() -> None:
    environ = _environ_without_conf() | {JEMALLOC_CONF: "dirty_decay_ms:0"}
    assert _conf_seen("early", environ) == "dirty_decay_ms:0"


def test_nothing_is_set_once_polars_has_started() -> None:
    # Too late to have an effect, so it does not pretend to: Polars' own setting stays.
    seen = _conf_seen("late", _environ_without_conf())
    assert seen is not None
    assert JEMALLOC_DECAY not in seen
