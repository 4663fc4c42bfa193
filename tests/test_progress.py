"""The progress display: bytes read, then the analysis, so that it moves until the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from botistat.api import ReportRequest, make_report
from botistat.core.config import Config
from tests.conftest import ROOT
from tests.test_terminal import run_on_terminal

SAMPLE = ROOT / "sample_logs"


class Recorder:
    """A :class:`botistat.api.ReportProgress` that keeps what it is told, in order."""

    def __init__(self) -> None:
        self.read_bytes = 0
        self.analysed: list[tuple[int, int]] = []

    def read(self, nbytes: int) -> None:
        assert not self.analysed, "bytes read after the analysis began"
        self.read_bytes += nbytes

    def analysing(self, done: int, total: int) -> None:
        self.analysed.append((done, total))


@pytest.mark.parametrize("partitions", [0, 3])
def test_make_report_tells_the_bytes_read_then_the_pieces_analysed(partitions: int) -> None:
    recorder = Recorder()
    totals: list[int] = []

    def factory(total: int):  # type: ignore[no-untyped-def]
        from contextlib import nullcontext

        totals.append(total)
        return nullcontext(recorder)

    report = make_report(
        ReportRequest(paths=[str(SAMPLE)], partitions=partitions), Config(), factory
    )
    files = [p for p in SAMPLE.rglob("*") if p.is_file()]
    assert totals == [sum(p.stat().st_size for p in files)]
    assert recorder.read_bytes == totals[0]
    assert report.input.records > 0
    if partitions:
        # The end of the read, then each partition as it starts, then all done.
        assert recorder.analysed == [(0, 1), *((k, 3) for k in range(4))]
    else:
        assert recorder.analysed == [(0, 1)]


def test_a_terminal_shows_reading_then_analysing(tmp_path: Path) -> None:
    line = json.dumps(
        {
            "timestamp": "2026-11-19T08:00:00.000Z",
            "conversation_id": "c1",
            "role": "user",
            "text": "x" * 400,
        }
    )
    big = tmp_path / "big.jsonl"
    big.write_text((line + "\n") * (34 * 1024 * 1024 // (len(line) + 1)))
    status, shown = run_on_terminal("report", str(big), "-f", "json", "-o", str(tmp_path / "r"))
    assert status == 0
    assert "reading" in shown
    assert "analysing" in shown
    assert shown.index("reading") < shown.index("analysing")
