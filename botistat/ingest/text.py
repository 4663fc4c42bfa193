"""Tell a text log from binary data by its first bytes, before any of it is parsed.

A PNG or an executable named ``x.csv`` would otherwise be read as CSV, its first line taken
for a header (``columns are: <garbage>``), or cut into blocks at bytes that happen to be
newlines. The head of the input decides: a NUL byte, a UTF-16 or UTF-32 byte order mark, or
a tenth of it being control bytes or invalid UTF-8. Text in a legacy encoding (Latin-1 names
in a CSV) has a few invalid bytes and stays text: the parsers deal with those lines.
"""

from __future__ import annotations

from typing import Final

from botistat.core.errors import InputError

#: Byte order marks of the encodings botistat does not read.
WIDE_BOMS: Final = (b"\xff\xfe", b"\xfe\xff")
#: Control bytes that text logs hold: tab, newline, vertical tab, form feed, carriage return,
#: escape (colour codes in captured console output).
TEXT_CONTROLS: Final = frozenset(b"\t\n\v\f\r\x1b")
#: All bytes but the other control bytes; deleting them leaves those.
NOT_CONTROL: Final = bytes(b for b in range(256) if b >= 0x20 or b in TEXT_CONTROLS)
#: The share of odd bytes (control bytes, invalid UTF-8) above which a head is binary.
ODD_SHARE: Final = 0.1
HINT: Final = "botistat reads JSON Lines and CSV/TSV text logs in UTF-8, optionally gzip-compressed"


def not_text(head: bytes) -> str | None:
    """Why ``head``, the first bytes of an input, is no text log; None if it is."""
    if head.startswith(WIDE_BOMS):
        return "not a text log (UTF-16 or UTF-32 text; convert it to UTF-8)"
    if b"\x00" in head:
        return "not a text log (binary data)"
    controls = len(head.translate(None, NOT_CONTROL))
    invalid = head.decode("utf-8", "replace").count("\ufffd")
    if controls + invalid > ODD_SHARE * len(head):
        return "not a text log (binary data)"
    return None


def refuse_binary(name: str, head: bytes) -> None:
    """Raise an :class:`InputError` for an input whose first bytes are no text."""
    reason = not_text(head)
    if reason is not None:
        raise InputError(reason, name, HINT)
