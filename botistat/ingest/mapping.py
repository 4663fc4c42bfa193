"""Where each canonical field lives in a raw record, and how to pull it out.

JSON Lines are parsed with an explicit schema derived from the mapping, never a schema guessed
from the first rows: time-ordered logs often start with records whose optional fields are all
null, and a guessed schema then fails later in the file. Every leaf is read as a string (Polars
turns JSON numbers and booleans into their text), and typed afterwards, so ``"12"`` and ``12``
are the same token count and a timestamp may be a number in one record and text in the next.
(Token counts are first tried as JSON integers, a shortcut with the same result: see
:class:`botistat.ingest.jsonl.JsonlBlockParser`.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class FieldMapping:
    """Canonical field name -> source path (``usage.prompt_tokens`` is a nested JSON path)."""

    paths: Mapping[str, str]

    def json_schema(
        self, wanted: set[str], integers: frozenset[str] = frozenset()
    ) -> dict[str, pl.DataType]:
        """The Polars schema that reads exactly the wanted fields from a JSON object: text,
        except the fields named in ``integers``."""
        import polars as pl

        tree: dict[str, Any] = {}
        for name in wanted:
            node = tree
            *parents, leaf = self.paths[name].split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = pl.Int64() if name in integers else pl.String()

        def to_dtype(node: dict[str, Any] | pl.DataType) -> pl.DataType:
            if isinstance(node, pl.DataType):
                return node
            return pl.Struct({key: to_dtype(child) for key, child in node.items()})

        return {key: to_dtype(child) for key, child in tree.items()}

    def json_fields(self, wanted: set[str]) -> list[pl.Expr]:
        """Expressions that turn a frame read with :meth:`json_schema` into canonical names."""
        import polars as pl

        exprs = []
        for name in sorted(wanted):
            first, *rest = self.paths[name].split(".")
            expr = pl.col(first)
            for part in rest:
                expr = expr.struct.field(part)
            exprs.append(expr.alias(name))
        return exprs

    def csv_columns(self, header: list[str], wanted: set[str]) -> dict[str, str]:
        """Canonical name -> CSV column, for the wanted fields present in ``header``.

        A CSV column is matched by its literal name, so ``usage.prompt_tokens`` names a column
        called exactly that.
        """
        present = set(header)
        return {name: self.paths[name] for name in wanted if self.paths[name] in present}
