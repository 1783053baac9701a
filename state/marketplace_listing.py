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
from services.errors import DomainError, NotFound
from services.marketplace import details, installs, listings, media, reviews, storage
from services.marketplace.listings import price_label
from state.base import SessionState, format_utc, parse_id

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
        row = detail.listing
        self.listing = {
            "title": row.title,
            "summary": row.summary,
            "publisher": detail.publisher,
            "category": row.category,
            "price": price_label(row.price_cents),
            "paid": "yes" if row.price_cents else "",
            "kind": row.kind.value,
            "status": row.status.value,
            "note": row.moderation_note if detail.is_seller else "",
            "rating": f"{row.rating:.1f}",
            "reviews": str(row.rating_count),
            "downloads": str(row.downloads),
            "icon": f"/api/v1/marketplace/files/{row.icon_key}" if row.icon_key else "",
            "latest": str(row.latest_version),
        }
        self.description_html = row.description_html
        self._edit_source = {
            "title": row.title,
            "summary": row.summary,
            "description": row.description,
            "category": row.category,
            "tags": ", ".join(str(t) for t in row.tags),
            "price": f"{row.price_cents / 100:.2f}",
        }
        self.tags = [str(t) for t in row.tags]
        self.screenshots = [f"/api/v1/marketplace/files/{k}" for k in row.screenshot_keys]
        self.versions = [
            {
                "version": str(v.version),
                "changelog": v.changelog,
                "when": format_utc(v.created_at),
                "verified": "yes" if v.verified else "",
            }
            for v in detail.versions
        ]
        latest = detail.latest
        self.needs_integrations = [
            f"{i.get('provider') or 'an integration'}: {i.get('action')}"
            for i in latest.required_integrations
        ]
        self.needs_models = [str(m) for m in latest.required_models]
        badge = detail.badge
        self.badge = {
            "verified": "yes" if badge["verified"] else "",
            "checked": (badge.get("checked_at") or "")[:16].replace("T", " "),
            "ran": (badge.get("tests_ran_at") or "")[:16].replace("T", " "),
        }
        self.scores = [
            {
                "suite": str(s["suite"]),
                "status": str(s["status"]),
                "score": "" if s["score"] is None else f"{float(s['score']):.0%}",
                "cases": f"{s['passed_cases']} passed, {s['failed_cases']} failed",
            }
            for s in badge.get("suites", [])
        ]
        self.badge_reasons = [str(r) for r in badge.get("reasons", [])]
        self.review_rows = [
            {
                "id": str(r.id),
                "org": r.org_name,
                "stars": "★" * r.rating + "☆" * (5 - r.rating),
                "body": r.body,
                "reply": r.reply or "",
                "when": format_utc(r.updated_at),
                "mine": "yes" if r.mine else "",
            }
            for r in detail.reviews
        ]
        self.is_seller = detail.is_seller
        install = detail.install
        self.install_id = str(install.id) if install else ""
        self.installed_agent = str(install.agent_id) if install and install.agent_id else ""
        self.update_available = str(detail.update_available or "")
        mine = next((r for r in detail.reviews if r.mine), None)
        if mine is not None and not self.review_body:
            self.rating_input, self.review_body = str(mine.rating), mine.body

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
            price = round(float(form.get("price") or 0) * 100)
        except ValueError:
            self.edit_errors = {"price_cents": "A price in dollars, e.g. 4.99"}
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
