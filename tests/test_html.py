"""The HTML report, parsed back: self-contained, the structure and the numbers."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from typer.testing import CliRunner

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
