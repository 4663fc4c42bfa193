"""The HTML report, parsed back: self-contained, the structure and the numbers."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from typer.testing import CliRunner

from botistat.core.model import Contributor
from botistat.render import render
from tests.conftest import invoke
from tests.test_compare import two_days  # noqa: F401 - the fixture
from tests.test_render import sample_report


class Page(HTMLParser):
    """Collects tags, attributes and the text of each table cell."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, dict[str, str | None]]] = []
        self.cells: list[str] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.append((tag, dict(attrs)))
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append(" ".join(" ".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def test_self_contained_and_mail_friendly() -> None:
    text = render(sample_report(), "html")
    page = parse(text)
    assert "script" not in page.tags
    assert "link" not in page.tags and "img" not in page.tags
    assert "style" not in page.tags  # styles are inline: mail clients drop <style> blocks
    for _, attributes in page.attributes:
        for name in ("src", "href"):
            assert name not in attributes
    assert page.tags.count("svg") == 1
    assert text.startswith("<!DOCTYPE html>")


def test_numbers_in_the_page() -> None:
    page = parse(render(sample_report(), "html"))
    cells = page.cells
    # KPI tiles: label and value in one cell.
    assert "Messages 1,200" in cells
    assert "Error rate 1.50%" in cells
    assert "p95 reply ms 4,200.0" in cells
    # Response time and token tables.
    assert "1,834.2" in cells and "15,000.0" in cells
    assert "128,500" in cells and "4,200" in cells
    # Countries and spikes.
    assert "DE Germany" in cells and "Other (3 countries)" in cells
    assert "conv-loop-17" in cells
    svg_text = " ".join(page.text)
    assert "max 900" in svg_text and "spikes shaded" in svg_text


def test_chart_marks_spikes_and_change_arrows(
    cli: CliRunner,
    two_days: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    out = tmp_path / "report.html"
    result = invoke(
        cli,
        "report",
        str(two_days),
        "--range",
        "yesterday",
        "--compare",
        "previous",
        "--bucket",
        "1h",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.stderr
    page = parse(out.read_text())
    rects = [a for tag, a in page.attributes if tag == "rect"]
    assert len(rects) >= 3  # one bar per hour from 09:00 to 11:00
    assert any(c.startswith("Messages 6") and "▲ +2 (+50.0%)" in c for c in page.cells)
    assert any(c.startswith("Tokens 600") and "▲ +400 (+200.0%)" in c for c in page.cells)
    assert "polyline" in page.tags


def test_cost_table_as_in_the_other_formats() -> None:
    page = parse(render(sample_report(), "html"))
    cells = page.cells
    # The Cost section of the table, text and Markdown outputs: per model, then unpriced.
    header = cells.index("Priced from")
    assert cells[header - 2 : header + 2] == ["Model", "Messages", "Priced from", "Cost (USD)"]
    assert cells[header + 2 : header + 14] == [
        *("gpt-4o", "560", "genai-prices", "$2.91"),
        *("gpt-4o-mini", "30", "log", "$0.0512"),
        *("llama-3.1-70b", "10", "unpriced", "3,000 in, 1,000 out"),
    ]
    text = " ".join(" ".join(page.text).split())
    assert "Total $2.96 (partial: some tokens have no price). Prices: genai-prices 0.2.5." in text


def test_top_lists_and_whole_ids() -> None:
    report = sample_report()
    long_id = "conv-2a7f9c31-5b8e-4d0a-9f3e-7c1b2d4e6f80"
    spike = replace(report.metrics.spikes[0], conversations=(Contributor(long_id, 120_000),))
    report = replace(report, metrics=replace(report.metrics, spikes=(spike,)))
    page = parse(render(report, "html"))
    text = " ".join(page.text)
    for heading in ("Top conversations by tokens", "Top users by tokens", "Top models by tokens"):
        assert heading in text
    cells = page.cells
    row = cells.index("user-7")
    assert cells[row - 1 : row + 4] == ["1", "user-7", "150,000", "300", "$0.7200+"]
    # The spike's top conversation, whole (the terminal table cuts it to its width).
    assert cells.count(long_id) == 2  # in the top conversations, and in the spike
    assert not any("…" in cell for cell in cells)
