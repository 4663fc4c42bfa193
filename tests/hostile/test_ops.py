"""Operations: what cron, systemd, CI runners and `timeout` do to a run.

Signals in the middle of a spill, temporary files of killed runs, an SMTP server that refuses
some recipients or a password, an outbox that cannot be written or holds a broken message,
a GitHub step summary that cannot be written, and gates on empty input. Real subprocesses, a
real SMTP server (aiosmtpd) and real files throughout.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, write_jsonl
from tests.hostile.conftest import CRASH_MARKERS, run_hostile

#: Seconds any one subprocess may take here before the test fails.
DEADLINE = 60.0


def spawn(
    *args: str, env: dict[str, str], stdin: int = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    """Start botistat as :func:`tests.conftest.run_botistat` would, without waiting."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.Popen(
        [sys.executable, "-m", "botistat", *args],
        cwd=ROOT,
        env={**base, "NO_COLOR": "1", "COLUMNS": "120", **env},
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    """Wait for the process; its exit code and stderr, which must hold no crash."""
    _, stderr = process.communicate(timeout=DEADLINE)
    for marker in CRASH_MARKERS:
        assert marker not in stderr, stderr.decode(errors="replace")[-3000:]
    return process.returncode, stderr.decode(errors="replace")


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    """Poll ``condition`` until it holds; fail if the process ends or the deadline passes."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert process.poll() is None, finish(process)
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def scratch_dirs(directory: Path) -> list[Path]:
    return sorted(directory.glob("botistat-*"))


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 40 MB of JSON Lines: with a 1M budget a report spills it to ~150 partitions
    and runs for seconds, long enough to be stopped mid-run."""
    path = tmp_path_factory.mktemp("ops") / "big.jsonl"
    base = 1_763_546_400
    with path.open("w") as handle:
        handle.writelines(
            f'{{"timestamp": {base + i}, "conversation_id": "c{i // 8}", '
            f'"role": "{"user" if i % 2 == 0 else "assistant"}", "total_tokens": {i % 700}, '
            f'"ip": "10.{i % 200}.0.1", "bot_id": "b{i % 3}"}}\n'
            for i in range(300_000)
        )
    return path


STOPS = {
    signal.SIGINT: (130, "botistat: interrupted"),
    signal.SIGTERM: (143, "botistat: terminated"),
}


@pytest.mark.parametrize(
    ("command", "signum"),
    [
        pytest.param(("report", "-f", "json"), signal.SIGTERM, id="report-SIGTERM"),
        pytest.param(("check", "-t", "messages.total > 0"), signal.SIGTERM, id="check-SIGTERM"),
        pytest.param(("report", "-f", "json"), signal.SIGINT, id="report-SIGINT"),
    ],
)
def test_signal_mid_spill_exits_cleanly(
    big_log: Path, tmp_path: Path, command: tuple[str, ...], signum: signal.Signals
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    process = spawn(*command, str(big_log), "--memory-budget", "1M", env={"TMPDIR": str(tmpdir)})
    wait_until(lambda: bool(scratch_dirs(tmpdir)), process)  # the spill has begun
    process.send_signal(signum)
    code, stderr = finish(process)
    status, line = STOPS[signum]
    assert code == status, stderr
    assert stderr.strip().splitlines()[-1] == line, stderr
    assert scratch_dirs(tmpdir) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_while_waiting_for_stdin(
    big_log: Path, tmp_path: Path, signum: signal.Signals
) -> None:
    """A query waiting for more input never looks at signals: the run still stops, within
    the grace period, without its spill directory (the input size is unknown: it spills)."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    read_end, write_end = os.pipe()
    process = spawn("report", "-", "-f", "json", env={"TMPDIR": str(tmpdir)}, stdin=read_end)
    os.close(read_end)
    with os.fdopen(write_end, "wb") as pipe:
        with big_log.open("rb") as log:
            pipe.write(log.read(4 << 20).rpartition(b"\n")[0] + b"\n")
        pipe.flush()
        wait_until(lambda: bool(scratch_dirs(tmpdir)), process)
        process.send_signal(signum)
        code, stderr = finish(process)  # stdin is still open
    status, line = STOPS[signum]
    assert code == status, stderr
    assert line in stderr
    assert scratch_dirs(tmpdir) == []


def _stale(parent: Path, name: str, age: float) -> Path:
    directory = parent / name
    (directory / "botistat_partition=0").mkdir(parents=True)
    (directory / "botistat_partition=0" / "0.parquet").write_bytes(b"x" * 1000)
    then = time.time() - age
    os.utime(directory, (then, then))
    return directory


@pytest.fixture
def locked_owner(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Lock a directory's owner file as a live botistat in another PID namespace would."""
    held: list[int] = []

    def lock(directory: Path) -> None:
        owner = os.open(directory / ".owner", os.O_WRONLY | os.O_CREAT, 0o600)
        fcntl.flock(owner, fcntl.LOCK_EX)
        held.append(owner)

    yield lock
    for owner in held:
        os.close(owner)


def test_stale_spill_directories_of_dead_processes_are_removed(
    tmp_path: Path, locked_owner: Callable[[Path], None]
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    # Above the kernel's largest PID: a process that cannot be running.
    dead = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    stale = _stale(tmpdir, f"botistat-{dead}-k1ll3d", age=600)
    young = _stale(tmpdir, f"botistat-{dead}-y0ung", age=5)  # the PID may be reused
    alive = _stale(tmpdir, f"botistat-{os.getpid()}-4l1ve", age=600)
    elsewhere = _stale(tmpdir, f"botistat-{dead}-0th3r", age=600)
    locked_owner(elsewhere)
    os.utime(elsewhere, (time.time() - 600,) * 2)
    unrelated = _stale(tmpdir, "botistat-n0p1d", age=600)
    logs = write_jsonl(
        tmp_path / "small.jsonl",
        [
            {"timestamp": 1_763_546_400 + i, "conversation_id": f"c{i // 4}", "role": "user"}
            for i in range(2000)
        ],
    )
    result = run_hostile(
        "report", str(logs), "-f", "json", "--memory-budget", "64k", env={"TMPDIR": str(tmpdir)}
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["messages"]["total"] == 2000
    assert scratch_dirs(tmpdir) == sorted([young, alive, elsewhere, unrelated])
    assert not stale.exists()
