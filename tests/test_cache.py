"""``--cache``: a report from the cache equals a plain run's, section by section, while the
inputs grow, rotate, shrink and change mapping; and only what is new is parsed."""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from botistat.cli.app import app
from botistat.engine.cache import inputs as cache_inputs
from botistat.engine.cache import store
from botistat.engine.cache.store import MANIFEST, SEGMENTS
from tests.conftest import ROOT, run_botistat
from tests.datasets import write_dataset

PRESETS = ROOT / "tests" / "fixtures" / "presets"
START = datetime(2026, 11, 17, 10, tzinfo=UTC)


def report(
    paths: list[Path], *options: str, cache: Path | None = None
) -> tuple[dict[str, Any], str]:
    """The report's JSON and stderr, from an in-process run."""
    arguments = ["report", *map(str, paths), "-f", "json", *options]
    if cache is not None:
        arguments += ["--cache", str(cache)]
    result = CliRunner().invoke(app, arguments, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def agrees(paths: list[Path], cache: Path, *options: str) -> str:
    """Run plain and cached on the same files; the numbers must be equal. The cached run's
    stderr is returned."""
    plain, _ = report(paths, *options)
    cached, cached_err = report(paths, *options, cache=cache)
    assert cached == plain
    return cached_err


class Parses:
    """The bytes each cached run hands to the parser, by input name."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[tuple[str, int]] = []
        original = cache_inputs.parse_source

        def counted(source: Any, *args: Any, **kwargs: Any) -> Any:
            size = source.limit or source.size or 0
            self.sizes.append((Path(source.name).name, size))
            return original(source, *args, **kwargs)

        monkeypatch.setattr(cache_inputs, "parse_source", counted)

    def take(self) -> list[tuple[str, int]]:
        """By input name (inputs are parsed two at a time), in order within an input."""
        taken, self.sizes = self.sizes, []
        return sorted(taken, key=lambda parsed: parsed[0])


def record(second: int, role: str = "user", conversation: str = "c1", **extra: Any) -> str:
    values = {
        "timestamp": (START + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "conversation_id": conversation,
        "role": role,
        "bot_id": "b" + conversation[-1],
        "prompt_tokens": second,
        **extra,
    }
    return json.dumps(values) + "\n"


def conversation_lines(start: int, count: int) -> str:
    return "".join(
        record(start + i, "user" if i % 2 == 0 else "bot", f"c{(start + i) // 4 % 3}")
        for i in range(count)
    )


@pytest.mark.parametrize("nested", [False, True])
def test_mixed_inputs_cold_and_warm_equal_plain_for_every_breakdown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nested: bool
) -> None:
    (tmp_path / "logs").mkdir()
    dataset = write_dataset(random.Random(19), tmp_path / "logs", 60, nested)
    options: list[str] = []
    if dataset.config_text:
        config = tmp_path / "botistat.yaml"
        config.write_text(dataset.config_text)
        options = ["--config", str(config)]
    cache = tmp_path / "cache"
    parses = Parses(monkeypatch)
    agrees(dataset.paths, cache, *options)
    assert len(parses.take()) == len(dataset.paths)
    for extra in ([], ["--by", "channel"], ["--by", "day"], ["--since", "2026-11-18T12:00:00Z"]):
        agrees(dataset.paths, cache, *options, *extra)
    assert parses.take() == [], "a warm run over unchanged inputs parses nothing"


@pytest.mark.parametrize("fixture", sorted(p.name for p in PRESETS.iterdir()))
def test_every_preset_agrees(tmp_path: Path, fixture: str) -> None:
    """Each preset's fixture, read with its preset (or the one detected from it)."""
    from botistat.core.presets import PRESETS as KNOWN

    found = PRESETS / fixture
    paths = sorted(p for p in found.rglob("*") if p.is_file()) if found.is_dir() else [found]
    name = fixture.split(".")[0]
    preset = ["--preset", name] if name in KNOWN else []
    for _ in range(2):  # cold, then warm
        agrees(paths, tmp_path / "cache", *preset, "--by", "model")


def test_appends_parse_only_new_lines_and_a_partial_line_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(conversation_lines(0, 40) + "not json\n")
    cache = tmp_path / "cache"
    parses = Parses(monkeypatch)
    agrees([log], cache)
    parses.take()

    appended = conversation_lines(40, 10) + '{"broken": \n'
    partial = record(50)[:30]  # a line still being written
    with log.open("a") as handle:
        handle.write(appended + partial)
    agrees([log], cache)
    # The complete new lines, then the partial one (parsed for this run only).
    assert parses.take() == [("app.jsonl", len(appended)), ("app.jsonl", len(partial))]

    with log.open("a") as handle:
        handle.write(record(50)[30:] + conversation_lines(51, 3))
    plain, _ = report([log])
    cached, _ = report([log], cache=cache)
    assert cached == plain
    assert cached["input"]["skipped"] == 2
    assert f"{log}:52: " in json.dumps(cached["input"])  # the appended bad line, by its number
    assert parses.take() == [("app.jsonl", len(record(50)) + len(conversation_lines(51, 3)))]


def test_csv_append_keeps_header_quoted_newlines_and_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "app.csv"
    header = "timestamp,conversation_id,role,text,prompt_tokens\n"
    rows = [
        f'2026-11-17T10:00:{s:02d}Z,c{s % 3},{"user" if s % 2 else "bot"},"two\nlines",{s}\n'
        for s in range(20)
    ]
    log.write_text(header + "".join(rows[:10]))
    cache = tmp_path / "cache"
    parses = Parses(monkeypatch)
    agrees([log], cache)
    parses.take()
    # Appended: a malformed row, and a record cut inside its quoted newline.
    with log.open("a") as handle:
        handle.write("x,y\n" + "".join(rows[10:15]) + rows[15][:40])
    stderr = agrees([log], cache)
    assert f"{log}:22" in stderr  # line 1 header, ten 2-line rows: the bad row is line 22
    parsed = parses.take()
    assert parsed[0][1] == len(header) + len("x,y\n" + "".join(rows[10:15]))
    with log.open("a") as handle:
        handle.write(rows[15][40:] + "".join(rows[16:]))
    agrees([log], cache)


def test_renamed_file_is_not_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(conversation_lines(0, 30))
    cache = tmp_path / "cache"
    parses = Parses(monkeypatch)
    agrees([log], cache)
    parses.take()
    rotated = tmp_path / "app.jsonl.1"
    log.rename(rotated)
    log.write_text(conversation_lines(30, 6))
    agrees([rotated, log], cache)
    assert parses.take() == [("app.jsonl", len(conversation_lines(30, 6)))]


def test_rotated_into_gzip_parses_only_its_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(conversation_lines(0, 30))
    cache = tmp_path / "cache"
    parses = Parses(monkeypatch)
    agrees([log], cache)
    parses.take()
    # Lines were appended after the last run, then the file rotated and compressed.
    rest = conversation_lines(30, 5) + "oops\n"
    compressed = tmp_path / "app-1.jsonl.gz"
    compressed.write_bytes(gzip.compress(log.read_bytes() + rest.encode()))
    log.write_text(conversation_lines(35, 4))
    assert f"{compressed}:36: " in agrees([compressed, log], cache)  # counted in the gzip
    assert parses.take() == [
        ("app-1.jsonl.gz", len(rest)),
        ("app.jsonl", len(conversation_lines(35, 4))),
    ]
    agrees([compressed, log], cache)
    assert parses.take() == []


def test_truncated_and_rewritten_files_are_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(conversation_lines(0, 30))
    cache = tmp_path / "cache"
    agrees([log], cache)
    log.write_text(conversation_lines(100, 5))  # truncated (copytruncate), then written
    agrees([log], cache)
    # Rewritten in place: same size, same time, other records.
    before = log.stat()
    log.write_text(conversation_lines(200, 5).replace('"c', '"d'))
    assert log.stat().st_size == before.st_size
    os.utime(log, ns=(before.st_atime_ns, before.st_mtime_ns))
    parses = Parses(monkeypatch)
    agrees([log], cache)
    assert len(parses.take()) == 1


def test_mapping_change_invalidates(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(
        "".join(
            json.dumps(
                {
                    "ts": f"2026-11-17T10:00:{s:02d}Z",
                    "timestamp": f"2026-11-18T10:00:{s:02d}Z",
                    "role": "user" if s % 2 else "bot",
                    "conversation_id": "c",
                }
            )
            + "\n"
            for s in range(10)
        )
    )
    cache = tmp_path / "cache"
    config = tmp_path / "botistat.yaml"
    config.write_text("fields:\n  timestamp: ts\n")
    agrees([log], cache)
    agrees([log], cache, "--config", str(config))
    agrees([log], cache, "--config", str(config), "--tz", "Europe/Berlin")


def test_damaged_cache_is_told_ignored_and_rebuilt(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(conversation_lines(0, 30))
    cache = tmp_path / "cache"
    agrees([log], cache)
    (cache / MANIFEST).write_text('{"layout": "botistat-cache/1", "entries": [{"key": 1}]}')
    assert "warning: cache" in agrees([log], cache)
    assert "warning" not in agrees([log], cache)  # rebuilt
    for segment in (cache / SEGMENTS).iterdir():
        segment.write_bytes(segment.read_bytes()[:100])
    assert "damaged or missing" in agrees([log], cache)
    (cache / MANIFEST).write_text("not json at all")
    assert "warning: cache" in agrees([log], cache)


def test_a_segment_damaged_inside_is_never_read_as_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(conversation_lines(0, 200))
    cache = tmp_path / "cache"
    agrees([log], cache)
    (segment,) = (cache / SEGMENTS).iterdir()
    data = bytearray(segment.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # same size, same footer
    segment.write_bytes(bytes(data))
    assert "damaged or missing" in agrees([log], cache)
    # Past the checksum (as if it had been damaged after being checked): read again plainly.
    agrees([log], cache)
    (segment,) = (cache / SEGMENTS).iterdir()
    segment.write_bytes(segment.read_bytes()[:-200] + bytes(200))
    monkeypatch.setattr(store.Segment, "intact", lambda self, directory: True)
    assert "reading without it" in agrees([log], cache)


def test_leftovers_of_a_killed_run_are_swept(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(conversation_lines(0, 30))
    cache = tmp_path / "cache"
    agrees([log], cache)
    stray = [
        cache / SEGMENTS / f"{'d' * 32}.parquet",
        cache / SEGMENTS / f"{'e' * 32}.parquet.part",
    ]
    stray += [cache / SEGMENTS / "piece-abc_1.part", cache / f"{MANIFEST}.abc.tmp"]
    foreign = cache / SEGMENTS / "notes.txt"
    for path in [*stray, foreign]:
        path.write_bytes(b"half")
    agrees([log], cache)
    assert not any(path.exists() for path in stray)
    assert foreign.exists()


def test_unusable_cache_is_a_warning_and_the_report_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(conversation_lines(0, 30))
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    assert "reading without it" in agrees([log], not_a_directory)

    def disk_full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_inputs, "parse_source", disk_full)
    stderr = agrees([log], tmp_path / "cache")
    assert "No space left on device" in stderr


def test_size_cap_evicts_least_recently_used(tmp_path: Path) -> None:
    logs = [tmp_path / f"{name}.jsonl" for name in "abc"]
    for index, log in enumerate(logs):
        log.write_text(conversation_lines(index * 40, 40))
    cache = tmp_path / "cache"
    config = tmp_path / "botistat.yaml"
    config.write_text(f"cache:\n  dir: {cache}\n  max_size: 1\n")
    plain, _ = report(logs)
    cached, _ = report(logs, "--config", str(config))
    assert cached == plain
    manifest = json.loads((cache / MANIFEST).read_text())
    assert manifest["entries"] == []
    assert list((cache / SEGMENTS).iterdir()) == []
    nothing, _ = report(logs, "--config", str(config), "--no-cache")
    assert nothing == plain


def test_standard_input_is_never_cached(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    text = conversation_lines(0, 20)
    plain = run_botistat("report", "-", "-f", "json", input=text.encode())
    cached = run_botistat("report", "-", "-f", "json", "--cache", str(cache), input=text.encode())
    assert cached.stdout == plain.stdout
    assert not (cache / MANIFEST).exists()
    assert list((cache / SEGMENTS).iterdir()) == []


def test_strict_errors_are_a_plain_runs(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(conversation_lines(0, 20))
    cache = tmp_path / "cache"
    run_botistat("report", str(log), "--strict", "--cache", str(cache))
    with log.open("a") as handle:
        handle.write(conversation_lines(20, 3) + "oops\n")
    plain = run_botistat("report", str(log), "--strict", "-f", "json")
    cached = run_botistat("report", str(log), "--strict", "-f", "json", "--cache", str(cache))
    assert plain.returncode == cached.returncode == 2
    assert cached.stderr == plain.stderr
    assert f"{log}:24" in cached.stderr.decode()


def test_two_runs_at_once(tmp_path: Path) -> None:
    logs = [tmp_path / f"{name}.jsonl" for name in "ab"]
    for index, log in enumerate(logs):
        log.write_text(conversation_lines(index * 500, 500))
    cache = tmp_path / "cache"
    command = [sys.executable, "-m", "botistat", "report", *map(str, logs), "-f", "json"]
    runs = [
        subprocess.Popen([*command, "--cache", str(cache)], stdout=subprocess.PIPE, cwd=ROOT)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    plain = subprocess.run(command, capture_output=True, check=True, cwd=ROOT).stdout
    assert outputs == [plain, plain]
    assert agrees(logs, cache) == ""


def test_cache_info_and_clear(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(conversation_lines(0, 20))
    cache = tmp_path / "cache"
    agrees([log], cache)
    (cache / "mine.txt").write_text("not botistat's")
    runner = CliRunner()
    shown = runner.invoke(app, ["cache", "info", str(cache)])
    assert shown.exit_code == 0
    assert "entries: 1 (1 input file(s), 1 parse key(s))" in shown.stdout
    cleared = runner.invoke(app, ["cache", "clear", str(cache)])
    assert cleared.exit_code == 0 and "bytes freed" in cleared.stdout
    assert not (cache / MANIFEST).exists() and not (cache / SEGMENTS).exists()
    assert (cache / "mine.txt").exists()
    missing = runner.invoke(app, ["cache", "info", str(tmp_path / "none")])
    assert missing.exit_code == 2
    assert missing.stderr.startswith("botistat: error: no such cache directory")
    shutil.rmtree(cache)


def test_check_email_and_compare_read_through_the_cache(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(conversation_lines(0, 40))
    cache = tmp_path / "cache"
    config = tmp_path / "botistat.yaml"
    config.write_text("cache:\n  dir: cache\n")  # relative to the config file
    period = ["--since", "2026-11-17T10:00:20Z", "--until", "2026-11-17T10:00:40Z"]
    agrees([log], cache, *period, "--compare", "previous")
    runner = CliRunner()
    check = ["check", str(log), "-t", "errors.rate < 50%", "--format", "json"]
    plain = runner.invoke(app, [*check, "--no-cache", "--config", str(config)])
    cached = runner.invoke(app, [*check, "--config", str(config)])
    assert (cached.exit_code, cached.stdout) == (plain.exit_code, plain.stdout)
    eml = tmp_path / "out.eml"
    mailed = runner.invoke(
        app, ["email", str(log), "--dry-run", "-o", str(eml), "--cache", str(cache)]
    )
    assert mailed.exit_code == 0, mailed.stderr
    manifest = json.loads((cache / MANIFEST).read_text())
    assert [entry["path"] for entry in manifest["entries"]] == [str(log)]


def test_a_run_reads_only_the_segments_of_its_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = [tmp_path / f"{name}.jsonl" for name in "abc"]
    for index, log in enumerate(logs):
        log.write_text(conversation_lines(index * 40, 40))
    cache = tmp_path / "cache"
    agrees(logs, cache)
    checked: list[str] = []
    intact = store.Segment.intact

    def counted(segment: store.Segment, directory: Path) -> bool:
        checked.append(segment.file)
        return intact(segment, directory)

    monkeypatch.setattr(store.Segment, "intact", counted)
    with logs[0].open("a") as handle:
        handle.write(conversation_lines(200, 4))
    agrees(logs[:1], cache)
    assert len(checked) == 1


@pytest.mark.parametrize("after", [0.9])
def test_a_run_killed_midway_leaves_nothing_half_used(tmp_path: Path, after: float) -> None:
    import signal
    import time

    logs = [tmp_path / f"{name}.jsonl" for name in "ab"]
    for index, log in enumerate(logs):
        log.write_text(conversation_lines(index * 100_000, 40_000))
    cache = tmp_path / "cache"
    command = [sys.executable, "-m", "botistat", "report", *map(str, logs), "-f", "json"]
    killed = subprocess.Popen(
        [*command, "--cache", str(cache)], cwd=ROOT, stdout=subprocess.DEVNULL
    )
    time.sleep(after)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=60)
    assert "warning" not in agrees(logs, cache)
    assert "warning" not in agrees(logs, cache)


def test_another_input_format_is_another_parse(tmp_path: Path) -> None:
    log = tmp_path / "app.log"  # no telling extension: read by its content, or as told
    rows = "".join(
        f"2026-11-17T10:00:{s:02d}Z\tc{s % 3}\t{'user' if s % 2 else 'bot'}\n" for s in range(30)
    )
    log.write_text("timestamp\tconversation_id\trole\n" + rows)
    cache = tmp_path / "cache"
    agrees([log], cache)
    runner = CliRunner()
    told = ["report", str(log), "-f", "json", "--input-format", "csv"]
    plain = runner.invoke(app, told)
    cached = runner.invoke(app, [*told, "--cache", str(cache)])
    assert (cached.exit_code, cached.stdout, cached.stderr) == (
        plain.exit_code,
        plain.stdout,
        plain.stderr,
    )
    agrees([log], cache, "--input-format", "tsv")


def test_a_file_grown_over_many_runs_keeps_few_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(conversation_lines(0, 20))
    cache = tmp_path / "cache"
    monkeypatch.setattr(cache_inputs, "MAX_SEGMENTS", 3)
    for run in range(7):
        with log.open("a") as handle:
            handle.write(conversation_lines(100 + run * 10, 10) + ("oops\n" if run % 3 else ""))
        agrees([log], cache)
        (entry,) = json.loads((cache / MANIFEST).read_text())["entries"]
        assert len(entry["segments"]) <= 3
    assert len(list((cache / SEGMENTS).iterdir())) <= 3


@settings(max_examples=12, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(["append", "partial", "truncate", "rotate", "bad"]),
            st.integers(min_value=1, max_value=25),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_history_of_a_log_agrees_with_plain_runs(events: list[tuple[str, int]]) -> None:
    """Whatever happens to a log between runs (lines appended, a line left half-written,
    truncation, rotation, malformed lines), every cached run equals a plain run."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        log = directory / "logs" / "app.jsonl"
        log.parent.mkdir()
        log.write_text(conversation_lines(0, 10))
        cache = directory / "cache"
        agrees([log.parent], cache)
        second = 100
        for kind, count in events:
            second += count
            if kind == "truncate":
                log.write_text(conversation_lines(second, count))
            elif kind == "rotate":
                log.rename(log.with_name(f"app-{second}.jsonl"))
                log.write_text(conversation_lines(second, count))
            else:
                text = conversation_lines(second, count)
                if kind == "partial":
                    text = text[: len(text) // 2]  # the rest comes with the next append
                elif kind == "bad":
                    text = "{oops\n" + text
                with log.open("a") as handle:
                    handle.write(text)
            agrees([log.parent], cache)
