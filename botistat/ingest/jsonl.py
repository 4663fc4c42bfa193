"""Parse JSON Lines blocks with Polars, isolating malformed lines without slowing clean ones.

The fast path hands a whole block to Polars' native reader. Polars refuses the whole block when
one line is bad, and tells neither which line nor why, so only then are the block's lines
sorted out, at a cost linear in the block:

1. Lines that cannot be a JSON object are told by their bytes: invalid UTF-8, or not starting
   with ``{`` and ending with ``}`` (truncated lines, garbage, arrays and other values). The
   other lines are read by Polars in one call: a block with 1% of such lines costs about two
   parses of a clean one.
2. If Polars refuses those too, they are read again in a few pieces, and the lines of each
   piece it refuses are checked one by one with Python's JSON reader, held to the limits of
   Polars' (see :meth:`_LineSorter._check`); the lines that pass are read in one call. A
   block with 1% of such lines (two records glued on one line, a NaN) costs about five.
3. Should Polars still refuse a piece (a difference between the two readers nobody foresaw),
   the piece is split in halves until each bad line stands alone.

So a line of a block with bad lines is skipped exactly when Polars refuses it on its own, and
the other lines are read as in a clean block (token counts as integers too).
"""

from __future__ import annotations

import io
import json
import math
import re
from typing import TYPE_CHECKING, Any, Final

from botistat.ingest.blocks import Block
from botistat.ingest.mapping import FieldMapping
from botistat.ingest.parsed import BadLine, IntegersFirst, ParsedBlock, nonblank_line_numbers

if TYPE_CHECKING:
    import polars as pl

INVALID_JSON: Final = "invalid JSON"
NOT_AN_OBJECT: Final = "not a JSON object"
NOT_UTF8: Final = "not valid UTF-8"
TOO_DEEP: Final = "nested too deeply"
#: A value where the mapping reads an object (``usage`` of ``usage.prompt_tokens``).
NOT_NESTED: Final = "a field mapped as an object is not one"
#: Pieces a block is read in when its lines all look like objects and Polars still refuses it,
#: so that only the pieces holding a bad line are checked line by line. Each Polars call costs
#: about 0.2 ms however small its input, so pieces are not made smaller than
#: ``MIN_PIECE_LINES``.
PIECES: Final = 32
MIN_PIECE_LINES: Final = 64
#: Below this many lines, a piece is parsed line by line instead of split again.
LINE_BY_LINE_BELOW: Final = 32
#: Bytes of a block with invalid UTF-8 decoded at a time to find its bad lines.
UTF8_WINDOW: Final = 4096
#: Polars' reader refuses values nested deeper than this.
MAX_DEPTH: Final = 1024
#: Polars' reader takes integers as 128-bit values: from -2**127 to 2**128 - 1.
MIN_INT: Final = -(2**127)
MAX_INT: Final = 2**128 - 1
#: A backslash escape in JSON text (``\\\\`` taken as a whole, so that its parity is kept).
ESCAPE: Final = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)")
SURROGATE: Final = re.compile(r"\\u[dD][89a-fA-F]")
#: A struct in the read schema, by key: the structs nested in it (text leaves are left out).
Shape = dict[str, "Shape"]


class JsonlBlockParser:
    """Parses the blocks of one JSON Lines input, token counts read as integers first (see
    :class:`~botistat.ingest.parsed.IntegersFirst`): the lines of a block with bad lines too,
    so that they are typed as in a clean block."""

    def __init__(self, mapping: FieldMapping, wanted: set[str], integers: frozenset[str]):
        self._schema = mapping.json_schema(wanted)
        self._integer_schema = mapping.json_schema(wanted, integers & wanted)
        self._extract = mapping.json_fields(wanted)
        self._integers_first = IntegersFirst(bool(integers & wanted))

    def parse(self, block: Block) -> ParsedBlock:
        import polars as pl

        integers = self._integers_first.enabled
        schemas = [self._integer_schema, self._schema] if integers else [self._schema]
        try:
            frame = _read(block.data, schemas[0])
        except (pl.exceptions.PolarsError, ValueError):
            sorter = _LineSorter(block, schemas)
            parsed = sorter.parse(self._extract)
            if sorter.counts_were_text:
                self._integers_first.enabled = False
            return parsed
        return ParsedBlock(
            frame.select(self._extract),
            lambda: nonblank_line_numbers(block.data, block.first_line),
        )


def parse_jsonl_block(
    block: Block, schema: dict[str, pl.DataType], extract: list[pl.Expr]
) -> ParsedBlock:
    """Parse one block into canonical string columns; see the module doc for bad lines."""
    import polars as pl

    try:
        frame = _read(block.data, schema)
    except (pl.exceptions.PolarsError, ValueError):
        return _LineSorter(block, [schema]).parse(extract)
    return ParsedBlock(
        frame.select(extract), lambda: nonblank_line_numbers(block.data, block.first_line)
    )


