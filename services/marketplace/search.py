"""Browsing the marketplace: full-text search, filters, sorts and pages over live listings.

Search is the database's own: PostgreSQL matches `to_tsvector('english', title || ' ' ||
summary || ' ' || description)` (the expression migration 0013 indexes with GIN, written the
same way here so the planner uses it) against `plainto_tsquery`; SQLite asks its FTS5 table,
with every word quoted so nothing a person types is read as FTS syntax.

"Popular" is installs (each organization once), then rating. Its first pages without search
or filters — what nearly everyone sees first — come from a hot list kept in Redis for an hour
(`HOT_TTL`): the ids only, so a listing taken down meanwhile still disappears at once (rows are
read fresh and must be live). Redis may lose it; then it is simply read again.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from pydantic import BaseModel, Field
from redis import RedisError
from sqlalchemy import ColumnElement, literal_column, text
from sqlmodel import Session, col, func, select

from agent_platform.models import ListingKind, ListingStatus, MarketplaceListing, Organization
from agent_platform.redis_client import get_redis
from services.marketplace.listings import on_sale
from services.validation import parse

logger = logging.getLogger(__name__)

HOT_KEY = "marketplace:hot"
HOT_TTL = 3600
HOT_SIZE = 200
SEARCH_TEXT = "marketplace_listings.title || ' ' || marketplace_listings.summary || ' ' || marketplace_listings.description"  # noqa: E501

Sort = Literal["popular", "newest", "rating"]
Price = Literal["any", "free", "paid"]


class BrowseQuery(BaseModel):
    search: str = Field(default="", max_length=200)
    category: str = Field(default="", max_length=40)
    price: Price = "any"
    verified: bool = False
    min_rating: float = Field(default=0, ge=0, le=5)
    sort: Sort = "popular"
    page: int = Field(default=1, ge=1, le=10_000)
    per_page: int = Field(default=24, ge=1, le=100)


@dataclass(frozen=True)
class ListingCard:
    id: uuid.UUID
    title: str
    summary: str
    category: str
    tags: list[str]
    price_cents: int
    currency: str
    kind: ListingKind
    verified: bool
    rating: float
    rating_count: int
    downloads: int
    icon_key: str | None
    publisher: str
    created_at: datetime


@dataclass(frozen=True)
class BrowsePage:
    cards: list[ListingCard]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def fts_query(words: str) -> str:
    """An FTS5 query matching every word typed, each quoted (no operators, no columns)."""
    return " ".join(f'"{w}"' for w in re.findall(r"\w+", words))


def _matches(session: Session, words: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        vector = func.to_tsvector(literal_column("'english'"), literal_column(SEARCH_TEXT))
        query = func.plainto_tsquery(literal_column("'english'"), words)
        # The matches are gathered through the GIN index in a subquery the planner keeps
        # apart (OFFSET 0). With the match inline it may walk the `created_at` index for
        # "newest" and compute each listing's text vector to filter it: 0.7-2.5 s for a word
        # in one listing of ten at 10,000 listings (benchmarks/marketplace.py).
        matched = (
            select(MarketplaceListing.id).where(vector.op("@@")(query)).offset(0).correlate(None)
        )
        return col(MarketplaceListing.id).in_(matched)
    terms = fts_query(words)
    if not terms:
        return col(MarketplaceListing.id).is_(None)
    # A subquery, not the ids read first and bound back: a common word matches most listings,
    # and thousands of bound ids made each of the two reads slower than the match itself.
    # The FTS table holds `listing.id.hex`, the form SQLite stores the id column in.
    found = text(
        "SELECT listing_id FROM marketplace_search WHERE marketplace_search MATCH :q"
    ).bindparams(q=terms)
    return col(MarketplaceListing.id).in_(found.columns(literal_column("listing_id")))


def _filters(session: Session, query: BrowseQuery) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = [on_sale()]
    if query.search.strip():
        found.append(_matches(session, query.search.strip()))
    if query.category:
        found.append(col(MarketplaceListing.category) == query.category)
    if query.price == "free":
        found.append(col(MarketplaceListing.price_cents) == 0)
    elif query.price == "paid":
        found.append(col(MarketplaceListing.price_cents) > 0)
    if query.verified:
        found.append(col(MarketplaceListing.verified).is_(True))
    if query.min_rating > 0:
        found.append(col(MarketplaceListing.rating) >= query.min_rating)
    return found


ORDERS: dict[str, list[Any]] = {
    "popular": [
        col(MarketplaceListing.downloads).desc(),
        col(MarketplaceListing.rating).desc(),
        col(MarketplaceListing.created_at).desc(),
    ],
    "newest": [col(MarketplaceListing.created_at).desc()],
    "rating": [
        col(MarketplaceListing.rating).desc(),
        col(MarketplaceListing.rating_count).desc(),
    ],
}


def _page_ids(
    session: Session, filters: list[ColumnElement[bool]], order: list[Any], offset: int, limit: int
) -> list[uuid.UUID]:
    """One page's ids in `order`, sorted over the narrow columns the sort needs (the rows are
    read whole afterwards, so a later page no longer sorts every description along)."""
    return list(
        session.exec(
            select(MarketplaceListing.id)
            .where(*filters)
            .order_by(*order, col(MarketplaceListing.id))
            .offset(offset)
            .limit(limit)
        ).all()
    )


def _searched_page_ids(
    session: Session, filters: list[ColumnElement[bool]], order: list[Any], offset: int, limit: int
) -> tuple[list[uuid.UUID], int | None]:
    """A search's page ids and how many listings matched, from one read: the count is a
    window over the same matching rows. Every match is read anyway to sort it; a separate
    count matched the words a second time (on PostgreSQL the planner could also walk the
    `created_at` index for "newest" and compute each listing's text vector to filter it:
    ~200 ms for a word in one listing of ten at 10,000 listings; reading every match takes
    the full-text index instead). None: a page past the end, which carries no count."""
    rows = session.exec(
        select(MarketplaceListing.id, func.count().over())
        .where(*filters)
        .order_by(*order, col(MarketplaceListing.id))
        .offset(offset)
        .limit(limit)
    ).all()
    return [row[0] for row in rows], (rows[0][1] if rows else None)


def _read_cards(
    session: Session, ids: list[uuid.UUID], *filters: ColumnElement[bool]
) -> list[ListingCard]:
    """The listings of `ids` that pass `filters`, in the order of `ids`."""
    if not ids:
        return []
    rows = session.exec(
        select(MarketplaceListing, Organization.name)
        .join(Organization, col(Organization.id) == MarketplaceListing.publisher_org_id)
        .where(col(MarketplaceListing.id).in_(ids), *filters)
    ).all()
    found = {listing.id: card(listing, publisher) for listing, publisher in rows}
    return [found[i] for i in ids if i in found]


def card(listing: MarketplaceListing, publisher: str) -> ListingCard:
    return ListingCard(
        id=listing.id,
        title=listing.title,
        summary=listing.summary,
        category=listing.category,
        tags=[str(t) for t in listing.tags],
        price_cents=listing.price_cents,
        currency=listing.currency,
        kind=listing.kind,
        verified=listing.verified,
        rating=listing.rating,
        rating_count=listing.rating_count,
        downloads=listing.downloads,
        icon_key=listing.icon_key,
        publisher=publisher,
        created_at=listing.created_at,
    )


def hot_ids(session: Session) -> list[uuid.UUID]:
    """The most popular live listings' ids, from Redis when it has them (an hour at most)."""
    try:
        cached = cast(bytes | None, get_redis().get(HOT_KEY))
        if cached:
            return [uuid.UUID(i) for i in json.loads(cached)]
    except (RedisError, ValueError):
        logger.warning("marketplace hot list unreadable in Redis; reading the database")
    ids = list(
        session.exec(
            select(MarketplaceListing.id)
            .where(on_sale())
            .order_by(*ORDERS["popular"], col(MarketplaceListing.id))
            .limit(HOT_SIZE)
        ).all()
    )
    try:
        get_redis().set(HOT_KEY, json.dumps([str(i) for i in ids]), ex=HOT_TTL)
    except RedisError:
        logger.warning("could not cache the marketplace hot list")
    return ids


