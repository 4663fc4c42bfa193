"""The outbox: messages that could not be sent, kept as ``.eml`` files so that no report is
lost, and sent by ``botistat email --send-outbox``.

A message the server refused for good (an SMTP 5xx reply), or a file that is no message,
goes to the outbox's ``quarantine/`` folder instead, so it does not block the others: sending
it again would fail again. Moving a file back into the outbox retries it.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.errors import MessageError
from email.message import EmailMessage
from pathlib import Path
from typing import Final

from botistat.core.config import EmailConfig
from botistat.core.errors import BotistatError
from botistat.mail.delivery import (
    ENVELOPE_HEADER,
    MAIL_POLICY,
    DeliveryError,
    MessageRefusedError,
    Refusal,
    envelope,
    send,
)

QUARANTINE: Final = "quarantine"


class CorruptMessageError(BotistatError):
    """An outbox file that is not a message that can be sent."""


def default_outbox() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "botistat" / "outbox"


def save(message: EmailMessage, directory: Path, recipients: list[str] | None = None) -> Path:
    """Write the message as an ``.eml`` file in ``directory`` (atomically) and return its
    path; with ``recipients``, for those only. Raises OSError."""
    if recipients is not None:
        message = _for(message, recipients)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
    temporary = path.with_suffix(".tmp")
    try:
        temporary.write_bytes(message.as_bytes())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _for(message: EmailMessage, recipients: list[str]) -> EmailMessage:
    copy = load_bytes(message.as_bytes())
    del copy[ENVELOPE_HEADER]
    copy[ENVELOPE_HEADER] = ", ".join(recipients)
    return copy


def waiting(outbox: Path) -> list[Path]:
    """The messages waiting, oldest first (the quarantine is not waiting)."""
    return sorted(p for p in outbox.glob("*.eml") if p.is_file()) if outbox.is_dir() else []


def load(path: Path) -> EmailMessage:
    """The message in an outbox file; a :class:`CorruptMessageError` if it cannot be sent."""
    try:
        message = load_bytes(path.read_bytes())
        if not message["From"] or not envelope(message):
            raise CorruptMessageError("no sender or no recipient", str(path))
        message.as_bytes()  # what sending writes; a broken header fails here, not mid-send
    except (OSError, MessageError, ValueError, LookupError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else exc
        raise CorruptMessageError(f"cannot read message: {reason}", str(path)) from exc
    return message


def load_bytes(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data, _class=EmailMessage, policy=MAIL_POLICY)
    assert isinstance(parsed, EmailMessage)
    return parsed


def quarantine(path: Path, outbox: Path) -> Path:
    """Move an outbox file to the quarantine; raises OSError."""
    target = outbox / QUARANTINE / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():  # a file dropped in by hand may share a name with one moved before
        target = target.with_name(f"{target.stem}-{uuid.uuid4().hex[:8]}{target.suffix}")
    path.replace(target)
    return target


def keep(message: EmailMessage, outbox: Path, refusals: list[Refusal]) -> list[Path]:
    """Keep the message for the recipients that refused it: those that may take it later in
    the outbox, those refused for good in the quarantine. Raises OSError."""
    kept = []
    for permanent, directory in ((False, outbox), (True, outbox / QUARANTINE)):
        recipients = [r.recipient for r in refusals if r.permanent == permanent]
        if recipients:
            kept.append(save(message, directory, recipients))
    return kept


@dataclass
class Flush:
    """What sending the outbox did."""

    sent: int = 0
    #: Messages still waiting in the outbox (some recipients may take them later).
    waiting: int = 0
    quarantined: int = 0
    #: One line per message not sent, or not removed once sent.
    notes: list[str] = field(default_factory=list)
    #: The server could not be used: the messages from this one on were not tried.
    stopped: DeliveryError | None = None


def flush(outbox: Path, settings: EmailConfig) -> Flush:
    """Send every waiting message; one that fails does not stop the others, unless the
    server itself cannot be used (then the others would fail alike)."""
    result = Flush()
    pending = waiting(outbox)
    for index, path in enumerate(pending):
        try:
            message = load(path)
        except CorruptMessageError as error:
            _move_aside(path, outbox, error.what, result)
            continue
        try:
            refusals = send(message, settings)
        except MessageRefusedError as error:
            _refused(path, message, error.refusals, outbox, result)
            continue
        except DeliveryError as error:
            result.stopped = error
            result.waiting += len(pending) - index
            break
        result.sent += 1
        if refusals:
            _refused(path, message, refusals, outbox, result)
            continue
        try:
            path.unlink()
        except OSError as exc:
            result.notes.append(f"{path}: sent, but cannot be removed ({exc.strerror}): remove it")
    return result


def _refused(
    path: Path, message: EmailMessage, refusals: list[Refusal], outbox: Path, result: Flush
) -> None:
    who = ", ".join(r.text() for r in refusals)
    everyone = set(envelope(message)) <= {r.recipient for r in refusals}
    if everyone and all(not r.permanent for r in refusals):
        result.waiting += 1
        result.notes.append(f"{path.name}: refused for now by {who}; it waits")
    elif everyone and all(r.permanent for r in refusals):
        _move_aside(path, outbox, f"refused for good by {who}", result)
    else:
        try:
            kept = keep(message, outbox, refusals)
            path.unlink()
        except OSError as exc:
            result.waiting += 1
            result.notes.append(f"{path}: refused by {who}; cannot split it ({exc.strerror})")
            return
        result.waiting += sum(p.parent == outbox for p in kept)
        result.quarantined += sum(p.parent != outbox for p in kept)
        result.notes.append(f"{path.name}: refused by {who}; kept for them in {_places(kept)}")


def _move_aside(path: Path, outbox: Path, why: str, result: Flush) -> None:
    try:
        moved = quarantine(path, outbox)
    except OSError as exc:
        result.waiting += 1
        result.notes.append(f"{path}: {why}; cannot move it aside ({exc.strerror})")
        return
    result.quarantined += 1
    result.notes.append(f"{path.name}: {why}; moved to {moved}")


def _places(paths: list[Path]) -> str:
    return " and ".join(str(path) for path in paths)
