"""A read builder's tenant filter as one WHERE condition.

Every read starts from a builder (`visible_runs(actor)`, `visible_agents(actor)`, …). Queries
that select columns rather than rows (counts, sums, joins, name lookups) cannot start from the
builder's `select(Model)`; they take its condition instead, so the organization filter still
comes from the one place that defines it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select


def where_of(builder: Select[*tuple[Any, ...]]) -> ColumnElement[bool]:
    """The builder's WHERE condition; a builder without one is a bug, never "everything"."""
    clause = builder.whereclause
    if clause is None:
        raise RuntimeError("a read builder without a WHERE clause would read every organization")
    return clause
