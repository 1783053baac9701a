"""Integrations page: connections with their health, connect (OAuth or a static credential),
test, reconnect and remove; and the actions waiting for a person's approval.

Secrets go one way: from the form into the secret store. The page only ever shows names,
scopes, accounts and health.
"""

from __future__ import annotations

import asyncio
import json
import logging

import reflex as rx

from agent_platform.db import session_scope
from agent_platform.redis_client import get_redis
from services.access import Permission
from services.errors import DomainError
from services.integrations import approvals, connections, lifecycle, oauth, sign_in
from services.integrations.providers import PROVIDERS
from state.base import SessionState, actor_from_token, form_text, format_utc, parse_id

log = logging.getLogger(__name__)

# Form input names (ids a browser test types into) for the API-connection form.
API_FIELDS = {
    "name": "conn_name",
    "base_url": "conn_base_url",
    "header_name": "conn_header_name",
    "api_key": "conn_api_key",
    "token": "conn_token",
    "username": "conn_username",
    "password": "conn_password",
    "authorize_url": "conn_authorize_url",
    "token_url": "conn_token_url",
    "revoke_url": "conn_revoke_url",
    "client_id": "conn_client_id",
    "client_secret": "conn_client_secret",
    "scopes": "conn_scopes",
}


def _catalog() -> list[dict[str, str]]:
    rows = []
    for p in PROVIDERS.values():
        kind = "oauth" if p.auth_kinds == ("oauth2",) else p.key
        ready = kind != "oauth" or oauth.app_configured(p)
        rows.append(
            {
                "key": p.key,
                "label": p.label,
                "kind": kind,
                "ready": "yes" if ready else "",
                "actions": ", ".join(a.name for a in p.actions),
            }
        )
    return rows


