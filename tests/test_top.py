"""The report's top conversations, users and models against the plain-Python reference, in
memory and spilled to partitions (where conversations are cut per partition and users and
models summed across them), with ties broken by name."""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import botistat
from botistat.core.config import parse_config
from botistat.core.errors import ConfigError
from botistat.core.model import Report
from botistat.core.pricing import ModelPrice, PriceBook
from botistat.engine.local import report_from_scan
from botistat.ingest import resolve_sources, scan_sources
from botistat.report.document import report_document
from botistat.report.options import ReportOptions
from tests import reference
from tests.datasets import write_dataset
from tests.test_reference_metrics import NoLookup, same

#: One model priced, one not: items mix priced and unpriced messages.
PRICES = {"gpt-4o-mini": (0.15, 0.6), "m1": (3.0, 15.0)}


def report_with_prices(paths: list[Path], fields: dict[str, str], **options: Any) -> Report:
    config = parse_config({"fields": fields} if fields else {})
    scan = scan_sources(resolve_sources([str(p) for p in paths]), config, block_size=1 << 14)
    book = PriceBook(
        {model: ModelPrice(rates[0], rates[1]) for model, rates in PRICES.items()},
        use_package=False,
    )
    return report_from_scan(scan, ReportOptions(**options), NoLookup(), book)


def top_lists(report: Report) -> dict[str, list[dict[str, Any]]]:
    top = report.top_usage
    return {
        "conversations": [asdict(item) for item in top.conversations],
        "users": [asdict(item) for item in top.users],
        "models": [asdict(item) for item in top.models],
    }


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Any:
    directory = tmp_path_factory.mktemp("top")
    written = write_dataset(random.Random(1711), directory, 1500, nested=True)
    records, _ = reference.load_records(written.paths, written.fields)
    return written, records


@pytest.mark.parametrize(("partitions", "items"), [(0, 10), (3, 10), (5, 4), (2, 0)])
def test_top_matches_reference(dataset: Any, partitions: int, items: int) -> None:
    written, records = dataset
    report = report_with_prices(
        written.paths, written.fields, partitions=partitions, top_items=items
    )
    expected = reference.compute_top(records, items, PRICES)
    assert same(top_lists(report), expected), (top_lists(report), expected)
    if items:
        # The dataset's users and models span files and partitions; its conversations too.
        assert len(expected["conversations"]) == len(expected["users"]) == items
        assert {item["name"] for item in expected["models"]} == {"gpt-4o-mini", "claude-3-5-haiku"}
        assert any(item["unpriced_messages"] for item in expected["users"])
        assert any(item["usd"] for item in expected["users"])


def test_top_in_a_time_range(dataset: Any) -> None:
    written, records = dataset
    since, until = "2026-11-18T06:00:00+00:00", "2026-11-19T12:30:00+00:00"
    bounds = {
        name: reference.datetime.fromisoformat(t)
        for name, t in (("since", since), ("until", until))
    }
    report = report_with_prices(written.paths, written.fields, partitions=4, **bounds)
    assert same(top_lists(report), reference.compute_top(records, 10, PRICES, **bounds))


