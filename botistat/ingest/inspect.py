"""``botistat inspect``: what fields a log has, and a mapping that reads it.

Reads a sample of records (JSON Lines or CSV), lists every field path with its types, how
often it is present and a few examples, then suggests which field is which canonical field:
by name first (``created``, ``startTime``, ``usage.prompt_tokens``, ``meta.tokensIn``...), then
checked against the values (a timestamp must read as one, token counts must be numbers).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

from botistat.core.config import DEFAULT_FAILED_STATUSES, DEFAULT_ROLES
from botistat.core.errors import InputError
from botistat.ingest.csv import allow_fields_of
from botistat.ingest.jsonl import TOO_DEEP, json_object, surrogate_escapes
from botistat.ingest.parsed import BadLine
from botistat.ingest.sources import Source, format_for
from botistat.ingest.stats import MAX_EXAMPLES

SAMPLE: Final = 1000
#: Records nested deeper than this are skipped: the fields are listed by recursion.
MAX_DEPTH: Final = 100
#: Canonical field -> names that suggest it (compared without case, "_" or "-"), best first.
NAMES: Final[dict[str, tuple[str, ...]]] = {
    "timestamp": (
        "timestamp",
        "ts",
        "time",
        "created",
        "createdat",
        "starttime",
        "start",
        "datetime",
        "date",
        "requestcreatedat",
        "sentat",
        "eventtime",
        "loggedat",
    ),
    "end_time": ("endtime", "end", "finishedat", "completedat", "endedat", "responsecreatedat"),
    "latency_ms": ("latencyms", "durationms", "elapsedms", "responsetimems"),
    "latency_s": ("latency", "latencys", "duration", "durations", "responsetime", "elapsed"),
    "role": ("role", "sender", "author", "speaker", "from", "direction", "participant"),
    "conversation_id": (
        "conversationid",
        "conversation",
        "sessionid",
        "session",
        "threadid",
        "chatid",
        "traceid",
        "dialogid",
    ),
    "status": ("status", "level", "state", "deliverystatus", "outcome"),
    "prompt_tokens": ("prompttokens", "inputtokens", "tokensin", "tokensinput", "input"),
    "completion_tokens": (
        "completiontokens",
        "outputtokens",
        "tokensout",
        "tokensoutput",
        "output",
    ),
    "total_tokens": ("totaltokens", "tokenstotal", "total", "tokens"),
    "error": ("error", "errorstr", "errormessage", "message", "err", "exception"),
    "error_code": ("errorcode", "code"),
    "ip": ("ip", "ipaddress", "clientip", "remoteaddr", "requesteripaddress", "remoteip"),
    "country": ("country", "countrycode", "countryiso"),
    "bot_id": ("botid", "bot", "agentid", "assistantid", "app", "application", "teamalias"),
    "channel": ("channel", "platform", "medium"),
    "model": ("model", "modelname", "providedmodelname"),
    "user_id": ("userid", "user", "enduser", "customerid", "visitorid"),
}
#: Where a name only counts under a parent of this kind (``usage.input`` but not ``input``).
PARENTS: Final[dict[str, tuple[str, ...]]] = {
    "prompt_tokens": ("usage", "usagedetails", "tokens", "meta", "metrics"),
    "completion_tokens": ("usage", "usagedetails", "tokens", "meta", "metrics"),
    "total_tokens": ("usage", "usagedetails", "tokens", "meta", "metrics"),
    "error": ("error", ""),
    "error_code": ("error", "errorinformation", ""),
}
NUMERIC: Final = ("prompt_tokens", "completion_tokens", "total_tokens", "latency_ms", "latency_s")
TIMES: Final = ("timestamp", "end_time")
FAILURE_WORDS: Final = ("failure", "fail", "failed", "error", "errored", "undelivered", "timeout")


@dataclass
class FieldInfo:
    path: str
    present: int = 0
    types: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> None:
        if value is None:
            self.types["null"] += 1
            return
        self.present += 1
        self.types[_type_name(value)] += 1
        if len(self.values) < SAMPLE:
            self.values.append(value)
        text = json.dumps(value) if isinstance(value, list | dict) else str(value)
        if text not in self.examples and len(self.examples) < 3:
            self.examples.append(text[:40])


@dataclass
class Sample:
    """The records read for an inspection, and the lines skipped on the way."""

    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    #: The first few skipped lines.
    examples: list[BadLine] = field(default_factory=list)

    def skip(self, line: int, reason: str) -> None:
        self.skipped += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(BadLine(line, reason))

    def summary(self) -> str:
        """How many lines were skipped, and the first."""
        first = self.examples[0]
        return (
            f"skipped {self.skipped:,} malformed line(s); first: line {first.line}: {first.reason}"
        )


@dataclass(frozen=True)
class Inspection:
    path: Path
    records: int
    fields: list[FieldInfo]
    shape: str
    mapping: dict[str, str]
    failed_statuses: tuple[str, ...] | None
    sample: Sample = field(default_factory=Sample)


def inspect_file(path: Path, sample: int = SAMPLE) -> Inspection:
    read = _sample(path, sample)
    records = read.records
    if not records:
        where = f" ({read.summary()})" if read.skipped else ""
        raise InputError(f"no records to inspect{where}", str(path))
    found: dict[str, FieldInfo] = {}
    for record in records:
        for key, value in _flatten(record):
            found.setdefault(key, FieldInfo(key)).add(value)
    fields = sorted(found.values(), key=lambda f: f.path)
    mapping = _suggest(fields, len(records))
    shape = "message" if "role" in mapping else "exchange"
    if shape == "message":
        for name in ("end_time", "latency_ms", "latency_s"):
            mapping.pop(name, None)
    else:
        mapping.pop("role", None)
    failed = _failed_statuses(found, mapping)
    return Inspection(path, len(records), fields, shape, mapping, failed, read)


def inspection_text(inspection: Inspection) -> str:
    """The fields found, as YAML comments, then the suggested config: a ready config file."""
    lines = [f"# {inspection.path}: {inspection.records} records sampled"]
    if inspection.sample.skipped:
        lines.append(f"# {inspection.sample.summary()}")
    lines += [
        "#",
        f"# {'field':42} {'types':18} {'present':>7}  examples",
    ]
    for info in inspection.fields:
        types = ",".join(sorted(info.types))
        share = f"{info.present / inspection.records:.0%}"
        examples = " | ".join(info.examples)
        lines.append(f"# {info.path:42} {types:18} {share:>7}  {examples}")
    lines += ["#", "# Suggested config (save as botistat.yaml):", ""]
    return "\n".join(lines) + "\n" + config_text(inspection)


def config_text(inspection: Inspection) -> str:
    """A ready config block (YAML) for the suggested mapping."""
    lines = [f"record: {inspection.shape}"]
    if inspection.failed_statuses:
        lines.append(f"failed_statuses: [{', '.join(inspection.failed_statuses)}]")
    lines.append("fields:")
    for name in NAMES:
        if name in inspection.mapping:
            lines.append(f"  {name}: {inspection.mapping[name]}")
    return "\n".join(lines) + "\n"


def _suggest(fields: list[FieldInfo], records: int) -> dict[str, str]:
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    for canonical, names in NAMES.items():
        best: tuple[int, int, int, str] | None = None
        for info in fields:
            if info.path in taken or not info.present:
                continue
            rank = _name_rank(canonical, info.path, names)
            if rank is None or not _values_fit(canonical, info):
                continue
            # Best name first, then the field present most often, then the shallowest path.
            key = (rank, -info.present, info.path.count("."), info.path)
            if best is None or key < best:
                best = key
        if best is not None:
            mapping[canonical] = best[3]
            taken.add(best[3])
    return mapping


def _name_rank(canonical: str, path: str, names: tuple[str, ...]) -> int | None:
    parts = path.split(".")
    leaf = _squash(parts[-1])
    parent = _squash(parts[-2]) if len(parts) > 1 else ""
    if leaf not in names:
        # A long, specific name may come with a prefix (user_api_key_team_alias).
        suffixed = [i for i, name in enumerate(names) if len(name) >= 8 and leaf.endswith(name)]
        return len(names) + suffixed[0] if suffixed else None
    allowed = PARENTS.get(canonical)
    generic = leaf in ("input", "output", "total", "tokens", "message", "code")
    if generic and allowed is not None and parent not in allowed:
        return None
    if canonical == "error" and leaf == "message" and parent != "error":
        return None
    return names.index(leaf)


def _values_fit(canonical: str, info: FieldInfo) -> bool:
    values = info.values
    if canonical in NUMERIC:
        return all(_is_number(v) for v in values)
    if canonical in TIMES:
        return _mostly_times(values)
    if canonical == "role":
        words = {str(v).strip().lower() for v in values}
        known = {w for ws in DEFAULT_ROLES.values() for w in ws}
        return bool(words & known)
    return not any(isinstance(v, dict | list) for v in values)


def _mostly_times(values: list[Any]) -> bool:
    import polars as pl

    from botistat.ingest.timestamps import parse_timestamp_series

    texts = pl.Series(
        [str(v) for v in values if not isinstance(v, bool | dict | list)], dtype=pl.String
    )
    if texts.is_empty():
        return False
    parsed = parse_timestamp_series(texts)
    if parsed.null_count() > len(texts) * 0.1:
        return False
    # Numbers are epochs only if they land in a plausible era (2000 to 2100).
    years = parsed.dt.year().drop_nulls()
    return bool(years.min() >= 2000 and years.max() <= 2100)  # type: ignore[operator]


def _failed_statuses(
    found: dict[str, FieldInfo], mapping: dict[str, str]
) -> tuple[str, ...] | None:
    status = mapping.get("status")
    if status is None:
        return None
    words = {str(v).strip().lower() for v in found[status].values}
    extra = sorted(w for w in words if w in FAILURE_WORDS and w not in DEFAULT_FAILED_STATUSES)
    return (*DEFAULT_FAILED_STATUSES, *extra) if extra else None


def _sample(path: Path, sample: int) -> Sample:
    """The first ``sample`` records of a file, read as a stream (never the whole file)."""
    from botistat.ingest.blocks import HEAD_BYTES, UNREADABLE, UTF8_BOM, open_source
    from botistat.ingest.decoder import sniff_format

    fmt, compressed = format_for(path)
    # Without a .gz name, the first bytes tell whether the file is gzip.
    source = Source(str(path), path, fmt, compressed or None, None)
    read = Sample()
    with open_source(source) as (stream, _):
        buffered = cast("io.BufferedReader", stream)  # a file or a gzip reader: both peek
        try:
            fmt = fmt or sniff_format(buffered.peek(HEAD_BYTES).removeprefix(UTF8_BOM))
        except UNREADABLE as exc:
            raise InputError(f"cannot read file: {exc}", str(path)) from exc
        # JSON Lines end at "\n" only, as for report (so line numbers agree); csv wants "".
        newline = "\n" if fmt == "jsonl" else ""
        text = io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="replace", newline=newline)
        try:
            if fmt == "jsonl":
                _sample_jsonl(text, sample, read)
            else:
                _sample_csv(text, "\t" if fmt == "tsv" else ",", sample, read)
        except UNREADABLE as exc:
            raise InputError(f"cannot read file: {exc}", str(path)) from exc
        finally:
            text.detach()  # the stream is closed by open_source
    return read


def _sample_jsonl(text: io.TextIOWrapper, sample: int, read: Sample) -> None:
    for number, line in enumerate(text, start=1):
        if len(read.records) >= sample:
            return
        if not line.strip():
            continue
        value = json_object(line)
        if isinstance(value, str):
            read.skip(number, value)
        elif surrogate_escapes(line)[1]:
            # Python's reader keeps a lone surrogate, which no output can hold.
            read.skip(number, "lone surrogate escape")
        elif _depth(value) > MAX_DEPTH:
            read.skip(number, TOO_DEEP)
        else:
            read.records.append(value)


def _sample_csv(text: io.TextIOWrapper, separator: str, sample: int, read: Sample) -> None:
    from botistat.ingest.blocks import MAX_RECORD_BYTES

    allow_fields_of(MAX_RECORD_BYTES)
    reader = csv.DictReader(text, delimiter=separator)
    while len(read.records) < sample:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader starts afresh on the next line
            # (The line after the last record read: where the bad one started.)
            read.skip(reader.line_num + 1, f"unreadable row ({str(exc).split(' - ')[0]})")
            continue
        read.records.append({k.strip(): (v if v != "" else None) for k, v in row.items() if k})


def _depth(value: Any) -> int:
    """How deeply a JSON value nests, counted up to just past :data:`MAX_DEPTH`."""
    deepest = 0
    stack = [(value, 1)]
    while stack and deepest <= MAX_DEPTH:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        children = node.values() if isinstance(node, dict) else node
        stack += [(c, depth + 1) for c in children if isinstance(c, dict | list)]
    return deepest


def _flatten(value: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, child in value.items():
        path = f"{prefix}{key}"
        if isinstance(child, dict) and child:
            items += _flatten(child, path + ".")
        else:
            items.append((path, child))
    return items


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()) is not None


def _squash(name: str) -> str:
    return re.sub(r"[_\-\s]", "", name).lower()
