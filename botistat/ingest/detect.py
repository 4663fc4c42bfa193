"""Which known log format the inputs are, told from the first records of the first input.

Only a clear signature picks a preset: the keys a format always writes (a Claude Code line's
``sessionId``, ``type`` and ``message``; a Batch line's ``custom_id`` and ``response``). Every
record of the head must belong to that one format, and at least one must carry its full
signature; anything else keeps the default mapping. An input of bookkeeping lines only (a
Claude Code file of session summaries) tells nothing, and the next input is looked at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from botistat.core.errors import InputError
from botistat.ingest.blocks import HEAD_BYTES, peek_head
from botistat.ingest.decoder import sniff_format
from botistat.ingest.jsonl import json_object
from botistat.ingest.sources import Source

Record = dict[str, Any]
#: Records of the head looked at: enough to pass a file's bookkeeping lines.
HEAD_RECORDS: Final = 64
#: Inputs looked at before giving up, when the first ones tell nothing.
MAX_INPUTS: Final = 16
#: Claude Code lines that are no messages: they belong to the format but do not prove it.
CLAUDE_BOOKKEEPING: Final = ("sessionId", "leafUuid", "snapshot", "messageId")


@dataclass(frozen=True)
class Signature:
    """``proves``: a record only this format writes; ``belongs``: a record it may write."""

    proves: Callable[[Record], bool]
    belongs: Callable[[Record], bool]


def _has(record: Record, *keys: str) -> bool:
    return all(key in record for key in keys)


def _claude_message(record: Record) -> bool:
    return (
        isinstance(record.get("sessionId"), str)
        and record.get("type") in ("user", "assistant")
        and isinstance(record.get("message"), dict)
    )


def _claude_line(record: Record) -> bool:
    return isinstance(record.get("type"), str) and any(k in record for k in CLAUDE_BOOKKEEPING)


def _batch_line(record: Record) -> bool:
    response = record.get("response")
    return _has(record, "custom_id", "response", "error") and (
        response is None or (isinstance(response, dict) and "status_code" in response)
    )


def _chat_completion(record: Record) -> bool:
    return record.get("object") == "chat.completion" and _has(record, "created", "choices")


def _openai_error(record: Record) -> bool:
    return isinstance(record.get("error"), dict) and set(record) <= {
        "error",
        "created",
        "model",
        "id",
    }


def _litellm_payload(record: Record) -> bool:
    return _has(record, "id", "call_type", "startTime", "endTime") and (
        "trace_id" in record or "response_cost" in record
    )


def _litellm_spend_row(record: Record) -> bool:
    return _has(record, "request_id", "call_type", "spend", "startTime")


def _langfuse_observation(record: Record) -> bool:
    return _has(record, "id", "traceId", "type", "startTime") and (
        "usageDetails" in record or "usage" in record
    )


def _nested_message(record: Record) -> bool:
    return _has(record, "ts", "role", "conversationId") and isinstance(record.get("meta"), dict)


SIGNATURES: Final[dict[str, Signature]] = {
    "claude-code": Signature(_claude_message, _claude_line),
    "openai-batch": Signature(_batch_line, _batch_line),
    "openai": Signature(_chat_completion, lambda r: _chat_completion(r) or _openai_error(r)),
    "litellm": Signature(_litellm_payload, _litellm_payload),
    "litellm-spendlogs": Signature(_litellm_spend_row, _litellm_spend_row),
    "langfuse": Signature(_langfuse_observation, _langfuse_observation),
    "nested-messages": Signature(_nested_message, _nested_message),
}


@dataclass(frozen=True)
class Detection:
    preset: str
    #: The input whose head told it.
    source: str


#: What a set of records says: a preset's name, UNKNOWN (records of no known format, or of
#: several) or UNDECIDED (no records, or only lines that prove nothing).
UNKNOWN: Final = "\x00unknown"
UNDECIDED: Final = "\x00undecided"


def preset_of(records: Iterable[Record]) -> str:
    """The preset these records are written in, :data:`UNKNOWN` or :data:`UNDECIDED`."""
    candidates = set(SIGNATURES)
    proven: set[str] = set()
    seen = False
    for record in records:
        seen = True
        candidates = {name for name in candidates if SIGNATURES[name].belongs(record)}
        if not candidates:
            return UNKNOWN
        proven |= {name for name in candidates if SIGNATURES[name].proves(record)}
    proven &= candidates
    if not seen or not proven:
        return UNDECIDED
    return proven.pop() if len(proven) == 1 else UNKNOWN


def head_records(head: bytes, limit: int = HEAD_RECORDS) -> list[Record]:
    """The JSON objects on the whole lines of an input's head (a line the head cuts is left
    out; a line that is no object is passed over)."""
    lines = head.split(b"\n")
    if len(head) >= HEAD_BYTES:
        lines = lines[:-1]
    records: list[Record] = []
    for line in lines:
        if len(records) >= limit:
            break
        text = line.decode("utf-8", "replace").strip()
        if not text:
            continue
        value = json_object(text)
        if isinstance(value, dict):
            records.append(value)
    return records


def detect_preset(sources: list[Source]) -> Detection | None:
    """The preset the inputs are written in, told by the first input whose head tells
    anything; None when that input is of no known format (or none tells)."""
    for source in sources[:MAX_INPUTS]:
        verdict = _verdict(source)
        if verdict == UNDECIDED:
            continue
        return None if verdict == UNKNOWN else Detection(verdict, source.name)
    return None


def _verdict(source: Source) -> str:
    if source.format in ("csv", "tsv"):
        return UNKNOWN  # every known format is JSON
    try:
        head = peek_head(source)
    except InputError:  # reading it for real reports why
        return UNDECIDED
    if head is None:  # a standard input that cannot be peeked at: nothing is read twice
        return UNKNOWN
    if source.format is None and sniff_format(head) != "jsonl":
        return UNKNOWN if head.strip() else UNDECIDED
    return preset_of(head_records(head))