def tied_logs(rng: random.Random, directory: Path) -> list[Path]:
    """Few token values, so totals tie often, across names that sort differently as text and
    as numbers (``c10`` before ``c9``); records split over two files."""
    files: list[list[str]] = [[], []]
    for index in range(rng.randint(1, 40)):
        conversation = f"c{index}"
        user = f"u{rng.randrange(12)}"
        for turn in range(rng.randint(1, 4)):
            role = "user" if turn % 2 == 0 else "assistant"
            record: dict[str, Any] = {
                "timestamp": f"2026-11-19T10:{index % 60:02d}:{turn:02d}Z",
                "conversation_id": conversation,
                "role": role,
                "user_id": user if rng.random() > 0.1 else None,
            }
            if role == "assistant":
                record["model"] = rng.choice(["m0", "m1", "m10", "m2", None])
                tokens = rng.choice([0, 100, 200])
                if rng.random() < 0.3:
                    record["total_tokens"] = tokens
                else:
                    record["prompt_tokens"] = tokens
            rng.choice(files).append(json.dumps(record))
    paths = []
    for number, lines in enumerate(files):
        path = directory / f"part-{number}.jsonl"
        path.write_text("".join(line + "\n" for line in lines))
        paths.append(path)
    return paths


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    partitions=st.sampled_from([0, 3]),
    items=st.integers(min_value=1, max_value=4),
)
def test_ties_are_broken_by_name(
    tmp_path_factory: pytest.TempPathFactory, seed: int, partitions: int, items: int
) -> None:
    directory = tmp_path_factory.mktemp("ties")
    paths = tied_logs(random.Random(seed), directory)
    report = report_with_prices(paths, {}, partitions=partitions, top_items=items)
    records, _ = reference.load_records(paths)
    assert same(top_lists(report), reference.compute_top(records, items, PRICES))


def test_a_tie_at_the_cut_by_hand(tmp_path: Path) -> None:
    # c2 and c10 tie at 300 tokens for the second place: "c10" < "c2" as text.
    rows = [
        ("c1", "u1", 500),
        ("c2", "u2", 300),
        ("c10", "u1", 100),
        ("c10", "u3", 200),
        ("c3", "u3", 100),
    ]
    path = tmp_path / "ties.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "timestamp": f"2026-11-19T10:00:0{i}Z",
                    "conversation_id": conversation,
                    "role": "assistant",
                    "user_id": user,
                    "model": "m1",
                    "prompt_tokens": tokens,
                }
            )
            + "\n"
            for i, (conversation, user, tokens) in enumerate(rows)
        )
    )
    for partitions in (0, 3):
        report = report_with_prices([path], {}, partitions=partitions, top_items=2)
        conversations = report.top_usage.conversations
        assert [(c.name, c.tokens, c.messages) for c in conversations] == [
            ("c1", 500, 1),
            ("c10", 300, 2),
        ]
        assert conversations[1].usd == pytest.approx(300 * 3.0 / 1e6)
        # u1 500 + 100, u3 200 + 100, u2 300: u2 and u3 tie, "u2" < "u3".
        assert [(u.name, u.tokens) for u in report.top_usage.users] == [("u1", 600), ("u2", 300)]
        assert [(m.name, m.messages) for m in report.top_usage.models] == [("m1", 5)]


def test_json_has_the_top_lists_and_build_report_sizes_them() -> None:
    root = Path(__file__).resolve().parent.parent / "sample_logs"
    report = botistat.build_report([root], top_items=3)
    document = report_document(report)
    assert list(document["top"]) == ["conversations", "users", "models"]
    assert [len(items) for items in document["top"].values()] == [3, 3, 3]
    first = document["top"]["conversations"][0]
    assert list(first) == ["name", "tokens", "messages", "usd", "unpriced_messages"]
    # Every model's usage and cost is its share of the overall cost.
    by_model = {item.model: item for item in report.metrics.cost.by_model}
    for model in report.top_usage.models:
        assert model.usd == pytest.approx(by_model[model.name].usd if model.name in by_model else 0)
    with pytest.raises(ConfigError):
        botistat.build_report([root], top_items=-1)


@pytest.mark.parametrize("size", [0, 2])
def test_top_usage_option_sizes_the_lists(size: int) -> None:
    from typer.testing import CliRunner

    from botistat.cli.app import app

    root = Path(__file__).resolve().parent.parent / "sample_logs"
    result = CliRunner().invoke(
        app, ["report", str(root), "--top-usage", str(size), "-f", "json"], catch_exceptions=False
    )
    assert result.exit_code == 0
    top = json.loads(result.stdout)["top"]
    assert [len(items) for items in top.values()] == [size, size, size]
