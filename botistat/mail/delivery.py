"""Email a report: a multipart/alternative message (plain text + HTML), sent over SMTP with the
standard library; kept in an outbox when it cannot be sent, so no report is ever lost."""

from __future__ import annotations

import os
import smtplib
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Final

from botistat.core.config import EmailConfig
from botistat.core.errors import BotistatError, ConfigError, ExitCode
from botistat.core.model import Report
from botistat.render.html import period_text, render_html
from botistat.render.text import render_text

DEFAULT_SUBJECT: Final = (
    "[botistat] {marker}{scope}: {messages} msgs, {error_rate} errors, p95 {p95}"
)
DEFAULT_PORTS: Final = {"starttls": 587, "ssl": 465, "none": 25}
BREACH_MARKER: Final = "THRESHOLD BREACHED: "
#: SMTP line endings; headers are not folded below RFC 5322's hard limit of 998 characters
#: (the library folds a long subject before its first word, which some clients then show with
#: a leading space).
MAIL_POLICY: Final = SMTP.clone(max_line_length=998)


class DeliveryError(BotistatError):
    """The message could not be sent (it is in the outbox)."""

    exit_code = ExitCode.DELIVERY_FAILED


@dataclass(frozen=True)
class Summary:
    """The headline numbers a subject can show."""

    scope: str
    period: str
    messages: str
    users: str
    failed: str
    error_rate: str
    p95: str
    tokens: str
    breaches: int

    def fields(self) -> dict[str, str]:
        return {
            "scope": self.scope,
            "period": self.period,
            "messages": self.messages,
            "users": self.users,
            "failed": self.failed,
            "error_rate": self.error_rate,
            "p95": self.p95,
            "tokens": self.tokens,
            "breaches": str(self.breaches),
            "marker": BREACH_MARKER if self.breaches else "",
        }


def summarize(report: Report, name: str | None, breaches: int) -> Summary:
    metrics = report.metrics
    rate = metrics.errors.rate
    p95 = metrics.response_ms.p95
    period = period_text(report)
    return Summary(
        scope=name or period,
        period=period,
        messages=humanize(metrics.messages.total),
        users=humanize(metrics.messages.user),
        failed=humanize(metrics.messages.failed),
        error_rate="-" if rate is None else f"{rate * 100:.1f}%",
        p95="-" if p95 is None else (f"{p95 / 1000:.1f}s" if p95 >= 1000 else f"{p95:.0f}ms"),
        tokens=humanize(metrics.tokens.total),
        breaches=breaches,
    )


def humanize(count: int) -> str:
    """12400 -> 12.4k, 1830000 -> 1.8M."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(count) >= limit:
            return f"{count / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return str(count)


def subject_line(template: str | None, summary: Summary) -> str:
    """The subject from a template with ``{scope}``, ``{messages}``, ``{error_rate}``..."""
    text = template or DEFAULT_SUBJECT
    try:
        return " ".join(text.format_map(summary.fields()).split())
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"cannot use subject template {text!r}: {exc}",
            "--subject",
            "placeholders: " + ", ".join("{" + key + "}" for key in summary.fields()),
        ) from exc


def build_message(
    report: Report, *, sender: str, recipients: Sequence[str], subject: str
) -> EmailMessage:
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = sender.rpartition("@")[2].strip(">") or "botistat.invalid"
    message["Message-ID"] = make_msgid(domain=domain)
    message["X-Mailer"] = "botistat"
    message.set_content(render_text(report))
    message.add_alternative(render_html(report), subtype="html")
    return message


def send(message: EmailMessage, settings: EmailConfig) -> None:
    """Send over SMTP; any failure is a :class:`DeliveryError` with a one-line reason."""
    if not settings.host:
        raise ConfigError("no SMTP server configured", "email.host", "set email.host in the config")
    password = None
    if settings.username:
        if not settings.password_env:
            raise ConfigError(
                "email.username is set but email.password_env is not",
                "config",
                "name the environment variable that holds the password in email.password_env",
            )
        password = os.environ.get(settings.password_env)
        if password is None:
            raise ConfigError(
                f"environment variable {settings.password_env} (the SMTP password) is not set",
                "email.password_env",
            )
    port = settings.port or DEFAULT_PORTS[settings.security]
    where = f"{settings.host}:{port}"
    try:
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        client: smtplib.SMTP
        if settings.security == "ssl":
            client = smtplib.SMTP_SSL(
                settings.host, port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, port, timeout=settings.timeout)
        with client:
            if settings.security == "starttls":
                client.starttls(context=context)
            if settings.username and password is not None:
                client.login(settings.username, password)
            client.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"SMTP login refused ({exc.smtp_code})", where) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError("SMTP server refused the recipients", where) from exc
    except TimeoutError as exc:
        raise DeliveryError(
            f"SMTP server did not answer within {settings.timeout:g}s", where
        ) from exc
    except ConnectionRefusedError as exc:
        raise DeliveryError("SMTP connection refused", where) from exc
    except ssl.SSLError as exc:
        raise DeliveryError(f"TLS failed: {exc.reason or exc}", where) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"cannot send: {exc}", where) from exc


def default_outbox() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "botistat" / "outbox"


def save_to_outbox(message: EmailMessage, outbox: Path) -> Path:
    """Write the message as an ``.eml`` file (atomically) and return its path."""
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = outbox / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(message.as_bytes())
    temporary.replace(path)
    return path


def waiting(outbox: Path) -> list[Path]:
    return sorted(outbox.glob("*.eml")) if outbox.is_dir() else []


def load_message(path: Path) -> EmailMessage:
    from email import message_from_bytes

    parsed = message_from_bytes(path.read_bytes(), _class=EmailMessage, policy=MAIL_POLICY)
    assert isinstance(parsed, EmailMessage)
    return parsed
