"""The benchmark's agreement check on a small dataset: botistat and DuckDB, same numbers.

This is a correctness test against an independent engine (bench/reference_duckdb.py), over
100k generated records in every timestamp style, as JSON Lines, CSV and gzip; not a timing test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_botistat

sys.path.insert(0, str(ROOT / "bench"))

from dataset import write_dataset
from reference_duckdb import duckdb_metrics
from run import Run, compare, median_run


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(100_000, tmp_path_factory.mktemp("bench") / "100k", files=3)


@pytest.mark.parametrize(
    ("fmt", "grouping"),
    [("jsonl", []), ("csv", []), ("gz", []), ("jsonl", ["--by", "hour"])],
)
def test_botistat_agrees_with_duckdb(dataset: Path, fmt: str, grouping: list[str]) -> None:
    files = sorted(str(p) for p in (dataset / fmt).iterdir())
    result = run_botistat("report", *files, "--format", "json", *grouping)
    assert result.returncode == 0, result.stderr
    ours = json.loads(result.stdout)
    theirs = duckdb_metrics("csv" if fmt == "csv" else "jsonl", files)
    assert compare(ours, theirs) == []
    assert ours["messages"]["total"] == 100_000
    assert ours["response_ms"]["count"] > 40_000


def test_repeated_runs_report_the_median_time_and_the_highest_memory() -> None:
    runs = [Run(3.0, 100, "c"), Run(1.0, 300, "a"), Run(2.0, 200, "b")]
    assert median_run(runs) == Run(2.0, 300, "b")
    # An even count takes the slower of the two middle runs (for both engines alike).
    assert median_run([*runs, Run(4.0, 50, "d")]).seconds == 3.0
