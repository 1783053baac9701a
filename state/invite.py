"""Accepting an invitation link (`/invite?token=...`)."""

from __future__ import annotations

from urllib.parse import quote

import reflex as rx

from agent_platform.db import session_scope
from services import accounts, invitations
from services.errors import DomainError
from state.base import SessionState


class InviteState(SessionState):
    invite_org: str = ""
    invite_role: str = ""
    invite_error: str = ""
    invite_checked: bool = False
    invite_next: str = ""

    def _token(self) -> str:
        return self.router.url.query_parameters.get("token", "")

    @rx.event
    def load(self) -> None:
        self.invite_error, self.invite_org, self.invite_role = "", "", ""
        self._load_identity()
        self.invite_next = quote(f"/invite?token={self._token()}", safe="")
        try:
            with session_scope() as session:
                invitation, org = invitations.preview(session, self._token())
                self.invite_org, self.invite_role = org.name, invitation.role.value
        except DomainError as exc:
            self.invite_error = exc.message
        self.invite_checked = True

    @rx.event
    def accept(self) -> rx.event.EventSpec | None:
        try:
            with self.acting() as (session, user, _actor):
                membership = invitations.accept(session, user, self._token())
                accounts.switch_org(session, self.auth_token, membership.org_id)
        except DomainError as exc:
            self.invite_error = exc.message
            return None
        self._load_identity()
        return rx.redirect("/")
