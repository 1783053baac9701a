"""Instance admin page: every organization, its tier and its limit overrides."""

from __future__ import annotations

import reflex as rx

from agent_platform.models import Tier
from services import instance_admin
from services.errors import DomainError
from services.instance_admin import LIMIT_LABELS, OrgSummary
from state.base import SessionState, form_text, format_utc, parse_id

PAGE_SIZE = 25
TIERS = [tier.value for tier in Tier]


def _limit_text(value: int | None) -> str:
    if value is None:
        return ""
    return "unlimited" if value < 0 else f"{value:,}"


def _row(org: OrgSummary) -> dict[str, str]:
    limits = org.limits
    overridden = {name for name, value in org.overrides.items() if value is not None}
    return {
        "id": str(org.id),
        "name": org.name,
        "slug": org.slug,
        "tier": limits.tier.value,
        "members": str(org.members),
        "agents": str(org.agents),
        "created": format_utc(org.created_at),
        "limits": " · ".join(
            f"{label} {_limit_text(getattr(limits, name))}{'*' if name in overridden else ''}"
            for name, label in LIMIT_LABELS.items()
        ),
        **{name: _limit_text(value) for name, value in org.overrides.items()},
    }


class AdminState(SessionState):
    rows: list[dict[str, str]] = []
    total: int = 0
    page: int = 0
    search: str = ""
    plans_enabled: bool = False
    error: str = ""
    field_errors: dict[str, str] = {}
    editing: dict[str, str] = {}  # the row being edited; empty: the dialog is closed

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        if not self._load_identity():
            return rx.redirect("/login?next=/admin")
        self.editing, self.field_errors = {}, {}
        self._refresh()
        return None

    def _refresh(self) -> None:
        self.error = ""
        self.plans_enabled = instance_admin.plans_enabled()
        try:
            with self.acting() as (session, user, _actor):
                found, self.total = instance_admin.list_orgs(
                    session,
                    user.id,
                    search=self.search,
                    offset=self.page * PAGE_SIZE,
                    limit=PAGE_SIZE,
                )
                self.rows = [_row(o) for o in found]
        except DomainError as exc:
            self.rows, self.total, self.error = [], 0, exc.message

    @rx.event
    def search_orgs(self, form: dict[str, str]) -> None:
        self.search = form_text(form, "q")
        self.page = 0
        self._refresh()

    @rx.event
    def move(self, delta: int) -> None:
        self.page = min(max(0, self.page + delta), self.pages - 1)
        self._refresh()

    @rx.event
    def edit(self, org_id: str) -> None:
        self.field_errors = {}
        self.editing = next((r for r in self.rows if r["id"] == org_id), {})

    @rx.event
    def close(self, _open: bool = False) -> None:
        self.editing, self.field_errors = {}, {}

    @rx.event
    def save(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        self.field_errors = {}
        try:
            changes: dict[str, object] = {"tier": form_text(form, "tier", "starter")}
            for name in LIMIT_LABELS:
                changes[name] = instance_admin.parse_limit(form_text(form, name), name)
            with self.acting() as (session, user, _actor):
                instance_admin.set_org_plan(
                    session,
                    user.id,
                    parse_id(self.editing.get("id", ""), "Organization"),
                    changes,
                    client_ip=self._client_ip(),
                )
        except DomainError as exc:
            self.field_errors = exc.fields
            return rx.toast.error(exc.message)
        name = self.editing.get("name", "")
        self.editing = {}
        self._refresh()
        return rx.toast.success(f"Saved the plan of {name}.")