class IntegrationsState(SessionState):
    loading: bool = False
    error: str = ""
    field_errors: dict[str, str] = {}
    connections: list[dict[str, str]] = []
    approvals: list[dict[str, str]] = []
    catalog: list[dict[str, str]] = []
    form_open: bool = False
    form_provider: str = ""  # "http" or "oauth2" for the credential forms
    form_auth: str = "bearer"
    busy_id: str = ""
    saving: bool = False
    finishing: bool = False  # back from a provider's consent page, storing the connection

    @rx.var
    def is_admin(self) -> bool:
        return Permission.INTEGRATIONS_MANAGE.value in self.permissions

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        if not self._load_identity():
            return rx.redirect("/login?next=/integrations")
        self.loading, self.error = True, ""
        self.catalog = _catalog()
        try:
            self._refresh()
        except DomainError as exc:
            self.error = exc.message
        finally:
            self.loading = False
        if self.router.url.query_parameters.get("oauth_state"):
            self.finishing = True
            return IntegrationsState.finish_sign_in
        return None

    @rx.event(background=True)
    async def finish_sign_in(self) -> rx.event.EventSpec | None:
        """Back from the provider: finish the sign-in as the signed-in admin who started it."""
        async with self:
            query = self.router.url.query_parameters
            state, code = str(query.get("oauth_state", "")), str(query.get("oauth_code", ""))
            denied = str(query.get("oauth_error", ""))
            token, ip = self.auth_token, self._client_ip()
        try:
            actor = await asyncio.to_thread(actor_from_token, token, ip)
        except DomainError as exc:
            async with self:
                self.finishing = False
                return self._fail(exc)
        try:
            name = await sign_in.complete(
                session_scope, actor, get_redis(), state=state, code=code, error=denied
            )
            message, failed = f"Connected {name}.", False
        except DomainError as exc:
            message, failed = exc.message, True
        except Exception:  # noqa: BLE001 - never a stack trace in the page
            log.exception("finishing an OAuth sign-in failed")
            message, failed = "The sign-in could not be finished; please try again.", True
        async with self:
            self.finishing = False
            self.error = message if failed else ""
            try:
                await asyncio.to_thread(self._refresh)
            except DomainError as exc:
                self.error = exc.message
        toast = rx.toast.error(message) if failed else rx.toast.success(message)
        return [rx.redirect("/integrations", replace=True), toast]

    def _refresh(self) -> None:
        with self.acting() as (session, _u, actor):
            rows = connections.list_connections(session, actor)
            self.connections = [
                {
                    "id": str(r.id),
                    "name": r.name,
                    "provider": r.provider,
                    "provider_label": PROVIDERS[r.provider].label
                    if r.provider in PROVIDERS
                    else r.provider,
                    "oauth": "yes" if r.auth_kind.startswith("oauth2") else "",
                    "auth_kind": r.auth_kind,
                    "status": r.status.value,
                    "account": str(r.settings.get("account", "")),
                    "scopes": ", ".join(r.scopes),
                    "last_used": format_utc(r.last_used_at) or "never",
                    "checked": format_utc(r.last_checked_at),
                    "last_error": r.last_error or "",
                    "expiry": connections.expires_in_words(r),
                    "builders": "yes" if r.builders_may_use else "",
                }
                for r in rows
            ]
            names = {str(r.id): r.name for r in rows}
            self.approvals = [
                {
                    "id": str(a.id),
                    "action": a.action,
                    "connection": names.get(str(a.integration_id), "removed connection"),
                    "run_id": str(a.execution_id),
                    "arguments": json.dumps(a.arguments, indent=2)[:2000],
                    "expires": format_utc(a.expires_at),
                }
                for a in approvals.pending(session, actor)
            ]

    def _fail(self, exc: DomainError) -> rx.event.EventSpec:
        self.error = exc.message
        self.field_errors = {API_FIELDS.get(k, k): v for k, v in exc.fields.items()}
        return rx.toast.error(exc.message)

    @rx.event
    def refresh(self) -> rx.event.EventSpec | None:
        try:
            self._refresh()
        except DomainError as exc:
            return self._fail(exc)
        return None

    # --- connecting -------------------------------------------------------------------------

    @rx.event
    def connect(self, provider_key: str) -> rx.event.EventSpec | None:
        """OAuth providers go straight to the provider's consent page; the others open a form."""
        self.error, self.field_errors = "", {}
        if provider_key in ("http", "oauth2"):
            self.form_provider, self.form_open = provider_key, True
            return None
        try:
            with self.acting() as (session, _u, actor):
                url = connections.start_sign_in(
                    session, actor, get_redis(), provider_key=provider_key
                )
        except DomainError as exc:
            return self._fail(exc)
        return rx.redirect(url)

    @rx.event
    def reconnect(self, connection_id: str) -> rx.event.EventSpec | None:
        try:
            with self.acting() as (session, _u, actor):
                url = connections.start_sign_in(
                    session,
                    actor,
                    get_redis(),
                    integration_id=parse_id(connection_id, "Connection"),
                )
        except DomainError as exc:
            return self._fail(exc)
        return rx.redirect(url)

    @rx.event
    def set_form_open(self, is_open: bool) -> None:
        self.form_open = is_open
        if not is_open:
            self.error, self.field_errors = "", {}

    @rx.event
    def set_form_auth(self, value: str) -> None:
        if value in connections.CREDENTIAL_FIELDS:
            self.form_auth = value
            self.error, self.field_errors = "", {}

    @rx.event
    def set_builders_may_use(self, connection_id: str, allowed: bool) -> rx.event.EventSpec:
        try:
            with self.acting() as (session, _u, actor):
                row = connections.set_builders_may_use(
                    session, actor, parse_id(connection_id, "Connection"), allowed=bool(allowed)
                )
                name = row.name
            self._refresh()
        except DomainError as exc:
            return self._fail(exc)
        if allowed:
            return rx.toast.success(f"Builders may now give agents {name!r}.")
        return rx.toast.success(f"Only admins may now give agents {name!r}.")

    @rx.event
    def save(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        self.error, self.field_errors = "", {}
        values = {key: form_text(form, name, "") for key, name in API_FIELDS.items()}
        try:
            saved = lifecycle.save(
                session_scope,
                actor_from_token(self.auth_token, self._client_ip()),
                get_redis(),
                form="oauth2" if self.form_provider == "oauth2" else "http",
                auth_kind=self.form_auth,
                values=values,
            )
        except DomainError as exc:
            return self._fail(exc)
        self.form_open = False
        if saved.sign_in_url:  # the custom OAuth app now needs the person's consent
            return rx.redirect(saved.sign_in_url)
        self._refresh()
        return rx.toast.success(f"Connection {saved.name!r} saved.")

    # --- test and remove --------------------------------------------------------------------

    @rx.event(background=True)
    async def test(self, connection_id: str) -> rx.event.EventSpec | None:
        """Background: a provider may take seconds to answer; the state lock is not held."""
        async with self:
            if self.busy_id:
                return None
            self.busy_id = connection_id
            token, ip = self.auth_token, self._client_ip()
        try:
            cid = parse_id(connection_id, "Connection")
            actor = await asyncio.to_thread(actor_from_token, token, ip)
            checked = await lifecycle.check(session_scope, actor, cid)
        except DomainError as exc:
            async with self:
                self.busy_id = ""
                return self._fail(exc)
        async with self:
            self.busy_id = ""
            try:
                await asyncio.to_thread(self._refresh)
            except DomainError as exc:
                return self._fail(exc)
        if checked.problem:
            return rx.toast.error(f"Check failed: {checked.problem}")
        account = f" ({checked.account})." if checked.account else "."
        return rx.toast.success("Connection works" + account)

    @rx.event(background=True)
    async def remove(self, connection_id: str) -> rx.event.EventSpec | None:
        """Background: the provider is asked to revoke the grant first."""
        async with self:
            token, ip = self.auth_token, self._client_ip()
        try:
            cid = parse_id(connection_id, "Connection")
            actor = await asyncio.to_thread(actor_from_token, token, ip)
            problem = await lifecycle.remove(session_scope, actor, cid)
        except DomainError as exc:
            async with self:
                return self._fail(exc)
        async with self:
            try:
                await asyncio.to_thread(self._refresh)
            except DomainError as exc:
                return self._fail(exc)
        if problem:
            return rx.toast.warning(f"Removed; the provider did not confirm revocation: {problem}")
        return rx.toast.success("Connection removed and its access revoked.")

    # --- approvals --------------------------------------------------------------------------

    @rx.event
    def decide(self, approval_id: str, approve: bool) -> rx.event.EventSpec | None:
        try:
            with self.acting() as (session, _u, actor):
                approvals.decide(
                    session, actor, parse_id(approval_id, "Approval request"), approve=approve
                )
            self._refresh()
        except DomainError as exc:
            return self._fail(exc)
        return rx.toast.success("Approved: the run goes on." if approve else "Declined.")
