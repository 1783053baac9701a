"""The signed-in session as the browser sees it, and the one way handlers act as the user.

Why every handler re-resolves the actor: any event can be sent over the websocket by hand,
so the page guard is a convenience and the service call is the real check.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import reflex as rx

from agent_platform.client_address import client_address
from agent_platform.db import Session, session_scope
from agent_platform.models import User
from agent_platform.settings import get_settings
from services import access, accounts, organizations
from services.access import Actor, actor_for
from services.errors import DomainError, NotFound

T = TypeVar("T")


class SessionState(rx.State):
    auth_token: str = rx.LocalStorage(name="ap_session", sync=True)
    user_name: str = ""
    user_email: str = ""
    is_instance_admin: bool = False
    org_id: str = ""
    org_name: str = ""
    role: str = ""
    permissions: list[str] = []  # services.access.granted(role): what the UI may offer
    orgs: list[dict[str, str]] = []
    signed_in: bool = False
    checked: bool = False

    @contextmanager
    def acting(self) -> Iterator[tuple[Session, User, Actor]]:
        """A transaction acting as the signed-in user in their current organization.
        Blocking: an async handler runs the work that uses it in `asyncio.to_thread`."""
        with session_scope() as session:
            user, org_id = accounts.signed_in(session, self.auth_token)
            yield session, user, actor_for(session, user, org_id, client_ip=self._client_ip())

    def _client_ip(self) -> str | None:
        """The socket's peer, or the X-Forwarded-For client when the peer is a trusted proxy."""
        return client_address(
            self.router.session.client_ip or None,
            self.router.headers.raw_headers.get("x-forwarded-for"),
            get_settings().trusted_proxy_networks,
        )

    def _load_identity(self) -> bool:
        try:
            with self.acting() as (session, user, actor):
                org = organizations.get_org(session, actor)
                self.user_name = user.name
                self.user_email = user.email
                self.is_instance_admin = user.is_instance_admin
                self.org_id = str(org.id)
                self.org_name = org.name
                self.role = actor.role.value
                self.permissions = access.granted(actor.role)
                self.orgs = [
                    {"id": str(o.id), "name": o.name, "role": o.role.value}
                    for o in organizations.orgs_of_user(session, user)
                ]
                self.signed_in = True
        except DomainError:
            self._clear_identity()
        self.checked = True
        return self.signed_in

    def _clear_identity(self) -> None:
        self.signed_in = False
        self.user_name = self.user_email = self.org_id = self.org_name = self.role = ""
        self.permissions = []
        self.orgs = []

    @rx.event
    def require_login(self) -> rx.event.EventSpec | None:
        """on_load guard of every app page: unknown or ended sessions go to the login page."""
        if self._load_identity():
            return None
        path = self.router.url.path or "/"
        return rx.redirect(f"/login?next={path}")

    @rx.event
    def switch_org(self, org_id: str) -> rx.event.EventSpec | None:
        try:
            with session_scope() as session:
                accounts.switch_org(session, self.auth_token, uuid.UUID(org_id))
        except (DomainError, ValueError) as exc:
            return rx.toast.error(getattr(exc, "message", "Organization not found."))
        self._load_identity()
        return rx.redirect(self.router.url.path or "/")

    @rx.event
    async def logout(self) -> rx.event.EventSpec:
        with session_scope() as session:
            accounts.logout(session, self.auth_token)
        await self._reset_user_states()
        return rx.redirect("/login")

    async def _reset_user_states(self) -> None:
        """Every page's state belongs to the person signed in; the next person in this tab
        (another account, maybe in another org) must find none of it — a shown-once API key
        or invitation link least of all. Substates not loaded yet (state kept in Redis) are
        fetched first, so none is skipped."""
        pending = list(SessionState.get_substates())
        while pending:
            cls = pending.pop()
            pending.extend(cls.get_substates())
            (await self.get_state(cls)).reset()
        session_state = await self.get_state(SessionState)
        session_state.reset()  # the session token, identity and anything still loaded below
        session_state.auth_token = ""


def actor_from_token(token: str, client_ip: str | None = None) -> Actor:
    """For background handlers, which read the token under the state lock and then leave it.
    It reads the database: call it through `asyncio.to_thread`, never on the event loop."""
    with session_scope() as session:
        user, org_id = accounts.signed_in(session, token)
        return actor_for(session, user, org_id, client_ip=client_ip)


def form_text(form: dict, key: str, default: str = "") -> str:
    """A form value as text: browsers send null for fields that are hidden or never rendered."""
    value = form.get(key)
    return default if value is None else str(value)


def format_utc(value: object) -> str:
    """A timestamp as the tables show it (None: empty)."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def parse_id(value: str, what: str) -> uuid.UUID:
    """An id the browser sent; a malformed one is just another `what` that does not exist."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{what} not found.") from None
