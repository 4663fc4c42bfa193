"""Following files: appends, partial lines, rotation both ways, new files; with real files."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from botistat.ingest.follow import Chunk, Follower


def lines_of(chunks: list[Chunk]) -> list[str]:
    return [line for chunk in chunks for line in chunk.data.decode().splitlines()]


def append(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


def test_starts_at_the_end_and_reads_appended_lines(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    log.write_text("old 1\nold 2\n")
    follower = Follower([str(tmp_path)])
    assert follower.start() == {log: len("old 1\nold 2\n")}
    assert follower.poll() == []
    append(log, "new 3\nnew 4\n")
    chunks = follower.poll()
    assert lines_of(chunks) == ["new 3", "new 4"]
    assert chunks[0].first_line == 3


def test_partial_lines_wait_for_their_newline(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    log.write_text("done\nhalf")
    follower = Follower([str(log)])
    # The half-written line is not history: it will be read once complete.
    assert follower.start() == {log: 5}
    assert follower.poll() == []
    append(log, " and the rest\nnext")
    assert lines_of(follower.poll()) == ["half and the rest"]
    append(log, "\n")
    assert lines_of(follower.poll()) == ["next"]


def test_rename_and_create(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    log.write_text("")
    follower = Follower([str(tmp_path)])
    follower.start()
    append(log, "1\n2\n")
    assert lines_of(follower.poll()) == ["1", "2"]
    append(log, "3\n")  # written just before rotation, not yet read
    log.rename(tmp_path / "a.jsonl.1")
    log.write_text("4\n")
    append(tmp_path / "a.jsonl.1", "5\n")  # a late write through the old handle
    assert lines_of(follower.poll()) == ["3", "5", "4"]
    append(log, "6\n")
    assert lines_of(follower.poll()) == ["6"]


def test_copy_truncate(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    log.write_text("")
    follower = Follower([str(log)])
    follower.start()
    append(log, "1\n2\n")
    assert lines_of(follower.poll()) == ["1", "2"]
    shutil.copy(log, tmp_path / "a.jsonl.1")
    with log.open("w"):
        pass  # truncate in place, same inode
    append(log, "3\n")
    chunks = follower.poll()
    assert lines_of(chunks) == ["3"]
    assert chunks[0].first_line == 1
    assert chunks[0].fresh


def test_new_files_are_read_from_the_start(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text("x\n")
    follower = Follower([str(tmp_path)])
    follower.start()
    nested = tmp_path / "day2" / "b.jsonl"
    nested.parent.mkdir()
    nested.write_text("b1\nb2\n")
    (tmp_path / "notes.txt").write_text("not a log\n")
    (tmp_path / "c.jsonl.gz").write_bytes(b"\x1f\x8b")
    chunks = follower.poll()
    assert lines_of(chunks) == ["b1", "b2"]
    assert chunks[0].path == nested
    assert chunks[0].fresh


def test_glob_picks_up_matching_files_later(tmp_path: Path) -> None:
    follower = Follower([str(tmp_path / "*.csv")])
    assert follower.start() == {}
    (tmp_path / "x.csv").write_text("h\n1\n")
    assert lines_of(follower.poll()) == ["h", "1"]


def test_nothing_is_read_twice_or_skipped(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    log.write_text("")
    follower = Follower([str(tmp_path)])
    follower.start()
    seen: list[str] = []
    expected = []
    for i in range(200):
        append(log, f"{i}\n")
        expected.append(str(i))
        if i % 7 == 0:
            seen += lines_of(follower.poll())
        if i % 50 == 49:
            seen += lines_of(follower.poll())
            log.rename(tmp_path / f"a.{i}.old")
            log.write_text("")
    seen += lines_of(follower.poll())
    assert seen == expected


def test_rotated_to_a_watched_name_is_not_read_again(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text("")
    follower = Follower([str(tmp_path)])
    follower.start()
    append(log, "1\n2\n")
    assert lines_of(follower.poll()) == ["1", "2"]
    log.rename(tmp_path / "app-2026-11-25.jsonl")
    log.write_text("3\n")
    append(tmp_path / "app-2026-11-25.jsonl", "late\n")
    assert sorted(lines_of(follower.poll())) == ["3", "late"]
    append(tmp_path / "app-2026-11-25.jsonl", "later\n")
    assert lines_of(follower.poll()) == ["later"]


def test_a_file_followed_from_its_end_is_not_fresh(tmp_path: Path) -> None:
    # A fresh chunk starts a file: a CSV's first appended row would be taken for its header.
    log = tmp_path / "a.csv"
    log.write_text("timestamp,role\n2026-11-25T12:00:00Z,user\n")
    follower = Follower([str(log)])
    follower.start()
    append(log, "2026-11-25T12:00:01Z,bot\n")
    chunks = follower.poll()
    assert lines_of(chunks) == ["2026-11-25T12:00:01Z,bot"]
    assert (chunks[0].first_line, chunks[0].fresh) == (3, False)


def test_standard_input_is_read_as_it_comes_and_ends_with_its_last_line() -> None:
    read, write = os.pipe()
    follower = Follower(["-"], stdin=read)
    follower.start()
    os.write(write, b"1\n2 and half")
    assert lines_of(poll_until(follower, lambda chunks: bool(chunks))) == ["1"]
    assert not follower.finished
    os.write(write, b"\n3 without a newline")
    os.close(write)
    chunks = poll_until(follower, lambda _: follower.finished)
    assert lines_of(chunks) == ["2 and half", "3 without a newline"]
    assert chunks[0].path.name == "<stdin>"
    assert chunks[0].first_line == 2
    os.close(read)


def poll_until(follower: Follower, done: Callable[[list[Chunk]], bool]) -> list[Chunk]:
    """Poll until ``done`` says so of what came (standard input's reader is a thread)."""
    chunks: list[Chunk] = []
    deadline = time.monotonic() + 10
    while not done(chunks):
        assert time.monotonic() < deadline, f"still waiting, after {chunks}"
        chunks += follower.poll()
        time.sleep(0.01)
    return chunks
