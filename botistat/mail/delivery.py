"""Email a report: a multipart/alternative message (plain text + HTML), sent over SMTP with the
standard library. What cannot be sent is kept (see :mod:`botistat.mail.outbox`)."""

from __future__ import annotations

import base64
import copy
import os
import smtplib
import ssl
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, make_msgid
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
    """The server could not be used (connection, TLS, login, timeout): the message waits in
    the outbox, and so would any other."""

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


#: Who a message kept for some of its recipients only is for (the others got it); read, and
#: left out of what is sent, by :func:`send`.
ENVELOPE_HEADER: Final = "X-Botistat-Recipients"


@dataclass(frozen=True)
class Refusal:
    """A recipient the server would not take the message for, and its reply."""

    recipient: str
    #: The SMTP reply code; None when the message itself cannot be sent (malformed).
    code: int | None
    reply: str

    @property
    def permanent(self) -> bool:
        """5xx: sending it again will not help (4xx: it may)."""
        return self.code is None or self.code >= 500

    def text(self) -> str:
        status = "not sent" if self.code is None else str(self.code)
        return f"{self.recipient} ({status}: {self.reply})"


class MessageRefusedError(DeliveryError):
    """The server refused this message for every recipient; other messages may still go."""

    def __init__(self, what: str, where: str, refusals: list[Refusal]) -> None:
        super().__init__(what, where)
        self.refusals = refusals


def envelope(message: EmailMessage) -> list[str]:
    """Who the message goes to: :data:`ENVELOPE_HEADER` if set, else To, Cc and Bcc."""
    names = (ENVELOPE_HEADER,) if ENVELOPE_HEADER in message else ("To", "Cc", "Bcc")
    values = [str(value) for name in names for value in message.get_all(name) or []]
    return [address for _, address in getaddresses(values) if address]


def password_for(settings: EmailConfig) -> str | None:
    """The SMTP password, from the environment; a :class:`ConfigError` if the config cannot
    send (checked before anything is built or sent: a message it could never send is not
    queued)."""
    if not settings.host:
        raise ConfigError("no SMTP server configured", "email.host", "set email.host in the config")
    if not settings.username:
        return None
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
            "nothing was sent or queued; set it and run again",
        )
    return password


def send(message: EmailMessage, settings: EmailConfig) -> list[Refusal]:
    """Send over SMTP; return the recipients refused while others took it.

    Raises :class:`MessageRefusedError` when no recipient took it, and :class:`DeliveryError`
    when the server could not be used (any other message would fail alike).
    """
    password = password_for(settings)
    port = settings.port or DEFAULT_PORTS[settings.security]
    where = server_address(settings)
    recipients = envelope(message)
    if ENVELOPE_HEADER in message:
        message = copy.deepcopy(message)
        del message[ENVELOPE_HEADER]
    client = _connect(settings, port, password, where)
    try:
        refused = _transmit(client, message, recipients, where)
    finally:
        # The message is out: a failed goodbye must not make it look unsent.
        with suppress(smtplib.SMTPException, OSError):
            client.quit()
        client.close()
    return _refusals(refused)


def server_address(settings: EmailConfig) -> str:
    """``host:port`` of the SMTP server, as errors name it."""
    return f"{settings.host}:{settings.port or DEFAULT_PORTS[settings.security]}"


def _refusals(refused: dict[str, tuple[int, bytes]]) -> list[Refusal]:
    return [Refusal(address, code, _text(reply)) for address, (code, reply) in refused.items()]


def _connect(settings: EmailConfig, port: int, password: str | None, where: str) -> smtplib.SMTP:
    """A connected (and logged-in) client; a :class:`DeliveryError` for any failure."""
    assert settings.host is not None
    client: smtplib.SMTP | None = None
    try:
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        if settings.security == "ssl":
            client = smtplib.SMTP_SSL(
                settings.host, port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, port, timeout=settings.timeout)
        if settings.security == "starttls":
            client.starttls(context=context)
        if settings.username and password is not None:
            login(client, settings.username, password)
        return client
    except smtplib.SMTPAuthenticationError as exc:
        _close(client)
        raise DeliveryError(f"SMTP login refused ({exc.smtp_code})", where) from exc
    except TimeoutError as exc:
        _close(client)
        raise DeliveryError(
            f"SMTP server did not answer within {settings.timeout:g}s", where
        ) from exc
    except ConnectionRefusedError as exc:
        raise DeliveryError("SMTP connection refused", where) from exc
    except ssl.SSLError as exc:
        _close(client)
        raise DeliveryError(f"TLS failed: {exc.reason or exc}", where) from exc
    except (smtplib.SMTPException, OSError, ValueError) as exc:  # ValueError: a bad host name
        _close(client)
        raise DeliveryError(f"cannot send: {exc}", where) from exc


def _close(client: smtplib.SMTP | None) -> None:
    if client is not None:
        client.close()


def login(client: smtplib.SMTP, user: str, password: str) -> None:
    """Log in; the credentials go as UTF-8 (RFC 4616, RFC 4954).

    smtplib's own login encodes them as ASCII, so a password such as ``Zürich-2026`` raised
    UnicodeEncodeError. It is still used for ASCII credentials: it also knows CRAM-MD5.
    """
    if user.isascii() and password.isascii():
        client.login(user, password)
        return
    client.ehlo_or_helo_if_needed()
    offered = client.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" in offered:
        code, reply = client.docmd("AUTH", "PLAIN " + _base64(f"\0{user}\0{password}"))
    elif "LOGIN" in offered:
        code, reply = client.docmd("AUTH", "LOGIN " + _base64(user))
        if code == 334:
            code, reply = client.docmd(_base64(password))
    else:
        raise smtplib.SMTPException(
            "the server offers neither AUTH PLAIN nor LOGIN, which a non-ASCII password needs"
        )
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _transmit(
    client: smtplib.SMTP, message: EmailMessage, recipients: list[str], where: str
) -> dict[str, tuple[int, bytes]]:
    try:
        return client.send_message(message, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        refusals = _refusals(exc.recipients)
        raise MessageRefusedError("SMTP server refused every recipient", where, refusals) from exc
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        reply = _text(exc.smtp_error)
        refusals = [Refusal(address, exc.smtp_code, reply) for address in recipients]
        raise MessageRefusedError(
            f"SMTP server refused the message ({exc.smtp_code} {reply})", where, refusals
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"cannot send: {exc}", where) from exc
    except (ValueError, LookupError) as exc:  # no recipient, a header that cannot be written
        refusals = [Refusal(address, None, str(exc)) for address in recipients or ["(nobody)"]]
        raise MessageRefusedError(f"cannot send this message: {exc}", where, refusals) from exc


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())
