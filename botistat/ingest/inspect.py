"""``botistat inspect``: what fields a log has, and a mapping that reads it.

Reads a sample of records (JSON Lines or CSV; of one file, of the files of a directory, or of
standard input), lists every field path with its types, how often it is present and a few
examples, then suggests which field is which canonical field: by name first (``created``,
``startTime``, ``usage.prompt_tokens``, ``meta.tokensIn``...), then checked against the values
(a timestamp must read as one, token counts must be numbers). A sample written in a known
format gets its preset instead. The output is a config file that must load as YAML whatever
the logs hold, so every piece of it taken from the logs is escaped.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final, cast

from botistat.core.config import DEFAULT_FAILED_STATUSES, DEFAULT_ROLES
from botistat.core.errors import InputError
from botistat.core.presets import PRESETS
from botistat.ingest.csv import allow_fields_of
from botistat.ingest.detect import preset_of
from botistat.ingest.jsonl import TOO_DEEP, json_object, surrogate_escapes
from botistat.ingest.sources import Source, resolve_sources
from botistat.ingest.stats import MAX_EXAMPLES, SkippedLine

SAMPLE: Final = 1000
#: Records read from each file of a directory at least (fewer files, more from each): a file
#: often starts with lines that are no messages.
PER_FILE: Final = 50
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
    "error": (
        "error",
        "errorstr",
        "errormessage",
        "message",
        "err",
        "exception",
        "isapierrormessage",
        "iserror",
    ),
    "error_code": ("errorcode", "code", "apierrorstatus"),
    "ip": ("ip", "ipaddress", "clientip", "remoteaddr", "requesteripaddress", "remoteip"),
    "country": ("country", "countrycode", "countryiso"),
    "bot_id": ("botid", "bot", "agentid", "assistantid", "app", "application", "teamalias"),
    "channel": ("channel", "platform", "medium"),
    "model": ("model", "modelname", "providedmodelname"),
    "user_id": ("userid", "user", "enduser", "customerid", "visitorid"),
    "cost": (
        "cost",
        "costusd",
        "usdcost",
        "responsecost",
        "totalcost",
        "calculatedtotalcost",
        "spend",
    ),
    # A bare "id" may be anything's (a conversation's): only a message's or a response's.
    "message_id": ("messageid", "msgid", "responseid", "requestid", "id"),
}
#: Where a name only counts under a parent of this kind (``usage.input`` but not ``input``).
PARENTS: Final[dict[str, tuple[str, ...]]] = {
    "prompt_tokens": ("usage", "usagedetails", "tokens", "meta", "metrics"),
    "completion_tokens": ("usage", "usagedetails", "tokens", "meta", "metrics"),
    "total_tokens": ("usage", "usagedetails", "tokens", "meta", "metrics"),
    "error": ("error", ""),
    "error_code": ("error", "errorinformation", ""),
    "message_id": ("message", "response"),
}
#: Names that count only under PARENTS.
GENERIC: Final = ("input", "output", "total", "tokens", "message", "code", "id")
NUMERIC: Final = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "latency_ms",
    "latency_s",
    "cost",
)
TIMES: Final = ("timestamp", "end_time")
FAILURE_WORDS: Final = ("failure", "fail", "failed", "error", "errored", "undelivered", "timeout")


@dataclass
class FieldInfo:
    path: str
    #: Whether a mapping can name it: no key of its path is empty, holds a dot (which would
    #: read as nesting) or blanks the config would strip.
    nameable: bool = True
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
    """The records read for an inspection, and the lines and files skipped on the way."""

    records: list[dict[str, Any]] = field(default_factory=list)
    #: The inputs records were read from.
    files: list[str] = field(default_factory=list)
    #: Whether the records are CSV rows (whose field names are literal column names).
    csv: bool = False
    skipped: int = 0
    #: The first few skipped lines.
    examples: list[SkippedLine] = field(default_factory=list)
    #: Inputs that could not be read, and why.
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    def skip(self, file: str, line: int, reason: str) -> None:
        self.skipped += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(SkippedLine(file, line, reason))

    def summary(self) -> str:
        """How many lines were skipped, and the first (with its file, when there are several)."""
        first = self.examples[0]
        where = f"line {first.line}" if len(self.files) <= 1 else f"{first.file}:{first.line}"
        return f"skipped {self.skipped:,} malformed line(s); first: {where}: {first.reason}"


@dataclass(frozen=True)
class Inspection:
    #: What was inspected, as given (a file, a directory, ``-``).
    name: str
    records: int
    fields: list[FieldInfo]
    shape: str
    mapping: dict[str, str]
    failed_statuses: tuple[str, ...] | None
    sample: Sample = field(default_factory=Sample)
    #: The preset of the known format the sample is written in, if it is one.
    preset: str | None = None


def inspect_path(argument: str, sample: int = SAMPLE) -> Inspection:
    """Inspect a file, the files under a directory (a sample across them), a glob, or ``-``."""
    read = _sample(resolve_sources([argument]), sample)
    records = read.records
    if not records:
        where = f" ({read.summary()})" if read.skipped else ""
        if read.unreadable and not read.skipped:
            where = f" ({read.unreadable[0][0]}: {read.unreadable[0][1]})"
        raise InputError(f"no records to inspect{where}", argument)
    found: dict[str, FieldInfo] = {}
    for record in records:
        for parts, value in _flatten(record):
            path = ".".join(parts)
            info = found.setdefault(path, FieldInfo(path))
            info.nameable &= _nameable(parts, csv=read.csv)
            info.add(value)
    fields = sorted(found.values(), key=lambda f: f.path)
    mapping = _suggest(fields, len(records))
    shape = "message" if "role" in mapping else "exchange"
    if shape == "message":
        for name in ("end_time", "latency_ms", "latency_s"):
            mapping.pop(name, None)
    else:
        mapping.pop("role", None)
    if not _is_message_id(mapping, records):
        mapping.pop("message_id", None)
    failed = _failed_statuses(found, mapping)
    # Every known format is JSON; preset_of also answers "unknown" or "undecided".
    told = None if read.csv else preset_of(records)
    preset = told if told in PRESETS else None
    return Inspection(argument, len(records), fields, shape, mapping, failed, read, preset)


def inspection_text(inspection: Inspection) -> str:
    """The fields found, as YAML comments, then the suggested config: a ready config file."""
    files = len(inspection.sample.files)
    across = f" from {files} files" if files > 1 else ""
    lines = [f"{inspection.name}: {inspection.records} records sampled{across}"]
    if inspection.sample.skipped:
        lines.append(inspection.sample.summary())
    lines += [f"skipped file {name}: {reason}" for name, reason in inspection.sample.unreadable]
    lines += ["", f"{'field':42} {'types':18} {'present':>7}  examples"]
    for info in inspection.fields:
        types = ",".join(sorted(info.types))
        share = f"{info.present / inspection.records:.0%}"
        examples = " | ".join(info.examples)
        lines.append(f"{info.path:42} {types:18} {share:>7}  {examples}")
    lines += ["", "Suggested config (save as botistat.yaml):"]
    comments = [yaml_comment(line) for line in lines]
    return "\n".join(comments) + "\n\n" + config_text(inspection)


def config_text(inspection: Inspection) -> str:
    """A ready config block (YAML) for the suggested mapping."""
    if inspection.preset is not None:
        return (
            f"# These are {inspection.preset} logs: the preset reads them "
            "(botistat presets shows its mapping).\n"
            f"preset: {inspection.preset}\n"
        )
    lines = []
    if "timestamp" not in inspection.mapping:
        lines.append("# No timestamp found: name the field that holds one (timestamp: ...).")
    lines.append(f"record: {inspection.shape}")
    if inspection.failed_statuses:
        words = ", ".join(yaml_scalar(word) for word in inspection.failed_statuses)
        lines.append(f"failed_statuses: [{words}]")
    lines.append("fields:")
    for name in NAMES:
        if name in inspection.mapping:
            lines.append(f"  {name}: {yaml_scalar(inspection.mapping[name])}")
    return "\n".join(lines) + "\n"


#: Characters YAML reads as a line break, or refuses anywhere in a stream (even a comment).
YAML_UNSAFE: Final = re.compile(
    "[^\x09\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
#: A plain YAML scalar that reads back as the same string.
PLAIN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
#: Plain words YAML reads as something else than a string.
YAML_WORDS: Final = ("true", "false", "yes", "no", "on", "off", "null", "y", "n")


def yaml_comment(text: str) -> str:
    """``text`` as one YAML comment line: line breaks and characters YAML refuses escaped."""
    return f"# {_escaped(text, YAML_UNSAFE)}".rstrip()


def yaml_scalar(text: str) -> str:
    """``text`` as a YAML scalar that reads back as exactly that string."""
    if PLAIN.fullmatch(text) and text.lower() not in YAML_WORDS:
        return text
    return '"' + _escaped(text.replace("\\", "\\\\").replace('"', '\\"'), YAML_UNSAFE) + '"'


def _escaped(text: str, unsafe: re.Pattern[str]) -> str:
    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return unsafe.sub(escape, text)


def _suggest(fields: list[FieldInfo], records: int) -> dict[str, str]:
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    for canonical, names in NAMES.items():
        best: tuple[int, int, int, str] | None = None
        for info in fields:
            if info.path in taken or not info.present or not info.nameable:
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
    if leaf in GENERIC and allowed is not None and parent not in allowed:
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


def _is_message_id(mapping: dict[str, str], records: list[dict[str, Any]]) -> bool:
    """Whether the suggested message id is one: never shared by a user's and a bot's record
    (a conversation's or a request's id would merge a question into its answer)."""
    path, role = mapping.get("message_id"), mapping.get("role")
    if path is None or role is None:
        return True
    roles: dict[str, set[str]] = {}
    for record in records:
        value, said = _value_at(record, path), _value_at(record, role)
        if value is not None and said is not None:
            roles.setdefault(str(value), set()).add(str(said).strip().lower())
    return all(len(said) == 1 for said in roles.values())


def _value_at(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _sample(sources: list[Source], sample: int) -> Sample:
    """Up to ``sample`` records from the start of each input in turn, shared out among them
    (at least :data:`PER_FILE` from each while the sample lasts), each read as a stream
    (never a whole file). An input that cannot be read is passed over, unless it is the only
    one."""
    read = Sample()
    for index, source in enumerate(sources):
        left = sample - len(read.records)
        if left <= 0:
            break
        share = min(left, max(PER_FILE, -(-left // (len(sources) - index))))
        before = len(read.records)
        try:
            _sample_source(source, share, read)
        except InputError as error:
            if len(sources) == 1:
                raise
            read.unreadable.append((source.name, error.what))
            if len(read.records) == before and read.files[-1:] == [source.name]:
                read.files.pop()  # it gave nothing: it was not sampled
    return read


def _sample_source(source: Source, sample: int, read: Sample) -> None:
    from dataclasses import replace

    from botistat.ingest.blocks import HEAD_BYTES, UNREADABLE, UTF8_BOM, open_source
    from botistat.ingest.decoder import sniff_format

    # Without a .gz name, the first bytes tell whether the file is gzip.
    source = replace(source, gzip=source.gzip or None)
    wanted = len(read.records) + sample
    with open_source(source) as (stream, _):
        buffered = cast("io.BufferedReader", stream)  # a file or a gzip reader: both peek
        try:
            fmt = source.format or sniff_format(buffered.peek(HEAD_BYTES).removeprefix(UTF8_BOM))
        except UNREADABLE as exc:
            raise InputError(f"cannot read file: {exc}", source.name) from exc
        read.files.append(source.name)
        read.csv = read.csv or fmt != "jsonl"
        # JSON Lines end at "\n" only, as for report (so line numbers agree); csv wants "".
        newline = "\n" if fmt == "jsonl" else ""
        text = io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="replace", newline=newline)
        try:
            if fmt == "jsonl":
                _sample_jsonl(text, source.name, wanted, read)
            else:
                _sample_csv(text, source.name, "\t" if fmt == "tsv" else ",", wanted, read)
        except UNREADABLE as exc:
            raise InputError(f"cannot read file: {exc}", source.name) from exc
        finally:
            text.detach()  # the stream is closed by open_source


def _sample_jsonl(text: io.TextIOWrapper, name: str, wanted: int, read: Sample) -> None:
    for number, line in enumerate(text, start=1):
        if len(read.records) >= wanted:
            return
        if not line.strip():
            continue
        value = json_object(line)
        if isinstance(value, str):
            read.skip(name, number, value)
        elif surrogate_escapes(line)[1]:
            # Python's reader keeps a lone surrogate, which no output can hold.
            read.skip(name, number, "lone surrogate escape")
        elif _depth(value) > MAX_DEPTH:
            read.skip(name, number, TOO_DEEP)
        else:
            read.records.append(value)


def _sample_csv(
    text: io.TextIOWrapper, name: str, separator: str, wanted: int, read: Sample
) -> None:
    from botistat.ingest.blocks import MAX_RECORD_BYTES

    allow_fields_of(MAX_RECORD_BYTES)
    reader = csv.DictReader(text, delimiter=separator)
    while len(read.records) < wanted:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader starts afresh on the next line
            # (The line after the last record read: where the bad one started.)
            reason = f"unreadable row ({str(exc).split(' - ')[0]})"
            read.skip(name, reader.line_num + 1, reason)
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


def _flatten(
    value: dict[str, Any], prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], Any]]:
    """Every leaf of a record, with the keys that lead to it."""
    items: list[tuple[tuple[str, ...], Any]] = []
    for key, child in value.items():
        parts = (*prefix, key)
        if isinstance(child, dict) and child:
            items += _flatten(child, parts)
        else:
            items.append((parts, child))
    return items


def _nameable(parts: tuple[str, ...], *, csv: bool) -> bool:
    """Whether a mapping can name this field: in CSV, a column by its literal name; in JSON,
    a path whose keys hold no dot (it would read as nesting)."""
    return all(part and part == part.strip() and (csv or "." not in part) for part in parts)


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
