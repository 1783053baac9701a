"""Settings: organization, members, invitations, API keys and the audit log."""

from __future__ import annotations

import uuid

import reflex as rx

from agent_platform.settings import get_settings
from services import api_keys, audit, invitations, organizations
from services.access import DEFAULT_ROLE, ROLES, Permission, can
from services.errors import DomainError
from state.base import SessionState, form_text, format_utc

PAGE_SIZE = 20
# The role choices the forms offer, as the services define them (they refuse the rest).
MEMBER_ROLES = ROLES
KEY_ROLES = api_keys.KEY_ROLES
# Scopes a person picks for a new key (every key reads); admin needs the admin role.
KEY_SCOPE_CHOICES = [s for s in api_keys.SCOPES if s != "read"]
KEY_DAYS = ["never", "30", "90", "365"]
DEFAULT_ROLE_NAME = DEFAULT_ROLE.value


class SettingsState(SessionState):
    tab: str = "organization"
    loading: bool = False
    error: str = ""  # the page's own trouble (loading, a row's action), shown at the top
    form_error: str = ""  # a form's refusal that belongs to none of its fields, below the form
    field_errors: dict[str, str] = {}  # a form's refusals, each under its field
    org_tier: str = ""
    limits: dict[str, str] = {}
    members: list[dict[str, str]] = []
    member_search: str = ""
    member_total: int = 0
    member_page: int = 0
    invites: list[dict[str, str]] = []
    new_invite_link: str = ""
    keys: list[dict[str, str]] = []
    new_key_secret: str = ""
    _new_key_id: str = ""  # the key whose secret `new_key_secret` shows
    key_scopes: list[str] = [s for s in api_keys.DEFAULT_SCOPES if s != "read"]  # read: always
    allow_self_approval: bool = False
    audit_rows: list[dict[str, str]] = []
    audit_total: int = 0
    audit_page: int = 0

    @rx.var
    def is_admin(self) -> bool:
        return Permission.ORG_MANAGE.value in self.permissions

    @rx.var
    def member_pages(self) -> int:
        return max(1, -(-self.member_total // PAGE_SIZE))

    @rx.var
    def audit_pages(self) -> int:
        return max(1, -(-self.audit_total // PAGE_SIZE))

    def _fail(self, exc: DomainError) -> rx.event.EventSpec:
        self.error = exc.message
        return rx.toast.error(exc.message)

    def _form_refused(self, exc: DomainError, shown: dict[str, str]) -> None:
        """A form's refusal said once: each field's message under that field (`shown` maps
        the service's field names to the form's), else the message below the form."""
        self.field_errors = {shown[k]: v for k, v in exc.fields.items() if k in shown}
        self.form_error = "" if self.field_errors else exc.message

    def _clear_errors(self) -> None:
        self.error, self.form_error, self.field_errors = "", "", {}

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        self._forget_secrets()  # a secret shown before the page was left is not shown again
        if not self._load_identity():
            return rx.redirect("/login?next=/settings")
        self.loading = True
        self.error = ""
        try:
            self._refresh()
        except DomainError as exc:
            self.error = exc.message
        finally:
            self.loading = False
        return None

    def _refresh(self) -> None:
        with self.acting() as (session, _user, actor):
            org = organizations.get_org(session, actor)
            self.allow_self_approval = org.allow_self_approval
            lim = organizations.tier_limits(session, actor)
            # Without billing no plan applies: naming the stored tier would suggest a cap.
            self.org_tier = lim.tier.value if lim.plans_enabled else "self-hosted, no plan"
            self.limits = {
                "Agents": _limit(lim.max_agents),
                "Runs per month": _limit(lim.max_runs_per_month),
                "Concurrent runs": _limit(lim.max_concurrent_runs),
                "Members": _limit(lim.max_members),
            }
            rows, self.member_total = organizations.list_members(
                session,
                actor,
                search=self.member_search,
                offset=self.member_page * PAGE_SIZE,
                limit=PAGE_SIZE,
            )
            self.members = [
                {
                    "id": str(m.membership_id),
                    "name": m.name,
                    "email": m.email,
                    "role": m.role.value,
                    "joined": format_utc(m.joined_at),
                }
                for m in rows
            ]
            if not can(actor, Permission.ORG_MANAGE):
                self.invites, self.keys, self.audit_rows, self.audit_total = [], [], [], 0
                return
            self.invites = [
                {
                    "id": str(i.id),
                    "email": i.email,
                    "role": i.role.value,
                    "expires": format_utc(i.expires_at),
                }
                for i in invitations.list_pending(session, actor)
            ]
            self.keys = [
                {
                    "id": str(k.id),
                    "name": k.name,
                    "prefix": k.prefix + "…",
                    "role": k.role.value,
                    "created": format_utc(k.created_at),
                    "last_used": format_utc(k.last_used_at) or "never",
                    "scopes": ", ".join(k.scopes),
                    "expires": format_utc(k.expires_at) or "never",
                }
                for k in api_keys.list_keys(session, actor)
            ]
            entries, self.audit_total = audit.list_entries(
                session, actor, offset=self.audit_page * PAGE_SIZE, limit=PAGE_SIZE
            )
            who = audit.actor_labels(session, entries)
            self.audit_rows = [
                {
                    "when": format_utc(e.created_at),
                    "action": e.action,
                    "actor": who.get(e.actor_id, "a deleted account")
                    if e.actor_id
                    else "the system",
                    "target": f"{e.target_type or ''} {e.target_id or ''}".strip(),
                    "ip": e.client_ip or "",
                    "details": ", ".join(f"{k}={v}" for k, v in e.details.items()),
                }
                for e in entries
            ]

    def _forget_secrets(self) -> None:
        self.new_key_secret = self.new_invite_link = self._new_key_id = ""

    @rx.event
    def forget_secrets(self) -> None:
        """Shown once means once: dismissed, or gone when the page is left (on unmount)."""
        self._forget_secrets()

    @rx.event
    def set_self_approval(self, allowed: bool) -> rx.event.EventSpec | None:
        try:
            with self.acting() as (session, _u, actor):
                organizations.set_self_approval(session, actor, allowed=bool(allowed))
        except DomainError as exc:
            return self._fail(exc)
        self._refresh()
        if allowed:
            return rx.toast.success("People may now approve actions of their own runs.")
        return rx.toast.success("Actions of a run now need another member's approval.")

    @rx.event
    def set_tab(self, tab: str) -> None:
        self.tab = tab
        self._clear_errors()

    @rx.event
    def rename(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        self._clear_errors()
        try:
            with self.acting() as (session, _u, actor):
                organizations.rename_org(session, actor, name=form_text(form, "org_name", ""))
        except DomainError as exc:
            self._form_refused(exc, {"name": "org_name"})
            return None
        self._load_identity()
        return rx.toast.success("Organization renamed.")

    @rx.event
    def search_members(self, form: dict[str, str]) -> None:
        self.member_search = form_text(form, "q", "")
        self.member_page = 0
        self._refresh()

    @rx.event
    def member_page_by(self, delta: int) -> None:
        self.member_page = min(max(0, self.member_page + delta), self.member_pages - 1)
        self._refresh()

    @rx.event
    def change_role(self, membership_id: str, role: str) -> rx.event.EventSpec | None:
        try:
            with self.acting() as (session, _u, actor):
                organizations.change_role(session, actor, uuid.UUID(membership_id), role=role)
        except DomainError as exc:
            self._refresh()
            return self._fail(exc)
        self._refresh()
        return rx.toast.success("Role changed.")

    @rx.event
    def remove_member(self, membership_id: str) -> rx.event.EventSpec | None:
        try:
            with self.acting() as (session, _u, actor):
                organizations.remove_member(session, actor, uuid.UUID(membership_id))
        except DomainError as exc:
            return self._fail(exc)
        self._refresh()
        return rx.toast.success("Member removed.")

    @rx.event
    def invite(self, form: dict[str, str]) -> list[rx.event.EventSpec] | None:
        self._clear_errors()
        self.new_invite_link = ""
        try:
            with self.acting() as (session, _u, actor):
                _inv, token = invitations.create_invitation(
                    session,
                    actor,
                    email=form_text(form, "invite_email", ""),
                    role=form_text(form, "invite_role", DEFAULT_ROLE_NAME),
                    days=get_settings().invite_days,
                )
        except DomainError as exc:
            self._form_refused(exc, {"email": "invite_email"})
            return None
        self.new_invite_link = f"{get_settings().resolved_base_url}/invite?token={token}"
        self._refresh()
        return [
            rx.set_value("invite_email", ""),  # a refused form keeps what was typed
            rx.toast.success("Invitation created. Copy the link; it is shown only once."),
        ]

    @rx.event
    def revoke_invite(self, invitation_id: str) -> rx.event.EventSpec | None:
        try:
            with self.acting() as (session, _u, actor):
                invitations.revoke_invitation(session, actor, uuid.UUID(invitation_id))
        except DomainError as exc:
            return self._fail(exc)
        self._refresh()
        return rx.toast.success("Invitation revoked.")

    @rx.event
    def create_key(self, form: dict[str, str]) -> list[rx.event.EventSpec] | None:
        self._clear_errors()
        self.new_key_secret = self._new_key_id = ""
        try:
            with self.acting() as (session, _u, actor):
                days = form_text(form, "key_days", "never")
                created = api_keys.create_key(
                    session,
                    actor,
                    name=form_text(form, "key_name", ""),
                    role=form_text(form, "key_role", DEFAULT_ROLE_NAME),
                    scopes=["read", *self.key_scopes],
                    expires_in_days=int(days) if days.isdigit() else None,
                )
                secret, key_id = created.secret, str(created.key.id)
        except DomainError as exc:
            self._form_refused(exc, {"name": "key_name", "scopes": "key_scopes"})
            return None
        self.new_key_secret, self._new_key_id = secret, key_id
        self._refresh()
        return [
            rx.set_value("key_name", ""),  # a refused form keeps what was typed
            rx.toast.success("API key created. Copy it now; it is shown only once."),
        ]

    @rx.event
    def toggle_key_scope(self, scope: str, on: bool) -> None:
        rest = [s for s in self.key_scopes if s != scope]
        self.key_scopes = sorted([*rest, scope]) if on else rest

    @rx.event
    def revoke_key(self, key_id: str) -> rx.event.EventSpec | None:
        try:
            with self.acting() as (session, _u, actor):
                api_keys.revoke_key(session, actor, uuid.UUID(key_id))
        except DomainError as exc:
            return self._fail(exc)
        if key_id == self._new_key_id:  # its secret, still shown, no longer opens anything
            self.new_key_secret = self._new_key_id = ""
        self._refresh()
        return rx.toast.success("API key revoked.")

    @rx.event
    def audit_page_by(self, delta: int) -> None:
        self.audit_page = min(max(0, self.audit_page + delta), self.audit_pages - 1)
        self._refresh()


def _limit(value: int) -> str:
    return "unlimited" if value < 0 else f"{value:,}"