def json_object(text: str) -> dict[str, Any] | str:
    """The JSON object on one line, read by Python's reader, or why it is no object.

    The reader is held to Polars' number limits (no NaN or Infinity, no float beyond the
    double range, integers of at most 128 bits). :data:`TOO_DEEP` means Python's own nesting
    limit was hit: near 1000 levels, a little below Polars' 1024.
    """
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        return TOO_DEEP
    except ValueError:  # the decoder's errors and the number hooks'
        return INVALID_JSON
    return value if isinstance(value, dict) else NOT_AN_OBJECT


def surrogate_escapes(text: str) -> tuple[bool, bool]:
    """Whether the JSON text of a line has surrogate escapes Polars refuses, and whether it
    has an unpaired one at all.

    Polars reads a pair (``\\ud83d\\ude00``) as one character, and a lone high surrogate as
    NUL; it refuses a lone low surrogate, and a high one followed by an escape that is not a
    low one.
    """
    if not SURROGATE.search(text):
        return False, False
    lone = False
    high_end = -1  # where the last escape ended, if it was a high surrogate
    for match in ESCAPE.finditer(text):
        code = int(match.group(1), 16) if match.group(1) else -1
        if high_end >= 0:
            if match.start() == high_end and 0xDC00 <= code <= 0xDFFF:
                high_end = -1
                continue
            if match.start() == high_end and code >= 0:
                return True, True
            lone = True
        high_end = match.end() if 0xD800 <= code <= 0xDBFF else -1
        if 0xDC00 <= code <= 0xDFFF:
            return True, True
    return False, lone or high_end >= 0


