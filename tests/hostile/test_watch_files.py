"""``botistat watch`` on real file systems: recycled inodes, future-dated lines, paths that do
not exist yet, standard input, copy-truncate rotation and more files than open-file handles.

Real files are appended, renamed, truncated and rotated; where the behaviour is end to end a
real ``botistat watch --format jsonl`` subprocess runs with one-second buckets, and the test
reads its events (a token spike names the conversation behind it) and its warnings.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from botistat.core.config import Config
from botistat.ingest.follow import Chunk, Follower
from botistat.watch.monitor import LiveMonitor, MonitorSettings
from botistat.watch.watcher import Watcher
from tests.conftest import ROOT
from tests.hostile.conftest import CRASH_MARKERS

#: One-second buckets and a ten-bucket baseline: a record six seconds old makes the baseline
#: known, and any bucket above 1,000 tokens after it is a spike.
SETTINGS = ("--bucket", "1s", "--window", "10", "--min-tokens", "1000", "--cooldown", "1")
BURST_TOKENS = 50_000


def record(conversation: str, role: str, at: datetime, tokens: int = 0) -> str:
    row: dict[str, Any] = {
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "conversation_id": conversation,
        "role": role,
        "bot_id": "support",
    }
    if tokens:
        row["prompt_tokens"] = tokens
    return json.dumps(row) + "\n"


def seed() -> str:
    """Quiet user messages of six seconds ago: the baseline is known from then on."""
    now = datetime.now(UTC)
    return "".join(record("seed", "user", now - timedelta(seconds=6.5 - i / 4)) for i in range(3))


def burst(name: str) -> str:
    """A token spike. Dated two seconds ahead (clock skew that watch keeps), so that its bucket
    is still to open when the watch has read it: a one-second bucket may otherwise close before
    the record comes in, and a closed bucket is not judged again."""
    return record(name, "bot", datetime.now(UTC) + timedelta(seconds=2), BURST_TOKENS)


def append(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


class Watch:
    """A running ``botistat watch --format jsonl``: its events and stderr lines as they come."""

    def __init__(
        self,
        *args: str,
        stdin: bool = False,
        open_files: int | None = None,
        wait_for_start: bool = True,
    ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        limit = None if open_files is None else _file_limit(open_files)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "botistat", "watch", *args, "-f", "jsonl", "--poll", "0.05"],
            cwd=ROOT,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            preexec_fn=limit,
        )
        self.events: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read_events, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        if wait_for_start:
            self.wait_for(lambda: self.said("watching"), "the start", 30.0)

    def _read_events(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.append(json.loads(line))

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line.decode(errors="replace"))

    def said(self, text: str) -> bool:
        return any(text in line for line in self.stderr)

    def spike_for(self, conversation: str) -> bool:
        return any(
            event["event"] == "spike"
            and event["top"]["conversations"][:1]
            == [{"name": conversation, "tokens": BURST_TOKENS}]
            for event in self.events
        )

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline or (self.process.poll() is not None and not condition()):
                time.sleep(0.2)  # let the readers take in the last output
                raise AssertionError(f"no {what}: events {self.events}, stderr {self.stderr}")
            time.sleep(0.02)

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode())
        self.process.stdin.flush()

    def end(self, sig: int | None = signal.SIGTERM) -> int:
        """Stop it (or, with ``sig=None``, wait for it to end), then check it did not crash."""
        if sig is not None and self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        text = "".join(self.stderr)
        for marker in CRASH_MARKERS:
            assert marker.decode() not in text, text[-3000:]
        return code


def _file_limit(limit: int) -> Callable[[], None]:
    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return lower


@pytest.fixture
def watches() -> Iterator[list[Watch]]:
    """Watches started by a test; any still running at its end is stopped."""
    started: list[Watch] = []
    yield started
    for watch in started:
        if watch.process.poll() is None:
            watch.process.kill()
            watch.process.wait()


def lines_of(chunks: list[Chunk]) -> list[str]:
    return [line for chunk in chunks for line in chunk.data.decode().splitlines()]


def recreate(path: Path, text: str, inode: int) -> bool:
    """Create ``path`` anew on the freed ``inode``: a file system such as ext4 hands it to the
    next file created, unless inodes freed meanwhile come first (another process deleting many
    files). Files are created beside it until one gets it, and that one is renamed into place;
    False if none did."""
    spares: list[Path] = []
    try:
        for attempt in range(50_000):
            spare = path.with_name(f".spare-{attempt}")  # hidden: not a watched file
            spare.touch()
            if spare.stat().st_ino == inode:
                spare.write_text(text)
                spare.rename(path)
                return True
            spares.append(spare)
        return False
    finally:
        for spare in spares:
            spare.unlink()


NO_RECYCLING = "this file system does not hand a freed inode to the next file"


# ------------------------------------------------------ 1. a recycled inode is a new file


def test_a_deleted_file_recreated_on_its_freed_inode_is_read_from_its_start(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text("".join(f"old {i} with some padding to make it long\n" for i in range(5)))
    follower = Follower([str(tmp_path)])
    follower.start()
    inode = log.stat().st_ino
    log.unlink()
    assert follower.poll() == []  # lets go of the deleted file: its inode is free
    if not recreate(log, "new 1\nnew 2\n", inode):
        pytest.skip(NO_RECYCLING)
    chunks = follower.poll()
    assert lines_of(chunks) == ["new 1", "new 2"]
    assert (chunks[0].first_line, chunks[0].fresh) == (1, True)


def test_rotating_twice_onto_a_recycled_inode_reads_the_new_file_whole(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text("a1 some padding\na2 some padding\na3 some padding\n")
    follower = Follower([str(log)])
    follower.start()
    first = log.stat().st_ino
    log.rename(tmp_path / "app.jsonl.1")
    log.write_text("b1\n")
    assert lines_of(follower.poll()) == ["b1"]
    log.rename(tmp_path / "app.jsonl.1")  # replaces the first file: its inode is free
    if not recreate(log, "c1\nc2 and a longer line than before\nc3\n", first):
        pytest.skip(NO_RECYCLING)
    chunks = follower.poll()
    assert lines_of(chunks) == ["c1", "c2 and a longer line than before", "c3"]
    assert (chunks[0].first_line, chunks[0].fresh) == (1, True)


def test_a_file_without_an_open_handle_recreated_on_its_inode_is_a_new_file(
    tmp_path: Path,
) -> None:
    # With one handle for two files the follower reopens a file by path; the path's inode
    # alone would call the new file the old one.
    log, other = tmp_path / "app.jsonl", tmp_path / "other.jsonl"
    log.write_text("old line 1 with padding\nold line 2 with padding\n")
    other.write_text("")
    follower = Follower([str(tmp_path)], max_open=1)
    follower.start()
    append(other, "o1\n")  # takes the one handle
    assert lines_of(follower.poll()) == ["o1"]
    inode = log.stat().st_ino
    log.unlink()
    if not recreate(log, "n1\nn2 a line long enough to pass the old offset, n3\n", inode):
        pytest.skip(NO_RECYCLING)
    chunks = follower.poll()
    assert lines_of(chunks) == ["n1", "n2 a line long enough to pass the old offset, n3"]
    assert (chunks[0].first_line, chunks[0].fresh) == (1, True)


def test_watch_reads_a_file_rotated_onto_a_recycled_inode_from_its_first_line(
    tmp_path: Path, watches: list[Watch]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.jsonl"
    log.write_text(seed())
    first = log.stat().st_ino
    watch = Watch(str(logs), *SETTINGS)
    watches.append(watch)
    log.rename(logs / "app.jsonl.1")
    log.write_text("not json: the second file\n")
    watch.wait_for(lambda: watch.said(f"in {log}:1-1"), "warning for the second file")
    log.rename(logs / "app.jsonl.1")  # frees the first file's inode
    # Longer than the first file: read from where that one was left, its head would be lost.
    if not recreate(log, "not json: the third file\n" + seed() * 2, first):
        pytest.skip(NO_RECYCLING)
    watch.wait_for(
        lambda: sum(f"in {log}:1-" in line for line in watch.stderr) == 2, "third file from line 1"
    )
    assert watch.end() == 0
    skipped = [line for line in watch.stderr if "malformed" in line]
    assert len(skipped) == 2, watch.stderr


# ------------------------------------------------------ 2. future-dated lines


@pytest.mark.parametrize("year", [2062, 9999])
@pytest.mark.parametrize("where", ["history", "appended"])
def test_a_future_dated_line_is_skipped_and_named_and_alerts_go_on(
    tmp_path: Path, watches: list[Watch], year: int, where: str
) -> None:
    log = tmp_path / "app.jsonl"
    future = record("typo", "bot", datetime(year, 1, 1, tzinfo=UTC), 10)
    log.write_text(seed() + (future if where == "history" else ""))
    watch = Watch(str(log), *SETTINGS)
    watches.append(watch)
    if where == "appended":
        append(log, future)
    append(log, burst("after-the-typo"))
    watch.wait_for(lambda: watch.spike_for("after-the-typo"), "spike after the future line")
    watch.wait_for(lambda: watch.said(f"{log}:4"), "warning naming the future line")
    assert watch.end() == 0
    warning = next(line for line in watch.stderr if f"{log}:4" in line)
    assert "skipped 1 record(s) dated in the future" in warning
    assert f"{year}-01-01T00:00:00Z" in warning


def test_a_far_future_record_does_not_carry_the_monitor_off() -> None:
    from tests.test_watch import frame

    monitor = LiveMonitor(MonitorSettings(bucket_seconds=60, window=10, min_tokens=1000))
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    quiet = [
        {"timestamp": now - timedelta(minutes=m), "role": "user", "conversation_id": "q"}
        for m in range(8, 0, -1)
    ]
    monitor.add(frame(quiet))
    monitor.add(
        frame(
            [
                {
                    "timestamp": datetime(9999, 12, 31, tzinfo=UTC),
                    "role": "bot",
                    "conversation_id": "typo",
                }
            ]
        )
    )
    assert monitor.check(now) == []
    spike = {"role": "bot", "conversation_id": "burst", "total_tokens": 50_000}
    monitor.add(frame([{**spike, "timestamp": now + timedelta(seconds=70)}]))
    events = monitor.check(now + timedelta(seconds=75))
    assert [(e.kind, e.bucket_start) for e in events] == [("spike", now + timedelta(minutes=1))]


# ------------------------------------------------------ 3. missing paths and standard input


@pytest.mark.parametrize(
    ("argument", "target", "said"),
    [
        ("logs/app.jsonl", "logs/app.jsonl", "does not exist yet"),
        ("logs", "logs/day1/app.jsonl", "does not exist yet"),
        ("empty", "empty/app.jsonl", "holds no log files yet"),
        ("logs/*.jsonl", "logs/app.jsonl", "no files match the pattern yet"),
    ],
)
def test_a_path_that_does_not_exist_yet_is_waited_for(
    tmp_path: Path, watches: list[Watch], argument: str, target: str, said: str
) -> None:
    (tmp_path / "empty").mkdir()
    watch = Watch(str(tmp_path / argument), *SETTINGS, "--no-backfill")
    watches.append(watch)
    watch.wait_for(lambda: watch.said(said), "warning about the missing path")
    warning = next(line for line in watch.stderr if said in line)
    assert f"({tmp_path / argument}); waiting for" in warning
    path = tmp_path / target
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(seed() + burst("appeared"))
    watch.wait_for(lambda: watch.spike_for("appeared"), "spike from the file that appeared")
    assert watch.end() == 0


def test_watch_reads_standard_input_as_it_arrives_and_ends_at_its_end(
    watches: list[Watch],
) -> None:
    watch = Watch("-", *SETTINGS, stdin=True)
    watches.append(watch)
    watch.send(seed())
    line = burst("piped")
    watch.send(line[:30])  # half a line waits for the rest
    watch.send(line[30:])
    watch.wait_for(lambda: watch.spike_for("piped"), "spike from stdin while it is open")
    watch.send("not json, and no newline at the end")
    assert watch.process.stdin is not None
    watch.process.stdin.close()
    assert watch.end(sig=None) == 0
    assert watch.said("<stdin>:5-5"), watch.stderr


def test_watch_refuses_stdin_twice() -> None:
    watch = Watch("-", "-", stdin=True, wait_for_start=False)
    assert watch.end(sig=None) == 2
    assert watch.stderr[0].startswith("botistat: error: stdin (-) given more than once")


# ------------------------------------------------------ 4. copy-truncate


def test_lines_appended_just_before_a_copy_truncate_are_read_from_the_copy(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text("")
    follower = Follower([str(log)])
    follower.start()
    append(log, "1\n2\n")
    assert lines_of(follower.poll()) == ["1", "2"]
    append(log, "3\n4 half")  # written since the last poll, not read yet
    shutil.copy(log, tmp_path / "app.jsonl.1")  # logrotate's copytruncate
    with log.open("w"):
        pass
    append(log, "5\n")
    chunks = follower.poll()
    assert lines_of(chunks) == ["3", "4 half", "5"]
    assert [(c.path.name, c.first_line, c.fresh) for c in chunks] == [
        ("app.jsonl.1", 3, False),
        ("app.jsonl.1", 4, False),  # its last line, cut by the copy, ends there
        ("app.jsonl", 1, True),
    ]
    append(log, "6\n")
    assert lines_of(follower.poll()) == ["6"]


def test_a_truncated_file_that_grew_past_the_old_offset_is_read_from_its_start(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text("")
    follower = Follower([str(log)])
    follower.start()
    append(log, "first 1\nfirst 2\n")
    assert lines_of(follower.poll()) == ["first 1", "first 2"]
    with log.open("w"):
        pass  # truncated, and written again beyond where the follower was
    append(log, "second 1\nsecond 2\nsecond 3\n")
    chunks = follower.poll()
    assert lines_of(chunks) == ["second 1", "second 2", "second 3"]
    assert (chunks[0].first_line, chunks[0].fresh) == (1, True)


def test_a_copy_under_a_watched_name_is_not_read_again(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(
        "".join(f"line {i:04} of the log, long enough for a fingerprint\n" for i in range(40))
    )
    follower = Follower([str(tmp_path)])
    follower.start()
    append(log, "new 1\n")
    assert lines_of(follower.poll()) == ["new 1"]
    shutil.copy(log, tmp_path / "app-2026-11-25.jsonl")  # copied, not yet truncated
    append(log, "new 2\n")
    assert lines_of(follower.poll()) == ["new 2"]
    with log.open("w"):
        pass
    append(log, "new 3\n")
    assert lines_of(follower.poll()) == ["new 3"]


# ------------------------------------------------------ 5. more files than handles


@pytest.mark.parametrize("backfill", ["--backfill", "--no-backfill"])
def test_watch_follows_more_files_than_it_may_open(
    tmp_path: Path, watches: list[Watch], backfill: str
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    files = [logs / f"bot-{i:03}.jsonl" for i in range(400)]
    for path in files:
        path.write_text(seed())
    watch = Watch(str(logs), *SETTINGS, backfill, open_files=256)
    watches.append(watch)
    assert watch.said("watching 400 file(s)"), watch.stderr
    append(files[0], seed())  # without the backfill, the baseline comes from here
    for path in files:
        append(path, "not json\n")

    def warned() -> set[str]:
        return {
            line.split(" in ")[-1].rsplit(":", 1)[0] for line in watch.stderr if "malformed" in line
        }

    watch.wait_for(lambda: len(warned()) == len(files), "a warning from every file", 20.0)
    assert warned() == {str(path) for path in files}
    append(files[-1], burst("the-last-file"))
    watch.wait_for(lambda: watch.spike_for("the-last-file"), "spike from the last file")
    assert watch.end() == 0


def test_the_follower_keeps_at_most_its_handles_open(tmp_path: Path) -> None:
    files = [tmp_path / f"f{i:02}.jsonl" for i in range(30)]
    for path in files:
        path.write_text("old\n")
    follower = Follower([str(tmp_path)], max_open=4)
    follower.start()
    assert follower.open_handles <= 4
    for round_ in range(3):
        for path in files:
            append(path, f"{path.stem}-{round_}\n")
        assert sorted(lines_of(follower.poll())) == sorted(f"{p.stem}-{round_}" for p in files)
        assert follower.open_handles <= 4
    follower.close()
    assert follower.open_handles == 0


# ------------------------------------------------------ 6. state that grows with files seen


def test_the_watcher_forgets_files_that_are_gone(tmp_path: Path) -> None:
    monitor = LiveMonitor(MonitorSettings(bucket_seconds=60))
    watcher = Watcher([str(tmp_path)], Config(), monitor)
    watcher.start(backfill_since=None)
    for day in range(20):
        path = tmp_path / f"app-{day:02}.jsonl"
        path.write_text(record("c", "user", datetime.now(UTC)) + "not json\n")
        assert len(watcher.poll()) == 1
        path.unlink()
    watcher.poll()
    # One decoder per file followed, not one per file ever seen (dated names pile up).
    assert len(watcher._decoders) <= 1
    watcher.close()


# ------------------------------------------------------ and what turned up on the way


def test_a_csv_followed_from_its_end_keeps_its_header(tmp_path: Path) -> None:
    log = tmp_path / "app.csv"
    now = datetime.now(UTC).isoformat()
    log.write_text(f"timestamp,role,conversation_id,prompt_tokens\n{now},user,c,\n")
    monitor = LiveMonitor(MonitorSettings(bucket_seconds=60))
    watcher = Watcher([str(log)], Config(), monitor)
    watcher.start(backfill_since=None)
    append(log, f"{now},bot,c,5\n{now},bot,c,7\n")
    assert watcher.poll() == []
    assert monitor.records == 2
    watcher.close()
