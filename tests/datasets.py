"""Random but reproducible log datasets that exercise every awkward case at once.

Conversations are spread over JSONL, CSV, TSV and gzip files (so they are split across files),
with mixed timestamp styles, tokens as numbers or strings, only-total tokens, failed replies and
retries, multi-part replies, ties, system records, API errors in several spellings, countries in
mixed case, nested extra fields, quoted CSV text with commas and newlines, and malformed lines.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2026, 11, 17, tzinfo=UTC)
COLUMNS = (
    "timestamp",
    "conversation_id",
    "role",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "error",
    "error_code",
    "ip",
    "country",
    "bot_id",
    "channel",
    "model",
    "user_id",
)
#: A mapping with renamed and nested fields; CSV files then use the dotted names literally.
NESTED_FIELDS = {
    "timestamp": "ts",
    "conversation_id": "session.id",
    "prompt_tokens": "usage.prompt_tokens",
    "completion_tokens": "usage.completion_tokens",
    "total_tokens": "usage.total",
}


@dataclass(frozen=True)
class Dataset:
    paths: list[Path]
    fields: dict[str, str]
    config_text: str


def timestamp_text(rng: random.Random, moment: datetime, for_csv: bool) -> Any:
    style = rng.randrange(7)
    ms = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    epoch_ms = round(moment.timestamp() * 1000)
    if style == 0:
        return ms + "Z"
    if style == 1:
        offset = timedelta(minutes=rng.choice([-300, -30, 60, 120, 330, 540]))
        local = (moment + offset).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        sign = "+" if offset >= timedelta(0) else "-"
        hours, minutes = divmod(abs(int(offset.total_seconds())) // 60, 60)
        return f"{local}{sign}{hours:02d}:{minutes:02d}"
    if style == 2:
        return ms.replace("T", " ")  # naive, read as UTC
    if style == 3:
        return str(epoch_ms)
    if style == 4:
        return epoch_ms if not for_csv else str(epoch_ms)
    if style == 5:
        # Fractional epoch seconds, whole milliseconds (no half-microsecond ties).
        return f"{epoch_ms // 1000}.{epoch_ms % 1000:03d}"
    return epoch_ms / 1000 if not for_csv else f"{epoch_ms / 1000}"


def maybe_number(rng: random.Random, value: int) -> Any:
    return rng.choice([value, value, str(value), f"{value}.0"])


def conversation_records(rng: random.Random, index: int) -> list[dict[str, Any]]:
    conversation = f"conv-{index}"
    bot = rng.choice(["support", "sales", "onboarding"])
    moment = START + timedelta(seconds=rng.uniform(0, 3 * 86400))
    country = rng.choice(["DE", "de", " us ", "FR", "GB", "IN", "BR", "", None, None])
    shared = {
        "conversation_id": conversation if rng.random() > 0.03 else None,
        "bot_id": bot,
        "channel": rng.choice(["web", "whatsapp", "voice"]),
        "model": rng.choice(["gpt-4o-mini", "claude-3-5-haiku"]),
        "user_id": f"user-{rng.randrange(50)}",
        "ip": rng.choice(["203.0.113.7", "2001:db8::1", "10.0.0.1", None]),
    }
    records: list[dict[str, Any]] = []

    def add(role: str, **values: Any) -> None:
        nonlocal moment
        moment += timedelta(milliseconds=rng.choice([0, 1, 250, 1500, 4000, 20000]))
        records.append({**shared, "moment": moment, "role": role, **values})

    for _ in range(rng.randint(1, 4)):
        add(rng.choice(["user", "User", "human", " customer "]), country=country)
        for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
            kind = rng.random()
            tokens: dict[str, Any] = {}
            if rng.random() < 0.2:
                tokens["total_tokens"] = maybe_number(rng, rng.randrange(5000))
            else:
                tokens["prompt_tokens"] = maybe_number(rng, rng.randrange(3000))
                if rng.random() < 0.9:
                    tokens["completion_tokens"] = maybe_number(rng, rng.randrange(800))
            status = rng.choice(["delivered", "sent", None])
            error: dict[str, Any] = {}
            if kind < 0.15:
                status = rng.choice(["failed", "undelivered", "ERROR"])
                error = rng.choice(
                    [
                        {"error": True},
                        {"error": "timeout"},
                        {"error_code": "429"},
                        {"error": False, "error_code": "500"},
                        {},
                    ]
                )
            elif kind < 0.22:
                error = rng.choice([{"error": "true"}, {"error_code": "500"}, {"error": "0"}])
            role = rng.choice(["assistant", "bot", "AI", "assistant"])
            add(role, status=status, country=None, **tokens, **error)
        if rng.random() < 0.1:
            add(rng.choice(["system", "tool"]), total_tokens=rng.randrange(100))
    return records


def to_json(rng: random.Random, record: dict[str, Any], fields: dict[str, str]) -> str:
    out: dict[str, Any] = {"text": "hi", "meta": {"tags": ["x"], "deep": {"n": 1}}}
    for name in COLUMNS:
        value = (
            timestamp_text(rng, record["moment"], for_csv=False)
            if name == "timestamp"
            else record.get(name)
        )
        if value is None and rng.random() < 0.5:
            continue  # absent rather than null
        node = out
        *parents, leaf = fields.get(name, name).split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return json.dumps(out)


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_row(cells: list[str], separator: str) -> str:
    """One CSV record (which may span lines when a quoted cell holds a newline)."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=separator, lineterminator="\n").writerow(cells)
    return buffer.getvalue()[:-1]


def write_dataset(rng: random.Random, directory: Path, conversations: int, nested: bool) -> Dataset:
    fields = dict(NESTED_FIELDS) if nested else {}
    names = ["a.jsonl", "b.csv", "c.jsonl.gz", "d.tsv", "e.ndjson", "f.csv.gz"]
    per_file: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for index in range(conversations):
        for record in conversation_records(rng, index):
            per_file[rng.choice(names)].append(record)
    paths = []
    for name, records in per_file.items():
        path = directory / name
        if ".jsonl" in name or ".ndjson" in name:
            lines = [to_json(rng, record, fields) for record in records]
            late = {fields.get("timestamp", "timestamp"): "later", "role": "user"}
            bad = ['{"truncated": ', "[1, 2]", json.dumps(late)]
        else:
            separator = "\t" if ".tsv" in name else ","
            header = [fields.get(c, c) for c in COLUMNS]
            rng.shuffle(header)
            back = {fields.get(c, c): c for c in COLUMNS}
            lines = [csv_row([*header, "text"], separator)]
            for record in records:
                row = [
                    csv_cell(
                        timestamp_text(rng, record["moment"], for_csv=True)
                        if back[column] == "timestamp"
                        else record.get(back[column])
                    )
                    for column in header
                ]
                text = rng.choice(["ok", "hello, world", "two\nlines", ""])
                lines.append(csv_row([*row, text], separator))
            bad = [separator.join(["x"] * 3)]
        for line in bad:
            if len(lines) > 1:
                lines.insert(rng.randrange(1, len(lines)), line)
        text = "\n".join(lines) + "\n"
        data = text.encode()
        path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
        paths.append(path)
    config_text = "fields:\n" + "".join(f"  {k}: {v}\n" for k, v in fields.items())
    return Dataset(paths, fields, config_text if fields else "")
