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
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from botistat.engine.partition import partitions_for
from botistat.ingest import Source
from botistat.report.thresholds import can_be_empty, metric_names
from tests.conftest import ROOT, free_port, rounded, write_jsonl, write_text
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
    """About 40 MB of JSON Lines: with a 1M budget a report spills it (to one partition,
    the smallest spill) and runs for a second or more, long enough to be stopped mid-run."""
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


# ---------------------------------------------------------------- email

SAMPLE = str(ROOT / "sample_logs")
PASSWORD = "pässwörd-Zürich-€"


class Inbox:
    """An aiosmtpd handler: refuses the recipients it is told to, keeps what it receives."""

    def __init__(self, refuse: dict[str, str] | None = None) -> None:
        self.refuse = refuse or {}
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.content, _class=EmailMessage, policy=default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[Callable[..., tuple[Inbox, int]]]:
    """Start aiosmtpd servers on free ports (stopped after the test)."""
    controllers: list[Controller] = []

    def start(inbox: Inbox, port: int | None = None, **options: Any) -> tuple[Inbox, int]:
        port = port or free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return inbox, port

    yield start
    for controller in controllers:
        controller.stop()


def mail_config(tmp_path: Path, port: int, outbox: Path | None = None, **extra: str) -> Path:
    lines = [
        "email:",
        "  host: 127.0.0.1",
        f"  port: {port}",
        "  security: none",
        "  sender: botistat <reports@example.com>",
        f"  outbox: {outbox or tmp_path / 'outbox'}",
        "  timeout: 5",
        *(f"  {key}: {value}" for key, value in extra.items()),
    ]
    return write_text(tmp_path / "botistat.yaml", "\n".join(lines) + "\n")