def browse(session: Session, params: dict[str, Any]) -> BrowsePage:
    """One page of live listings; anyone may ask, signed in or not."""
    query = parse(BrowseQuery, params)
    filters = _filters(session, query)
    offset = (query.page - 1) * query.per_page
    if query.search.strip():
        ids, counted = _searched_page_ids(
            session, filters, ORDERS[query.sort], offset, query.per_page
        )
        total = _count(session, filters) if counted is None and offset else counted or 0
        return BrowsePage(_read_cards(session, ids), total, query.page, query.per_page)
    total = _count(session, filters)
    plain = not (query.category or query.verified or query.min_rating)
    if query.sort == "popular" and plain and query.price == "any":
        ids = hot_ids(session)
        # the cached order serves pages it covers; a listing gone live since it was cached
        # (more live listings than it holds) sends the read to the database instead
        if offset + query.per_page <= len(ids) or len(ids) >= total:
            wanted = ids[offset : offset + query.per_page]
            cards = _read_cards(session, wanted, *filters)
            return BrowsePage(cards, total, query.page, query.per_page)
    ids = _page_ids(session, filters, ORDERS[query.sort], offset, query.per_page)
    return BrowsePage(_read_cards(session, ids), total, query.page, query.per_page)


def _count(session: Session, filters: list[ColumnElement[bool]]) -> int:
    return session.exec(select(func.count()).select_from(MarketplaceListing).where(*filters)).one()


def categories_in_use(session: Session) -> list[str]:
    return sorted(
        session.exec(
            select(MarketplaceListing.category)
            .where(MarketplaceListing.status == ListingStatus.LIVE)
            .distinct()
        ).all()
    )
