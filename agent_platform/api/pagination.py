"""Cursor pagination for list endpoints: newest first, over (created_at, id).

Why a cursor and not an offset: rows created while a client pages through a list shift every
offset, so a client would see rows twice or miss them. A cursor names the last row seen; the
next page starts strictly after it, whatever was added in between. The id breaks ties between
rows created in the same instant, so no row is ever skipped.

The cursor is opaque to clients (base64 of the last row's time and id): they hand back what we
gave them and must not build one. A cursor we did not give out is a 422 in the user's words.

Use (the statement comes from the domain's tenant-scoped read builder):

    page = keyset(visible_runs(actor), Execution.created_at, Execution.id, params)
    rows = session.exec(page).all()
    return Page[RunOut](**paged([_out(r) for r in rows], rows, params))
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, Protocol, TypedDict, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlmodel import col

from services.errors import Invalid

MAX_LIMIT = 100
DEFAULT_LIMIT = 50

T = TypeVar("T")
S = TypeVar("S", bound=Select[*tuple[Any, ...]])


class Page(BaseModel, Generic[T]):
    """One page of a list: `next_cursor` is null on the last page."""

    data: list[T]
    next_cursor: str | None


class Keyed(Protocol):
    """A row that can be paged: it has a creation time and an id."""

    @property
    def created_at(self) -> datetime: ...

    @property
    def id(self) -> uuid.UUID: ...


@dataclass(frozen=True)
class Position:
    """Where the previous page ended: the last row's creation time and id."""

    created_at: datetime
    id: uuid.UUID


def encode_cursor(row: Keyed) -> str:
    raw = f"{row.created_at.isoformat()}|{row.id.hex}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position a cursor names; a cursor we did not give out is `Invalid` (422)."""
    refused = Invalid(
        "This cursor is not valid: pass the next_cursor of the previous page unchanged.",
        fields={"cursor": "not a cursor this API gave out"},
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, ident = raw.partition("|")
        position = Position(created_at=datetime.fromisoformat(when), id=uuid.UUID(hex=ident))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise refused from None
    if position.created_at.tzinfo is None:
        raise refused
    return position


@dataclass(frozen=True)
class PageParams:
    """The `cursor` and `limit` query parameters of a list endpoint."""

    cursor: Position | None
    limit: int


def page_params(
    cursor: Annotated[
        str | None, Query(description="next_cursor of the previous page; empty: the first page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page")] = DEFAULT_LIMIT,
) -> PageParams:
    return PageParams(cursor=decode_cursor(cursor) if cursor else None, limit=limit)


Paging = Annotated[PageParams, Depends(page_params)]


def keyset(statement: S, created_at: Any, id_column: Any, params: PageParams) -> S:
    """`statement` ordered newest first, starting after the cursor, one row more than the
    limit (that extra row tells whether a next page exists; `paged` drops it).

    `created_at` and `id_column` are the paged table's columns; a statement that selects
    several entities (a membership and its user) pages by the first one's."""
    created, ident = col(created_at), col(id_column)
    if params.cursor is not None:
        at = params.cursor
        statement = statement.where(
            or_(created < at.created_at, and_(created == at.created_at, ident < at.id))
        )
    return statement.order_by(created.desc(), ident.desc()).limit(params.limit + 1)


class PageBody(TypedDict, Generic[T]):
    data: list[T]
    next_cursor: str | None


def paged(items: Sequence[T], rows: Sequence[Keyed], params: PageParams) -> PageBody[T]:
    """The page body from the `keyset` rows (and the items made from them, in the same order):
    at most `limit` items, and a cursor when there was a row beyond them."""
    if len(rows) > params.limit:
        last = rows[params.limit - 1]
        return {"data": list(items[: params.limit]), "next_cursor": encode_cursor(last)}
    return {"data": list(items), "next_cursor": None}