class _LineSorter:
    """Sorts the lines of a block Polars refused into bad lines and rows; see the module doc."""

    def __init__(self, block: Block, schemas: list[dict[str, pl.DataType]]) -> None:
        """``schemas``: the schema the block was refused with, then the text one if that
        one read token counts as integers."""
        self._block = block
        self._first_schema = schemas[0]
        self._schema = schemas[-1]
        self._shape = _shape(self._schema)
        self._lines = block.data.split(b"\n")
        self._frames: list[pl.DataFrame] = []
        self._good: list[int] = []
        self._bad: list[tuple[int, str]] = []
        #: Whether the lines were refused only for token counts that are no integers.
        self.counts_were_text = False
        self._dropped = False

    def parse(self, extract: list[pl.Expr]) -> ParsedBlock:
        import polars as pl

        candidates = self._objects_by_their_bytes()
        # Unless some lines were dropped, the rest is the block Polars just refused.
        dropped = self._dropped or bool(self._bad)
        if dropped and self._read(candidates, self._first_schema):
            pass
        elif self._first_schema is not self._schema and self._read(candidates):
            self.counts_were_text = True
        else:
            self._read_in_pieces(candidates)
        if self._frames:
            frame = pl.concat(self._frames, how="vertical")
        else:
            frame = pl.DataFrame(schema=_readable(self._schema))
        first = self._block.first_line
        good, bad = self._good, sorted(self._bad)
        return ParsedBlock(
            frame.select(extract),
            lambda: [first + i for i in good],
            [BadLine(first + i, reason) for i, reason in bad],
        )

    def _objects_by_their_bytes(self) -> list[int]:
        """The lines that may be JSON objects; the others go to the bad lines."""
        lines = self._lines
        not_utf8 = _lines_not_utf8(self._block.data)
        odd = {i for i, line in enumerate(lines) if line[:1] != b"{" or line[-1:] != b"}"}
        for i in sorted(odd | not_utf8):
            body = lines[i].strip()
            if not body:  # no record; Polars refuses some of these, as "\f"
                self._dropped = self._dropped or bool(lines[i].strip(b" \t\r"))
            elif i in not_utf8:
                self._bad.append((i, NOT_UTF8))
            elif body[:1] == b"{" and body[-1:] == b"}":
                odd.discard(i)  # blanks around an object
            elif body[:1] == b"{":
                self._bad.append((i, INVALID_JSON))
            else:
                value = json_object(body.decode("utf-8"))
                self._bad.append((i, NOT_AN_OBJECT if isinstance(value, dict) else value))
        return [i for i in range(len(lines)) if i not in odd and i not in not_utf8]

    def _read(self, lines: list[int], schema: dict[str, pl.DataType] | None = None) -> bool:
        """Read these lines in one call (with the text schema unless told); False if Polars
        refuses them."""
        import polars as pl

        if not lines:
            return True
        data = b"\n".join([self._lines[i] for i in lines])
        try:
            self._frames.append(_read(data, self._schema if schema is None else schema))
        except (pl.exceptions.PolarsError, ValueError):
            return False
        self._good += lines
        return True

    def _read_in_pieces(self, lines: list[int]) -> None:
        size = max(MIN_PIECE_LINES, -(-len(lines) // PIECES))
        for start in range(0, len(lines), size):
            piece = lines[start : start + size]
            if self._read(piece):
                continue
            passed: list[int] = []
            for i in piece:
                reason = self._check(self._lines[i])
                if reason is None:
                    passed.append(i)
                else:
                    self._bad.append((i, reason))
            if not self._read(passed):
                self._split_until_read(passed)

    def _check(self, line: bytes) -> str | None:
        """Why Polars would refuse a line that looks like an object, or None."""
        text = line.decode("utf-8")
        # Python's nesting limit may lie above or below Polars': near it, Polars decides.
        deep = len(text) > 2 * MAX_DEPTH and text.count("[") + text.count("{") > MAX_DEPTH
        value = json_object(text)
        if deep or value == TOO_DEEP:
            return self._polars_reason(line)
        if isinstance(value, str):
            return value
        if surrogate_escapes(text)[0]:
            return INVALID_JSON
        misplaced = _not_an_object(value, self._shape)
        return None if misplaced is None else _not_nested(misplaced)

    def _polars_reason(self, line: bytes) -> str | None:
        """Why Polars refuses one line, or None if it reads it (at 0.2 ms a call: rarely)."""
        import polars as pl

        try:
            _read(line, self._schema)
        except (pl.exceptions.PolarsError, ValueError) as exc:
            reason = _reason(exc, line)
        else:
            return None
        if reason == NOT_NESTED:  # Python names the field, where it reads the line alike
            value = json_object(line.decode("utf-8"))
            misplaced = _not_an_object(value, self._shape) if isinstance(value, dict) else None
            return reason if misplaced is None else _not_nested(misplaced)
        return reason

    def _split_until_read(self, lines: list[int]) -> None:
        if len(lines) == 1:
            reason = self._polars_reason(self._lines[lines[0]])
            if reason is not None:
                self._bad.append((lines[0], reason))
                return
        if self._read(lines):
            return
        if len(lines) <= LINE_BY_LINE_BELOW:
            for i in lines:
                self._split_until_read([i])
            return
        middle = len(lines) // 2
        self._split_until_read(lines[:middle])
        self._split_until_read(lines[middle:])


def _read(data: bytes, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    import polars as pl

    return pl.read_ndjson(io.BytesIO(data), schema=_readable(schema))


def _readable(schema: dict[str, pl.DataType]) -> dict[str, pl.DataType]:
    import polars as pl

    # Nothing to extract (every wanted field is absent from the mapping's view): still
    # validate the lines, with a schema that reads nothing.
    return schema or {"\x00botistat_none": pl.String()}


def _shape(schema: dict[str, pl.DataType]) -> Shape:
    import polars as pl

    def inner(dtype: pl.DataType) -> Shape:
        assert isinstance(dtype, pl.Struct)
        return {f.name: inner(f.dtype) for f in dtype.fields if isinstance(f.dtype, pl.Struct)}

    return {key: inner(dtype) for key, dtype in schema.items() if isinstance(dtype, pl.Struct)}


def _not_an_object(value: dict[str, Any], shape: Shape, prefix: str = "") -> str | None:
    """The first path the schema reads as an object whose value is something else."""
    for key, inner in shape.items():
        child = value.get(key)
        if child is None:
            continue
        if not isinstance(child, dict):
            return prefix + key
        found = _not_an_object(child, inner, f"{prefix}{key}.")
        if found is not None:
            return found
    return None


def _not_nested(path: str) -> str:
    return f"{path!r} is not an object"


def _lines_not_utf8(data: bytes) -> set[int]:
    """The indices of the lines that are not valid UTF-8.

    The block is decoded in windows of whole lines, each twice as long as the last one that
    decoded: an error holds a copy of what was being decoded, so after one the search must
    not start over on the rest of the block, and the next window is small again.
    """
    if _is_utf8(data):
        return set()
    found: set[int] = set()
    start = line = 0
    window = UTF8_WINDOW
    while start < len(data):
        end = data.find(b"\n", start + window) + 1 or len(data)
        try:
            data[start:end].decode("utf-8")
        except UnicodeDecodeError as exc:
            offset = start + exc.start
            line += data.count(b"\n", start, offset)
            found.add(line)
            start = data.find(b"\n", offset) + 1 or len(data)
            line += 1
            window = UTF8_WINDOW
        else:
            line += data.count(b"\n", start, end)
            start = end
            window *= 2
    return found


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _refuse(_: str) -> Any:
    raise ValueError("not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def _int(text: str) -> int:
    value = int(text)
    if not MIN_INT <= value <= MAX_INT:
        raise ValueError("number out of range")
    return value


_DECODER: Final = json.JSONDecoder(parse_float=_float, parse_int=_int, parse_constant=_refuse)


def _reason(exc: Exception, line: bytes) -> str:
    text = str(exc)
    if "expected to contain JSON object" in text:
        return NOT_AN_OBJECT
    if "DepthLimitExceeded" in text:
        return TOO_DEEP
    if "error parsing" in text or "Syntax" in text or "TapeError" in text:
        return NOT_UTF8 if not _is_utf8(line) else INVALID_JSON
    if "Struct" in text or "struct" in text:
        return NOT_NESTED
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"unexpected value ({first[:120]})"