def emls(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.eml"))


def error_lines(stderr: bytes) -> list[str]:
    return [line for line in stderr.decode().splitlines() if line.startswith("botistat: error:")]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_non_ascii_password(
    smtp: Callable[..., tuple[Inbox, int]], tmp_path: Path, mechanism: str
) -> None:
    def authenticate(server: Any, session: Any, envelope: Any, method: str, auth: Any) -> Any:
        ok = isinstance(auth, LoginPassword) and auth.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    other = "LOGIN" if mechanism == "PLAIN" else "PLAIN"
    inbox, port = smtp(
        Inbox(),
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,
        auth_exclude_mechanism=[other],
    )
    cfg = mail_config(tmp_path, port, username="reports", password_env="SMTP_PASSWORD")
    args = ("email", SAMPLE, "-c", str(cfg), "--to", "team@example.com")
    wrong = run_hostile(*args, env={"SMTP_PASSWORD": "wrong-Zürich"})
    assert wrong.returncode == 3, wrong.stderr
    assert error_lines(wrong.stderr) == [
        f"botistat: error: SMTP login refused (535) (127.0.0.1:{port})"
    ]
    assert len(emls(tmp_path / "outbox")) == 1  # kept, not lost
    right = run_hostile(*args, env={"SMTP_PASSWORD": PASSWORD})
    assert right.returncode == 0, right.stderr
    assert [recipients for recipients, _ in inbox.messages] == [["team@example.com"]]


def test_unwritable_outbox_puts_the_message_on_stdout(tmp_path: Path) -> None:
    blocker = write_text(tmp_path / "state", "a file where the outbox's parent should be\n")
    port = free_port()  # nothing listens: the message cannot be sent
    cfg = mail_config(tmp_path, port, outbox=blocker / "outbox")
    result = run_hostile("email", SAMPLE, "-c", str(cfg), "--to", "team@example.com")
    assert result.returncode == 2, result.stderr
    assert error_lines(result.stderr) == [
        f"botistat: error: SMTP connection refused (127.0.0.1:{port})"
    ]
    assert "the outbox cannot be written" in result.stderr.decode()
    message = message_from_bytes(result.stdout, policy=default)
    assert message["To"] == "team@example.com"
    assert message["Subject"].startswith("[botistat]")


def test_partly_refused_recipients_are_kept_for_them(
    smtp: Callable[..., tuple[Inbox, int]], tmp_path: Path
) -> None:
    refuse = {
        "gone@example.com": "550 5.1.1 no such user",
        "busy@example.com": "450 4.2.1 mailbox busy, try later",
    }
    inbox, port = smtp(Inbox(refuse))
    cfg = mail_config(tmp_path, port)
    to = ("team@example.com", "gone@example.com", "busy@example.com")
    result = run_hostile("email", SAMPLE, "-c", str(cfg), *(f"--to={a}" for a in to))
    assert result.returncode == 3, result.stderr
    stderr = result.stderr.decode()
    assert "sent '[botistat]" in stderr and "to team@example.com\n" in stderr
    [error] = error_lines(result.stderr)
    assert "gone@example.com (550: 5.1.1 no such user)" in error
    assert "busy@example.com (450: 4.2.1 mailbox busy, try later)" in error
    assert [recipients for recipients, _ in inbox.messages] == [["team@example.com"]]
    outbox = tmp_path / "outbox"
    [waiting] = emls(outbox)
    [quarantined] = emls(outbox / "quarantine")
    assert message_from_bytes(waiting.read_bytes())["X-Botistat-Recipients"] == "busy@example.com"
    assert "gone@example.com" in quarantined.read_text()
    # The mailbox is free again: the kept message goes to the one who did not get it.
    inbox.refuse = {}
    retry = run_hostile("email", "--send-outbox", "-c", str(cfg))
    assert retry.returncode == 0, retry.stderr
    recipients, message = inbox.messages[-1]
    assert recipients == ["busy@example.com"]
    assert message["To"] == "team@example.com, gone@example.com, busy@example.com"
    assert "X-Botistat-Recipients" not in message
    assert emls(outbox) == []


@pytest.fixture(scope="module")
def report_eml(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real report message, as --dry-run writes it."""
    out = tmp_path_factory.mktemp("eml") / "report.eml"
    cfg = write_text(out.parent / "c.yaml", "email:\n  sender: reports@example.com\n")
    done = run_hostile(
        "email", SAMPLE, "-c", str(cfg), "--to", "x@example.com", "--dry-run", "-o", str(out)
    )
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


def queue(outbox: Path, name: str, eml: bytes, to: str) -> Path:
    message = message_from_bytes(eml, _class=EmailMessage, policy=default)
    assert isinstance(message, EmailMessage)
    message.replace_header("To", to)
    message.replace_header("Subject", f"report for {to}")
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / name
    path.write_bytes(message.as_bytes())
    return path


def test_outbox_is_not_blocked_by_one_bad_message(
    smtp: Callable[..., tuple[Inbox, int]], tmp_path: Path, report_eml: bytes
) -> None:
    outbox = tmp_path / "outbox"
    corrupt = outbox / "1-corrupt.eml"
    outbox.mkdir()
    corrupt.write_bytes(b"\x00\x9f\x92 half a message, no headers\n")
    refused = queue(outbox, "2-refused.eml", report_eml, "gone@example.com")
    later = queue(outbox, "3-later.eml", report_eml, "busy@example.com")
    good = queue(outbox, "4-good.eml", report_eml, "team@example.com")
    inbox, port = smtp(
        Inbox(
            {
                "gone@example.com": "550 5.1.1 no such user",
                "busy@example.com": "452 4.2.2 mailbox full",
            }
        )
    )
    cfg = mail_config(tmp_path, port)
    result = run_hostile("email", "--send-outbox", "-c", str(cfg))
    assert result.returncode == 3, result.stderr
    assert [r for r, _ in inbox.messages] == [["team@example.com"]]
    assert emls(outbox) == [later]  # may go later
    assert not good.exists()
    quarantine = outbox / "quarantine"
    assert emls(quarantine) == [quarantine / corrupt.name, quarantine / refused.name]
    warnings = [line for line in result.stderr.decode().splitlines() if "warning" in line]
    assert any("1-corrupt.eml" in line and "moved to" in line for line in warnings), warnings
    assert any("2-refused.eml" in line and "550" in line for line in warnings), warnings
    assert "1 message(s) sent; 1 still wait" in result.stderr.decode()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_unset_password_variable_queues_nothing(tmp_path: Path, report_eml: bytes) -> None:
    cfg = mail_config(tmp_path, free_port(), username="reports", password_env="NO_SUCH_VARIABLE")
    result = run_hostile("email", SAMPLE, "-c", str(cfg), "--to", "team@example.com")
    assert result.returncode == 2, result.stderr
    assert error_lines(result.stderr) == [
        "botistat: error: environment variable NO_SUCH_VARIABLE (the SMTP password) is not set "
        "(email.password_env)"
    ]
    assert not (tmp_path / "outbox").exists()
    # Nor does it touch what waits.
    waiting = queue(tmp_path / "outbox", "1.eml", report_eml, "team@example.com")
    flushed = run_hostile("email", "--send-outbox", "-c", str(cfg))
    assert flushed.returncode == 2, flushed.stderr
    assert emls(tmp_path / "outbox") == [waiting]


# ---------------------------------------------------------------- check


@pytest.fixture(scope="module")
def flowing_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two exchanges, one reply 2 s after its question."""
    records: list[dict[str, Any]] = []
    for i in range(2):
        start = 1_763_546_400 + i * 60
        records.append({"timestamp": start, "role": "user", "conversation_id": f"c{i}"})
        records.append(
            {"timestamp": start + 2, "role": "assistant", "conversation_id": f"c{i}", "bot_id": "b"}
        )
    return write_jsonl(tmp_path_factory.mktemp("check") / "logs.jsonl", records)


@pytest.mark.parametrize("where", ["missing-directory", "a-directory"])
@pytest.mark.parametrize(
    ("threshold", "verdict"), [("messages.total == 4", 0), ("messages.total < 4", 1)]
)
def test_unwritable_step_summary_keeps_the_verdict(
    flowing_logs: Path, tmp_path: Path, where: str, threshold: str, verdict: int
) -> None:
    summary = tmp_path / "no" / "such" / "summary.md" if where == "missing-directory" else tmp_path
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    result = run_hostile("check", str(flowing_logs), "-t", threshold, env=env)
    assert result.returncode == verdict, result.stderr
    stderr = result.stderr.decode()
    assert "botistat: warning: cannot write the GitHub step summary: " in stderr
    assert f"({summary})" in stderr


def check_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = run_hostile("check", *args, "-f", "json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("by", [[], ["--by", "bot_id"]], ids=["overall", "by-bot"])
def test_counts_are_zero_when_the_logs_stop(tmp_path: Path, by: list[str]) -> None:
    empty = write_text(tmp_path / "today.jsonl", "")
    gate = ["-t", "messages.total > 0", "--allow-empty", *by]
    code, document = check_json(str(empty), *gate)
    assert code == 1, document
    [outcome] = document["checks"]
    assert (outcome["status"], outcome["actual"]) == ("fail", 0.0)
    # A rate has no value without records: with --allow-empty that still passes.
    code, document = check_json(str(empty), "-t", "errors.rate < 5%", "--allow-empty", *by)
    assert code == 0, document
    assert document["checks"][0]["status"] == "no_data"


def test_only_rates_averages_and_percentiles_can_be_no_data(tmp_path: Path) -> None:
    empty = write_text(tmp_path / "today.jsonl", "")
    thresholds = [arg for metric in metric_names() for arg in ("-t", f"{metric} >= 0")]
    _, document = check_json(str(empty), *thresholds, "--allow-empty")
    no_data = {c["metric"] for c in document["checks"] if c["status"] == "no_data"}
    assert no_data == {
        "response_ms.avg",
        "response_ms.p50",
        "response_ms.p90",
        "response_ms.p95",
        "response_ms.p99",
        "response_ms.max",
        "errors.rate",
    }
    assert no_data == {metric for metric in metric_names() if can_be_empty(metric)}


# ---------------------------------------------------------------- memory budget


def test_a_smaller_budget_never_spills_finer_than_256m() -> None:
    """Below a 256M budget, partitions would only add their own costs to a peak set by what
    the budget does not bound (bench/memory_budget.py has the figures): a smaller budget
    spills as 256M does, and a larger one never into more partitions."""
    mib = 1 << 20
    for size in (40 * mib, 315 * mib, 3_168 * mib, 12_722 * mib):  # JSON Lines inputs
        sources = [Source("logs.jsonl", Path("logs.jsonl"), "jsonl", False, size)]
        counts = [partitions_for(sources, budget * mib) for budget in (4, 64, 128, 256, 512, 1024)]
        assert counts[:3] == [max(counts[3], 1)] * 3, (size, counts)
        assert counts == sorted(counts, reverse=True), (size, counts)
        assert counts[0] >= 1  # over the budget: spilled, if only to one partition


def test_many_partitions_give_the_numbers_of_one_pass(tmp_path: Path) -> None:
    """Small inputs no longer spill into many partitions by a tiny budget; stdin, of unknown
    size, always spills into 16: the partials of all of them must merge exactly."""
    days = sorted((ROOT / "sample_logs").glob("*/support-bot.jsonl"))
    log = tmp_path / "support.jsonl"
    log.write_bytes(b"".join(day.read_bytes() for day in days))
    whole = run_hostile("report", str(log), "-f", "json", "--by", "hour")
    spilled = run_hostile(
        "report", "-", "-f", "json", "--by", "hour", "--memory-budget", "4k", input=log.read_bytes()
    )
    assert whole.returncode == spilled.returncode == 0, spilled.stderr
    one, many = json.loads(whole.stdout), json.loads(spilled.stdout)
    assert one["messages"]["total"] > 1000
    for section in ("messages", "response_ms", "tokens", "errors", "countries", "cost", "groups"):
        # Sums of dollars may differ in their last bits: the partitions add up in another order.
        assert rounded(many[section]) == rounded(one[section]), section
