"""The Marketplace page: browse (signed in or not), publish an agent, the admin's queue.

Rules live in services.marketplace; this fills plain rows. Browsing needs no session: the
page loads the identity if there is one and never redirects.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from agent_platform.db import session_scope
from services.errors import DomainError
from services.marketplace import installs, listings, moderation, search
from services.marketplace.listings import CATEGORIES, price_label
from state.base import SessionState, parse_id

SORTS = {"popular": "Popular", "newest": "Newest", "rating": "Top rated"}
PRICES = {"any": "Any price", "free": "Free", "paid": "Paid"}
RATINGS = {"0": "Any rating", "3": "3★ and up", "4": "4★ and up", "4.5": "4.5★ and up"}
BLANK = {
    "agent_id": "",
    "title": "",
    "summary": "",
    "description": "",
    "category": "other",
    "tags": "",
    "price": "0",
    "kind": "template",
}


def card_row(c: search.ListingCard) -> dict[str, str]:
    return {
        "id": str(c.id),
        "title": c.title,
        "summary": c.summary,
        "category": c.category,
        "publisher": c.publisher,
        "price": price_label(c.price_cents),
        "kind": c.kind.value,
        "verified": "yes" if c.verified else "",
        "rating": f"{c.rating:.1f}",
        "reviews": str(c.rating_count),
        "downloads": str(c.downloads),
        "icon": f"/api/v1/marketplace/files/{c.icon_key}" if c.icon_key else "",
    }


class MarketplaceState(SessionState):
    search: str = ""
    category: str = "all"
    price: str = "any"
    verified: bool = False
    min_rating: str = "0"
    sort: str = "popular"
    page: int = 1
    pages: int = 1
    total: int = 0
    cards: list[dict[str, str]] = []
    loading: bool = True
    error: str = ""

    publishing: bool = False
    form: dict[str, str] = dict(BLANK)
    agent_options: list[dict[str, str]] = []
    nothing_to_list: str = ""  # why the publish form has no agent to offer, if it has none
    form_error: str = ""
    field_errors: dict[str, str] = {}

    pending: list[dict[str, str]] = []
    reports: list[dict[str, str]] = []
    mine: list[dict[str, str]] = []
    installed: list[dict[str, str]] = []

    @rx.var
    def total_label(self) -> str:
        """How many listings matched, in words: "1 listing", "12 listings"."""
        return f"{self.total:,} listing{'' if self.total == 1 else 's'}"

    @rx.event
    def load(self) -> None:
        self._load_identity()  # optional: browsing works signed out
        query = self.router.url.query_parameters
        self.search = query.get("q", "")
        self.category = query.get("category", "all") or "all"
        self.page, self.publishing = 1, False
        self._refresh()
        self._fill_side()

    def _refresh(self) -> None:
        self.loading, self.error = True, ""
        try:
            with session_scope() as session:
                found = search.browse(
                    session,
                    {
                        "search": self.search,
                        "category": "" if self.category == "all" else self.category,
                        "price": self.price,
                        "verified": self.verified,
                        "min_rating": float(self.min_rating or 0),
                        "sort": self.sort,
                        "page": self.page,
                        "per_page": 24,
                    },
                )
            self.cards = [card_row(c) for c in found.cards]
            self.total, self.pages = found.total, found.pages
        except DomainError as exc:
            self.error, self.cards, self.total = exc.message, [], 0
        except Exception:  # noqa: BLE001 - a broken store shows the error state, not a crash
            self.error, self.cards, self.total = "The marketplace could not be read; retry.", [], 0
        self.loading = False

    def _fill_side(self) -> None:
        """The seller's listings and, for the instance admin, the moderation queue."""
        self.mine, self.pending, self.reports, self.installed = [], [], [], []
        if not self.signed_in:
            return
        try:
            with self.acting() as (session, user, actor):
                self.mine = [
                    {"id": str(row.id), "title": row.title, "status": row.status.value}
                    for row in listings.my_listings(session, actor)
                ]
                self.installed = [
                    {
                        "id": str(listing.id),
                        "title": listing.title,
                        "version": str(install.version),
                        "update": str(listing.latest_version)
                        if listing.latest_version > install.version
                        else "",
                    }
                    for install, listing in installs.list_installs(session, actor)
                ]
                if user.is_instance_admin:
                    self.pending = [
                        {"id": str(p.id), "title": p.title, "publisher": p.publisher}
                        for p in moderation.pending_listings(session, user.id)
                    ]
                    self.reports = [
                        {
                            "id": str(r.id),
                            "listing_id": str(r.listing_id),
                            "listing": r.listing_title,
                            "review": r.review_text,
                            "reason": r.reason,
                            "by": r.reporter_org,
                        }
                        for r in moderation.open_reports(session, user.id)
                    ]
        except DomainError as exc:
            self.error = exc.message

    @rx.event
    def apply_search(self, form: dict[str, Any]) -> None:
        self.search, self.page = str(form.get("q") or "").strip(), 1
        self._refresh()

    @rx.event
    def set_filter(self, name: str, value: str) -> None:
        if name in ("category", "price", "min_rating", "sort"):
            setattr(self, name, value)
        self.page = 1
        self._refresh()

    @rx.event
    def set_verified(self, value: bool) -> None:
        self.verified, self.page = bool(value), 1
        self._refresh()

    @rx.event
    def move(self, delta: int) -> None:
        self.page = max(1, min(self.pages, self.page + delta))
        self._refresh()

    @rx.event
    def open_publish(self) -> None:
        self.form, self.form_error, self.field_errors = dict(BLANK), "", {}
        self.agent_options, self.nothing_to_list = [], ""
        try:
            with self.acting() as (session, _u, actor):
                found = listings.listable_agents(session, actor)
            self.agent_options = [{"id": str(a.id), "name": a.name} for a in found]
            self.nothing_to_list = "" if found else listings.NOTHING_TO_LIST
        except DomainError as exc:
            self.form_error = exc.message
        self.publishing = True

    @rx.event
    def set_publishing(self, value: bool) -> None:
        self.publishing = bool(value)

    @rx.event
    def set_field(self, name: str, value: str) -> None:
        if name in BLANK:
            self.form = {**self.form, name: value}

    @rx.event
    def publish(self) -> Any:
        self.form_error, self.field_errors = "", {}
        form = self.form
        try:
            price = listings.price_cents_of(form["price"])
        except DomainError as exc:
            self.field_errors, self.form_error = exc.fields, exc.message
            return None
        data = {
            "title": form["title"],
            "summary": form["summary"],
            "description": form["description"],
            "category": form["category"],
            "tags": [t for t in form["tags"].split(",") if t.strip()],
            "price_cents": price,
            "kind": form["kind"],
        }
        try:
            with self.acting() as (session, _u, actor):
                agent_id = parse_id(form["agent_id"], "Agent") if form["agent_id"] else None
                listing = listings.publish_listing(session, actor, agent_id, data)
                listing_id, status = str(listing.id), listing.status.value
        except DomainError as exc:
            self.form_error, self.field_errors = exc.message, exc.fields
            return None
        self.publishing = False
        note = "It waits for an admin's approval." if status == "pending" else "It is live."
        return [
            rx.toast.success(f"Listed. {note}"),
            rx.redirect(f"/marketplace/listing?id={listing_id}"),
        ]

    @rx.event
    def approve(self, listing_id: str) -> Any:
        return self._moderate(
            lambda s, u: moderation.approve_listing(s, u, parse_id(listing_id, "Listing"))
        )

    @rx.event
    def take_down(self, listing_id: str) -> Any:
        return self._moderate(
            lambda s, u: moderation.take_down_listing(
                s, u, parse_id(listing_id, "Listing"), "Taken down by the instance admin."
            )
        )

    @rx.event
    def resolve(self, report_id: str, action: str) -> Any:
        if action not in ("dismiss", "hide_review", "take_down"):
            return rx.toast.error("Unknown action.")
        return self._moderate(
            lambda s, u: moderation.resolve_report(s, u, parse_id(report_id, "Report"), action)
        )

    def _moderate(self, act: Any) -> Any:
        try:
            with self.acting() as (session, user, _actor):
                act(session, user.id)
        except DomainError as exc:
            return rx.toast.error(exc.message)
        self._fill_side()
        self._refresh()
        return rx.toast.success("Done.")


CATEGORY_OPTIONS = {"all": "All categories", **{c: c.replace("-", " ").title() for c in CATEGORIES}}
