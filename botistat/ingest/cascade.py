"""Type a text column in steps, each only on the rows the steps before it left unread.

An eager ``select`` does not share repeated subexpressions, so a ``coalesce`` of casts would
cast every text once per alternative. Here each cast runs once, on what is still unread: on
clean data the first, cheapest step reads everything and the rest never run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl


def read_in_steps(
    text: pl.Series, first: pl.Series, steps: Iterable[Callable[[pl.Series], pl.Series]]
) -> pl.Series:
    """``first`` (the first step's reading of ``text``), its nulls where ``text`` has a value
    filled by each of ``steps`` in turn."""
    result = first
    for step in steps:
        todo = (result.is_null() & text.is_not_null()).arg_true()
        if todo.is_empty():
            break
        result = result.scatter(todo, step(text.gather(todo)))
    return result
