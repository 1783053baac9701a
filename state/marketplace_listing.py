"""A listing's page: description, versions and changelog, test scores behind the badge,
reviews, what it needs, price; install, update, review, reply, report, new version.

Readable signed out; every action re-resolves the actor (the services decide who may).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import reflex as rx

from agent_platform.db import session_scope
from services.billing import connect, licences, purchases
from services.errors import DomainError, NotFound
from services.marketplace import details, installs, listings, media, reviews, storage
from state.base import SessionState, parse_id
from state.marketplace_rows import listing_vars

IMAGE_UPLOAD = "listing-image-upload"


class ListingState(SessionState):
    listing_id: str = ""
    found: bool = False
    loading: bool = True
    error: str = ""
    listing: dict[str, str] = {}
    description_html: str = ""
    tags: list[str] = []
    screenshots: list[str] = []
    versions: list[dict[str, str]] = []
    needs_integrations: list[str] = []
    needs_models: list[str] = []
    badge: dict[str, str] = {}
    scores: list[dict[str, str]] = []
    badge_reasons: list[str] = []
    review_rows: list[dict[str, str]] = []
    installed_agent: str = ""  # the installing org's copy, if any
    install_id: str = ""
    update_available: str = ""
    is_seller: bool = False
    licensed: bool = False  # the org bought this paid listing (and holds the licence)
    purchase_note: str = ""  # back from Stripe Checkout: what happens next
    sale_note: str = ""  # the seller's: why buyers do not see this paid listing
    placeholders: list[str] = []
    _edit_source: dict[str, str] = {}

    rating_input: str = "5"
    review_body: str = ""
    changelog: str = ""
    reply_to: str = ""
    reply_text: str = ""
    report_review: str = ""
    report_reason: str = ""
    editing: bool = False
    edit_form: dict[str, str] = {}
    edit_errors: dict[str, str] = {}

    @rx.event
    def load(self) -> None:
        self._load_identity()
        self.listing_id = self.router.url.query_parameters.get("id", "")
        self.purchase_note = (
            "Payment sent: your copy installs as soon as Stripe confirms it (usually within "
            "seconds); reload to see it."
            if self.router.url.query_parameters.get("purchase")
            else ""
        )
        self.placeholders, self.reply_to, self.report_review = [], "", ""
        self._fill()

    def _fill(self) -> None:
        self.loading, self.error = True, ""
        try:
            listing_id = parse_id(self.listing_id, "Listing")
            if self.signed_in:
                with self.acting() as (session, _u, actor):
                    detail = details.listing_detail(session, actor, listing_id)
                    self._show(detail)
                    self.licensed = licences.licensed(session, actor.org_id, listing_id)
                    self.sale_note = (
                        connect.hidden_from_buyers(session, detail.listing)
                        if detail.is_seller
                        else ""
                    )
            else:
                with session_scope() as session:
                    self._show(details.listing_detail(session, None, listing_id))
            self.found = True
        except NotFound as exc:
            self.found, self.error = False, exc.message
        except DomainError as exc:
            self.error = exc.message
        self.loading = False

    def _show(self, detail: details.ListingDetail) -> None:
        values = listing_vars(detail)
        own = values.pop("own_review", None)
        for name, value in values.items():
            setattr(self, name, value)
        if own is not None and not self.review_body:
            self.rating_input, self.review_body = own["rating"], own["body"]

    def _act(self, work: Any, done: str) -> Any:
        try:
            with self.acting() as (session, _u, actor):
                work(session, actor)
        except DomainError as exc:
            return rx.toast.error(exc.message)
        self._fill()
        return rx.toast.success(done)

    def _id(self) -> uuid.UUID:
        return parse_id(self.listing_id, "Listing")

    @rx.event
    def install(self) -> Any:
        def work(session: Any, actor: Any) -> None:
            copy = installs.install_listing(session, actor, self._id())
            self.placeholders = [*copy.placeholders, *(f"Not copied: {d}" for d in copy.dropped)]

        return self._act(work, "Installed as a draft agent in your organization.")

    @rx.event
    def buy(self) -> Any:
        """Open Stripe Checkout for this paid listing; the install follows the payment."""
        try:
            with self.acting() as (session, _u, actor):
                url = purchases.buy_listing(session, actor, self._id()).checkout_url or ""
        except DomainError as exc:
            return rx.toast.error(exc.message)
        return rx.redirect(url, is_external=True)

    @rx.event
    def update_install(self) -> Any:
        def work(session: Any, actor: Any) -> None:
            copy = installs.update_install(session, actor, parse_id(self.install_id, "Install"))
            self.placeholders = list(copy.placeholders)

        return self._act(work, "Updated to the latest version.")

    @rx.event
    def set_value(self, name: str, value: str) -> None:
        if name in ("rating_input", "review_body", "changelog", "reply_text", "report_reason"):
            setattr(self, name, value)

    @rx.event
    def submit_review(self) -> Any:
        def work(session: Any, actor: Any) -> None:
            reviews.review_listing(
                session,
                actor,
                self._id(),
                {"rating": int(self.rating_input or 0), "body": self.review_body},
            )

        return self._act(work, "Review saved.")

    @rx.event
    def add_version(self) -> Any:
        def work(session: Any, actor: Any) -> None:
            listings.add_version(session, actor, self._id(), changelog=self.changelog)
            self.changelog = ""

        return self._act(work, "New version listed; installers will see the update.")

    @rx.event
    def open_reply(self, review_id: str) -> None:
        self.reply_to, self.reply_text = review_id, ""

    @rx.event
    def send_reply(self) -> Any:
        def work(session: Any, actor: Any) -> None:
            reviews.reply_to_review(
                session, actor, parse_id(self.reply_to, "Review"), self.reply_text
            )
            self.reply_to = ""

        return self._act(work, "Reply posted.")

    @rx.event
    def open_report(self, review_id: str) -> None:
        self.report_review, self.report_reason = review_id, ""

    @rx.event
    def send_report(self) -> Any:
        def work(session: Any, actor: Any) -> None:
            review = self.report_review
            reviews.report(
                session,
                actor,
                self._id(),
                self.report_reason,
                review_id=None if review == "listing" else parse_id(review, "Review"),
            )
            self.report_review = ""

        return self._act(work, "Reported; an admin will look at it.")

    def _store_image(self, kind: str, data: bytes) -> Any:
        """Blocking: the upload handler runs it in a thread."""

        def work(session: Any, actor: Any) -> None:
            if kind == "icon":
                media.set_icon(session, actor, self._id(), data)
            else:
                media.add_screenshot(session, actor, self._id(), data)

        return self._act(work, "Icon saved." if kind == "icon" else "Screenshot added.")

    async def _upload(self, kind: str, files: list[rx.UploadFile]) -> Any:
        if not files:
            return rx.toast.error("Choose an image first.")
        data = await files[0].read(storage.MAX_IMAGE_BYTES + 1)
        done = await asyncio.to_thread(self._store_image, kind, data)
        return [rx.clear_selected_files(IMAGE_UPLOAD), done]

    @rx.event
    async def upload_icon(self, files: list[rx.UploadFile]) -> Any:
        return await self._upload("icon", files)

    @rx.event
    async def upload_screenshot(self, files: list[rx.UploadFile]) -> Any:
        return await self._upload("screenshot", files)

    @rx.event
    def set_editing(self, value: bool) -> None:
        self.editing = bool(value)
        self.edit_form, self.edit_errors = dict(self._edit_source), {}

    @rx.event
    def set_edit_field(self, name: str, value: str) -> None:
        if name in self._edit_source:
            self.edit_form = {**self.edit_form, name: value}

    @rx.event
    def save_listing(self) -> Any:
        form = self.edit_form
        try:
            price = listings.price_cents_of(form.get("price"))
        except DomainError as exc:
            self.edit_errors = exc.fields
            return None
        data = {
            "title": form.get("title", ""),
            "summary": form.get("summary", ""),
            "description": form.get("description", ""),
            "category": form.get("category", ""),
            "tags": [t for t in form.get("tags", "").split(",") if t.strip()],
            "price_cents": price,
        }
        try:
            with self.acting() as (session, _u, actor):
                listings.update_listing(session, actor, self._id(), data)
        except DomainError as exc:
            self.edit_errors = exc.fields or {"form": exc.message}
            return None
        self.editing = False
        self._fill()
        return rx.toast.success("Listing saved.")
