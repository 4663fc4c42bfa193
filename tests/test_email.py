"""``botistat email`` against a real SMTP server on localhost (aiosmtpd)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import ROOT, free_port, run_botistat, write_text
from tests.test_html import parse

SAMPLE = str(ROOT / "sample_logs")


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.content, _class=EmailMessage, policy=default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def config(tmp_path: Path, port: int, **extra: str) -> Path:
    lines = [
        "email:",
        "  host: 127.0.0.1",
        f"  port: {port}",
        f"  security: {extra.pop('security', 'none')}",
        "  sender: botistat <reports@example.com>",
        f"  outbox: {tmp_path / 'outbox'}",
        "  timeout: 5",
        *(f"  {key}: {value}" for key, value in extra.items()),
        "thresholds:",
        "  - errors.rate < 2%",
    ]
    return write_text(tmp_path / "botistat.yaml", "\n".join(lines) + "\n")


def email(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return run_botistat("email", SAMPLE, *args, env=env)


def test_report_arrives_with_both_parts(smtp: tuple[Inbox, int], tmp_path: Path) -> None:
    inbox, port = smtp
    cfg = config(tmp_path, port, name="support")
    result = email("-c", str(cfg), "--to", "team@example.com", "--to", "cto@example.com")
    assert result.returncode == 0, result.stderr
    [(sender, recipients, message)] = inbox.messages
    assert sender == "reports@example.com"
    assert recipients == ["team@example.com", "cto@example.com"]
    # The sample logs: 2,798 messages, 4.72% errors (over the 2% threshold), p95 8,903 ms.
    assert message["Subject"] == (
        "[botistat] THRESHOLD BREACHED: support: 2.8k msgs, 4.7% errors, p95 8.9s"
    )
    assert message["From"] == "botistat <reports@example.com>"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    plain_text, html_text = text.get_content(), html.get_content()
    for number in ("2,798", "1,314", "4.72%", "1,732,601"):
        assert number in plain_text
        assert number in html_text
    assert "<svg" in html_text and "<script" not in html_text


def test_dry_run_writes_the_eml(tmp_path: Path) -> None:
    out = tmp_path / "report.eml"
    cfg = write_text(tmp_path / "c.yaml", "email:\n  sender: me@example.com\n")
    result = email(
        "-c",
        str(cfg),
        "--to",
        "x@example.com",
        "--dry-run",
        "-o",
        str(out),
        "--subject",
        "{messages} msgs / {p95}",
    )
    assert result.returncode == 0, result.stderr
    message = message_from_bytes(out.read_bytes(), policy=default)
    assert message["Subject"] == "2.8k msgs / 8.9s"
    assert message["To"] == "x@example.com"


def test_server_down_saves_to_outbox_then_send_outbox(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    cfg = config(tmp_path, port)
    result = email("-c", str(cfg), "--to", "team@example.com")
    assert result.returncode == 3
    stderr = result.stderr.decode()
    error = next(line for line in stderr.splitlines() if line.startswith("botistat: error:"))
    assert error == f"botistat: error: SMTP connection refused (127.0.0.1:{port})"
    assert "Traceback" not in stderr
    saved = list((tmp_path / "outbox").glob("*.eml"))
    assert len(saved) == 1
    assert "--send-outbox" in stderr
    # The server comes back: the waiting message goes out, and the outbox empties.
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        retry = run_botistat("email", "--send-outbox", "-c", str(cfg))
        assert retry.returncode == 0, retry.stderr
    finally:
        controller.stop()
    assert list((tmp_path / "outbox").glob("*.eml")) == []
    assert inbox.messages[0][2]["Subject"].startswith("[botistat] THRESHOLD BREACHED")


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_with_password_from_environment(tmp_path: Path) -> None:
    inbox = Inbox()
    port = free_port()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        ok = isinstance(auth, LoginPassword) and auth.password == b"s3cret"
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        cfg = config(tmp_path, port, username="reports", password_env="SMTP_PASSWORD")
        wrong = email("-c", str(cfg), "--to", "t@example.com", env={"SMTP_PASSWORD": "nope"})
        assert wrong.returncode == 3
        assert b"SMTP login refused" in wrong.stderr
        missing = email("-c", str(cfg), "--to", "t@example.com")
        assert missing.returncode == 2
        assert b"SMTP_PASSWORD" in missing.stderr
        right = email("-c", str(cfg), "--to", "t@example.com", env={"SMTP_PASSWORD": "s3cret"})
        assert right.returncode == 0, right.stderr
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    # The refused login queued its message; the unset password variable, a config error
    # found before the report was built, queued nothing (it could never be sent).
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_starttls(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        untrusted = config(tmp_path, port, security="starttls")
        refused = email("-c", str(untrusted), "--to", "t@example.com")
        assert refused.returncode == 3
        assert b"TLS failed" in refused.stderr
        trusted = config(tmp_path, port, security="starttls", ca_file=str(cert))
        sent = email("-c", str(trusted), "--to", "t@example.com")
        assert sent.returncode == 0, sent.stderr
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


def test_password_in_config_is_refused(tmp_path: Path) -> None:
    cfg = write_text(tmp_path / "c.yaml", "email:\n  password: hunter2\n")
    result = email("-c", str(cfg), "--to", "x@example.com")
    assert result.returncode == 2
    assert b"password_env" in result.stderr


def test_html_part_has_the_cost_table(tmp_path: Path) -> None:
    out = tmp_path / "report.eml"
    cfg = write_text(tmp_path / "c.yaml", "email:\n  sender: me@example.com\n")
    result = email("-c", str(cfg), "--to", "x@example.com", "--dry-run", "-o", str(out))
    assert result.returncode == 0, result.stderr
    message = message_from_bytes(out.read_bytes(), _class=EmailMessage, policy=default)
    assert isinstance(message, EmailMessage)
    html_part, text_part = message.get_body(("html",)), message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    page = parse(html_part.get_content())
    # The sample logs' cost, as the text part (and the table, text and Markdown) has it.
    header = page.cells.index("Priced from")
    assert page.cells[header + 2 : header + 6] == [
        "claude-3-5-haiku",
        "492",
        "genai-prices",
        "$0.6621",
    ]
    assert "llama-3.1-70b" in page.cells and "unpriced" in page.cells
    total = "Total $0.8289 (partial: some tokens have no price)."
    assert total in " ".join(" ".join(page.text).split())
    assert total in " ".join(text_part.get_content().split())
