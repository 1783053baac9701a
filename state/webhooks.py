"""The agent page's Triggers section: webhook triggers of one agent, their recent deliveries,
and the URL and signing secret shown once after creating or rotating.

Rules live in services.webhooks; this parses the form, calls it, and fills plain rows."""

from __future__ import annotations

import uuid
from typing import Any

import reflex as rx

from services import webhooks
from services.errors import DomainError
from state.base import SessionState, form_text, format_utc, parse_id


def _variables(text: str) -> dict[str, str]:
    """`name = payload.path` per line (or comma) into the mapping's variables."""
    pairs: dict[str, str] = {}
    for line in text.replace(",", "\n").splitlines():
        if not line.strip():
            continue
        name, sep, path = line.partition("=")
        if not sep:
            raise DomainError(
                f"Write each variable as name = payload.path (got {line.strip()!r}).",
                fields={"variables": "name = payload.path, one per line"},
            )
        pairs[name.strip()] = path.strip()
    return pairs


def _checked(form: dict[str, Any], key: str) -> bool:
    """A checkbox: Reflex sends a Radix checkbox with an id as true/false, a plain one "on"."""
    return form.get(key) in (True, "on", "true")


def _number(form: dict[str, Any], key: str, default: int) -> Any:
    """A number field; left empty it is the default (the service words a bad value)."""
    value = form_text(form, key).strip()
    if not value:
        return default
    return int(value) if value.isdigit() else value


class WebhooksState(SessionState):
    agent_id: str = ""
    triggers: list[dict[str, str]] = []
    deliveries: list[dict[str, str]] = []
    shown_url: str = ""  # shown once: after creating or rotating, until dismissed
    shown_secret: str = ""
    creating: bool = False
    error: str = ""
    field_errors: dict[str, str] = {}

    def _agent(self) -> uuid.UUID | None:
        try:
            return uuid.UUID(self.router.url.query_parameters.get("id", ""))
        except ValueError:
            return None

    @rx.event
    def load(self) -> None:
        self.shown_url = self.shown_secret = self.error = ""
        self.field_errors, self.creating = {}, False
        self.triggers, self.deliveries = [], []
        agent_id = self._agent()
        if agent_id is None:
            return
        self.agent_id = str(agent_id)
        try:
            self._fill(agent_id)
        except DomainError:
            # Signed out, or not this org's agent: the editor's own load says so (or
            # redirects); this section then stays empty rather than repeating it.
            return

    def _fill(self, agent_id: uuid.UUID) -> None:
        with self.acting() as (session, _u, actor):
            found = webhooks.list_webhooks(session, actor, agent_id=agent_id)
            self.triggers = [
                {
                    "id": str(t.id),
                    "name": t.name,
                    "hint": "…/hooks/…" + t.token_hint,
                    "enabled": "yes" if t.enabled else "",
                    "signed": "signed" if t.require_signature else "unsigned",
                    "limits": f"{t.rate_limit_per_minute}/min, waits ≤ {t.max_wait_seconds} s",
                    "last_called": format_utc(t.last_called_at) or "never",
                }
                for t in found
            ]
            rows = []
            for t in found:
                for run in webhooks.recent_deliveries(session, actor, t.id, limit=5):
                    rows.append((run.created_at, t.name, run))
            rows.sort(key=lambda r: r[0], reverse=True)
            self.deliveries = [
                {
                    "run_id": str(run.id),
                    "trigger": name,
                    "status": run.status.value,
                    "when": format_utc(run.created_at),
                }
                for _when, name, run in rows[:10]
            ]

    def _show(self, issued: webhooks.IssuedWebhook) -> None:
        self.shown_url = webhooks.hook_url(issued.token) if issued.token else ""
        self.shown_secret = issued.secret

    @rx.event
    def set_creating(self, on: bool) -> None:
        self.creating = bool(on)
        self.error, self.field_errors = "", {}

    @rx.event
    def create(self, form: dict[str, Any]) -> rx.event.EventSpec | None:
        self.error, self.field_errors = "", {}
        agent_id = self._agent()
        try:
            if agent_id is None:
                raise DomainError("Agent not found.")
            data = {
                "name": form_text(form, "trigger_name").strip(),
                "require_signature": _checked(form, "require_signature"),
                "input_mapping": {
                    "message": form_text(form, "message_mapping").strip(),
                    "variables": _variables(form_text(form, "variables")),
                },
                "rate_limit_per_minute": _number(form, "rate_limit_per_minute", 60),
                "max_wait_seconds": _number(form, "max_wait_seconds", 30),
            }
            with self.acting() as (session, _u, actor):
                issued = webhooks.create_webhook(session, actor, agent_id, data=data)
            self._fill(agent_id)
        except DomainError as exc:
            self.error = exc.message
            self.field_errors = {k.split(".")[-1]: v for k, v in exc.fields.items()}
            return None
        self._show(issued)
        self.creating = False
        return rx.toast.success("Trigger created. Copy its URL and secret now; shown only once.")

    def _change(self, trigger_id: str, action: Any, done: str) -> rx.event.EventSpec:
        agent_id = self._agent()
        try:
            key = parse_id(trigger_id, "Trigger")
            with self.acting() as (session, _u, actor):
                result = action(session, actor, key)
            if agent_id is not None:
                self._fill(agent_id)
        except DomainError as exc:
            return rx.toast.error(exc.message)
        if isinstance(result, webhooks.IssuedWebhook):
            self._show(result)
        return rx.toast.success(done)

    @rx.event
    def set_enabled(self, trigger_id: str, on: bool) -> rx.event.EventSpec:
        return self._change(
            trigger_id,
            lambda s, a, t: webhooks.update_webhook(s, a, t, data={"enabled": bool(on)}),
            "Trigger enabled." if on else "Trigger disabled: calls are refused.",
        )

    @rx.event
    def rotate(self, trigger_id: str) -> rx.event.EventSpec:
        return self._change(
            trigger_id,
            webhooks.rotate_webhook,
            "New URL and secret; the old ones no longer work. Copy them now.",
        )

    @rx.event
    def delete(self, trigger_id: str) -> rx.event.EventSpec:
        return self._change(trigger_id, webhooks.delete_webhook, "Trigger deleted.")

    @rx.event
    def forget_shown(self) -> None:
        self.shown_url = self.shown_secret = ""
