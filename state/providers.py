"""Model providers: list, add/edit, delete and connection tests (admins only).

The API key goes one way: from the form into the secret store. The browser only ever sees
`key_hint` (the last four characters at most).
"""

from __future__ import annotations

import reflex as rx

from agent_platform.models import ProviderKind
from services import private_hosts
from services.access import Permission
from services.errors import DomainError
from services.llm import gateway
from services.llm import providers as provider_service
from state.base import SessionState, form_text, format_utc, parse_id

KIND_OPTIONS: list[dict[str, str]] = [
    {"value": kind.value, "label": provider_service.LABEL[kind]} for kind in ProviderKind
]
NEEDS_BASE = [kind.value for kind in provider_service.NEEDS_BASE]
# Service field name -> form input name (the ids a browser test types into).
FORM_FIELDS = {
    "name": "provider_name",
    "kind": "provider_kind",
    "api_key": "provider_api_key",
    "api_base": "provider_api_base",
    "api_version": "provider_api_version",
    "models": "provider_models",
}


def _models(text: str) -> list[str]:
    return [m.strip() for m in text.split(",") if m.strip()]


class ProvidersState(SessionState):
    loading: bool = False
    error: str = ""
    field_errors: dict[str, str] = {}
    providers: list[dict[str, str]] = []
    form_open: bool = False
    editing_id: str = ""
    form_kind: str = ProviderKind.OPENAI.value
    form_name: str = ""
    form_api_base: str = ""
    form_api_version: str = ""
    form_models: str = ""
    form_key_hint: str = ""
    saving: bool = False
    checking_id: str = ""
    hosts_text: str = ""  # the org's private hosts, one per line
    hosts_enabled: bool = True
    hosts_error: str = ""

    @rx.var
    def is_admin(self) -> bool:
        return Permission.PROVIDERS_MANAGE.value in self.permissions

    @rx.var
    def form_needs_base(self) -> bool:
        return self.form_kind in NEEDS_BASE

    @rx.var
    def form_is_azure(self) -> bool:
        return self.form_kind == ProviderKind.AZURE.value

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        if not self._load_identity():
            return rx.redirect("/login?next=/settings/providers")
        self.loading = True
        self.error = ""
        try:
            self._refresh()
            with self.acting() as (session, _user, actor):
                self.hosts_text = "\n".join(private_hosts.get_private_hosts(session, actor))
            self.hosts_enabled, self.hosts_error = private_hosts.enabled(), ""
        except DomainError as exc:
            self.error = exc.message
        finally:
            self.loading = False
        return None

    def _refresh(self) -> None:
        with self.acting() as (session, _user, actor):
            rows = provider_service.list_providers(session, actor)
            self.providers = [
                {
                    "id": str(p.id),
                    "name": p.name,
                    "kind": p.kind.value,
                    "kind_label": provider_service.LABEL[p.kind],
                    "api_base": p.api_base or "",
                    "api_version": p.api_version or "",
                    "key_hint": p.key_hint or "",
                    "models": ", ".join(p.models),
                    "first_ref": f"{p.name}/{p.models[0]}" if p.models else "",
                    "checked": format_utc(p.last_checked_at),
                    "status": (
                        "" if p.last_checked_at is None else ("error" if p.last_error else "ok")
                    ),
                    "last_error": p.last_error or "",
                }
                for p in rows
            ]

    def _fail(self, exc: DomainError) -> rx.event.EventSpec:
        self.error = exc.message
        self.field_errors = {FORM_FIELDS.get(k, k): v for k, v in exc.fields.items()}
        return rx.toast.error(exc.message)

    # --- the add/edit form --------------------------------------------------------------------

    @rx.event
    def open_new(self) -> None:
        self.editing_id = ""
        self.form_kind = ProviderKind.OPENAI.value
        self.form_name = self.form_api_base = self.form_api_version = ""
        self.form_models = self.form_key_hint = ""
        self.error, self.field_errors = "", {}
        self.form_open = True

    @rx.event
    def open_edit(self, provider_id: str) -> None:
        row = next((p for p in self.providers if p["id"] == provider_id), None)
        if row is None:
            return
        self.editing_id = provider_id
        self.form_kind = row["kind"]
        self.form_name = row["name"]
        self.form_api_base = row["api_base"]
        self.form_api_version = row["api_version"]
        self.form_models = row["models"]
        self.form_key_hint = row["key_hint"]
        self.error, self.field_errors = "", {}
        self.form_open = True

    @rx.event
    def set_form_open(self, is_open: bool) -> None:
        self.form_open = is_open
        if not is_open:
            self.error, self.field_errors = "", {}

    @rx.event
    def set_form_kind(self, kind: str) -> None:
        self.form_kind = kind

    @rx.event
    def save(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        self.error, self.field_errors = "", {}
        data = {
            "name": form_text(form, "provider_name", ""),
            "kind": self.form_kind,
            "api_key": form_text(form, "provider_api_key", ""),
            "api_base": form_text(form, "provider_api_base", "").strip(),
            "api_version": form_text(form, "provider_api_version", "").strip(),
            "models": _models(form_text(form, "provider_models", "")),
        }
        # Keep what was typed (but never the key) so a refused form is not emptied.
        self.form_name, self.form_api_base = data["name"], data["api_base"]
        self.form_api_version, self.form_models = (
            data["api_version"],
            form_text(form, "provider_models", ""),
        )
        try:
            provider_id = parse_id(self.editing_id, "Provider") if self.editing_id else None
            with self.acting() as (session, _u, actor):
                saved = provider_service.save_provider(
                    session, actor, data, provider_id=provider_id
                )
                name = saved.name
        except DomainError as exc:
            return self._fail(exc)
        self.form_open = False
        self._refresh()
        return rx.toast.success(f"Provider {name!r} saved.")

    # --- the org's private hosts -------------------------------------------------------------

    @rx.event
    def save_hosts(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        text = form_text(form, "private_hosts", "")
        self.hosts_text, self.hosts_error = text, ""
        entries = [e for line in text.splitlines() for e in line.split(",")]
        try:
            with self.acting() as (session, _u, actor):
                saved = private_hosts.set_private_hosts(session, actor, entries)
        except DomainError as exc:
            self.hosts_error = exc.message
            return rx.toast.error(exc.message)
        self.hosts_text = "\n".join(saved)
        return rx.toast.success("Private hosts saved.")

    # --- delete and connection test -----------------------------------------------------------

    @rx.event
    def delete(self, provider_id: str) -> rx.event.EventSpec | None:
        self.error = ""
        try:
            with self.acting() as (session, _u, actor):
                provider_service.delete_provider(session, actor, parse_id(provider_id, "Provider"))
        except DomainError as exc:
            return self._fail(exc)
        self._refresh()
        return rx.toast.success("Provider deleted.")

    @rx.event(background=True)
    async def test_connection(self, provider_id: str) -> rx.event.EventSpec | None:
        """Background: a ping may take 20 s, longer than a state lock may be held."""
        async with self:
            if self.checking_id:
                return
            self.checking_id = provider_id
            try:
                pid = parse_id(provider_id, "Provider")
                with self.acting() as (session, _u, actor):
                    target = provider_service.connection_target(session, actor, pid)
            except DomainError as exc:
                self.checking_id = ""
                self.error = exc.message
                return rx.toast.error(exc.message)
        error = await gateway.ping(target)
        async with self:
            self.checking_id = ""
            try:
                with self.acting() as (session, _u, actor):
                    provider_service.record_check(session, actor, pid, error=error)
                self._refresh()
            except DomainError as exc:
                self.error = exc.message
                return rx.toast.error(exc.message)
        if error:
            return rx.toast.error(f"Connection failed: {error}")
        return rx.toast.success(f"Connection OK ({target.ref}).")
