"""The agent editor: a form over the agent's config, its versions (compare, restore) and
publishing. The list of agents is `state.agents`; the canvas is `state.builder`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import reflex as rx

from services import agent_editor, agent_publishing, agent_versions, agents
from services.errors import DomainError
from state.agents import format_when
from state.base import SessionState, form_text


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.replace("\n", ",").split(",") if v.strip()]


class AgentEditorState(SessionState):
    agent_id: str = ""
    _based_on: str = ""  # the version this form was filled from (see agents.update_agent)
    name: str = ""
    description: str = ""
    status: str = ""
    form: dict[str, str] = {}
    tools: list[str] = []
    collections: list[str] = []
    available_tools: list[str] = []
    available_collections: list[str] = []
    agent_tools: list[str] = []
    grants: list[str] = []  # "<connection id>|<action>"
    grant_approvals: list[str] = []  # the grants that wait for a person's approval
    available_grants: list[dict[str, str]] = []
    available_agents: list[dict[str, str]] = []
    versions: list[dict[str, str]] = []
    version_numbers: list[str] = []
    current_version: str = ""
    problems: list[str] = []  # why it cannot be published (agent_publishing.publish_problems)
    diff_a: str = ""
    diff_b: str = ""
    diff_rows: list[dict[str, str]] = []
    diff_old: str = ""  # the two versions of the table on screen ("" = no table)
    diff_new: str = ""
    diff_changes_only: bool = False
    error: str = ""
    field_errors: dict[str, str] = {}
    not_found: bool = False
    loaded: bool = False
    recent_runs: list[dict[str, str]] = []

    def _id(self) -> uuid.UUID | None:
        try:
            return uuid.UUID(self.router.url.query_parameters.get("id", ""))
        except ValueError:
            return None

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        if not self._load_identity():
            return rx.redirect(
                f"/login?next=/agent?id={self.router.url.query_parameters.get('id', '')}"
            )
        self.loaded, self.not_found, self.error, self.field_errors = False, False, "", {}
        self.diff_a = self.diff_b = self.diff_old = self.diff_new = ""
        self.diff_rows = []
        agent_id = self._id()
        if agent_id is None:
            self.not_found, self.loaded = True, True
            return None
        try:
            self._fill(agent_id)
        except DomainError as exc:
            self.not_found = True
            self.error = exc.message
        self.loaded = True
        return None

    def _fill(self, agent_id: uuid.UUID) -> None:
        with self.acting() as (session, _u, actor):
            view = agent_editor.editor_view(session, actor, agent_id)
        self._show(view)

    def _show(self, view: agent_editor.EditorView) -> None:
        agent, config = view.agent, view.config
        self._based_on = str(agent.current_version_id or "")
        self.agent_id, self.name, self.description = str(agent.id), agent.name, agent.description
        self.status = agent.status.value
        self.form = {
            "model": config.model,
            "fallback_models": ", ".join(config.fallback_models),
            "instructions": config.instructions,
            "temperature": str(config.temperature),
            "max_output_tokens": str(config.max_output_tokens),
            "max_steps": str(config.max_steps),
            "timeout_seconds": str(config.timeout_seconds),
            "max_spend_per_run_usd": (
                "" if config.max_spend_per_run_usd is None else str(config.max_spend_per_run_usd)
            ),
            "conversation": "on" if config.memory.conversation else "off",
            "window": str(config.memory.window),
            "output_format": config.output.format,
            "json_schema": json.dumps(config.output.json_schema, indent=2)
            if config.output.json_schema
            else "",
        }
        self.tools = [t.name for t in config.tools if t.kind == "builtin"]
        self.collections = list(config.memory.collections)
        self.agent_tools = [t.name for t in config.tools if t.kind == "agent"]
        granted = [t for t in config.tools if t.kind == "integration"]
        self.grants = [f"{t.settings.get('connection')}|{t.name}" for t in granted]
        self.grant_approvals = [
            f"{t.settings.get('connection')}|{t.name}"
            for t in granted
            if t.settings.get("approval")
        ]
        self.available_grants = [
            {
                "key": f"{g.connection_id}|{g.action.name}",
                "connection": g.connection_name,
                "action": g.action.name,
                "description": g.action.description,
                "side_effect": "yes" if g.action.side_effect else "",
            }
            for g in view.grant_choices
        ]
        self.available_agents = [{"id": str(a.id), "name": a.name} for a in view.other_agents]
        self.available_tools = view.builtin_tools
        self.available_collections = view.collections
        self._show_versions(view.versions)
        self.problems = view.publish_problems
        self.recent_runs = [
            {
                "id": str(r.id),
                "status": r.status.value,
                "when": r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            }
            for r in view.recent_runs
        ]

    def _show_versions(self, history: list[agent_versions.VersionInfo]) -> None:
        self.versions = [
            {
                "version": str(v.version),
                "created": format_when(v.created_at),
                "author": v.author_name or v.author_email or "(deleted user)",
                "email": v.author_email,
                "model": v.model,
                "current": "yes" if v.current else "",
            }
            for v in history
        ]
        before, self.version_numbers = (
            self.version_numbers,
            [v["version"] for v in self.versions],
        )
        self.current_version = next((v["version"] for v in self.versions if v["current"]), "")
        # a new version (first load, save, restore) preselects "previous → newest"
        if before[:1] != self.version_numbers[:1] or not {self.diff_a, self.diff_b} <= set(
            self.version_numbers
        ):
            numbers = self.version_numbers
            self.diff_b = numbers[0] if numbers else ""
            self.diff_a = numbers[1] if len(numbers) > 1 else self.diff_b
            self.diff_rows, self.diff_old, self.diff_new = [], "", ""

    @rx.event
    def toggle_tool(self, name: str, on: bool) -> None:
        self.tools = [t for t in self.tools if t != name] + ([name] if on else [])

    @rx.event
    def toggle_agent_tool(self, agent_id: str, on: bool) -> None:
        self.agent_tools = [a for a in self.agent_tools if a != agent_id] + (
            [agent_id] if on else []
        )

    @rx.event
    def toggle_grant(self, key: str, on: bool) -> None:
        """Granting a side-effecting action asks for approval by default (safe default)."""
        self.grants = [g for g in self.grants if g != key] + ([key] if on else [])
        side_effect = any(g["key"] == key and g["side_effect"] for g in self.available_grants)
        others = [g for g in self.grant_approvals if g != key]
        self.grant_approvals = others + ([key] if on and side_effect else [])

    @rx.event
    def toggle_grant_approval(self, key: str, on: bool) -> None:
        others = [g for g in self.grant_approvals if g != key]
        self.grant_approvals = others + ([key] if on and key in self.grants else [])

    @rx.event
    def toggle_collection(self, name: str, on: bool) -> None:
        self.collections = [c for c in self.collections if c != name] + ([name] if on else [])

    def _config_from(self, form: dict[str, Any]) -> dict[str, Any]:
        schema_text = form_text(form, "json_schema", "").strip()
        try:
            schema = json.loads(schema_text) if schema_text else None
        except json.JSONDecodeError as exc:
            raise DomainError(
                f"The JSON schema is not valid JSON ({exc.msg}).", fields={"json_schema": exc.msg}
            ) from None

        def number(key: str) -> Any:
            value = form_text(form, key, "").strip()
            try:
                return float(value) if "." in value else int(value)
            except ValueError:
                return value

        return {
            "model": form_text(form, "model", "").strip(),
            "fallback_models": _split(form_text(form, "fallback_models", "")),
            "instructions": form_text(form, "instructions", ""),
            "temperature": number("temperature"),
            "max_output_tokens": number("max_output_tokens"),
            "max_steps": number("max_steps"),
            "timeout_seconds": number("timeout_seconds"),
            "max_spend_per_run_usd": form_text(form, "max_spend_per_run_usd", "").strip() or None,
            "tools": [{"kind": "builtin", "name": t} for t in self.tools]
            + [{"kind": "agent", "name": a} for a in self.agent_tools]
            + [
                {
                    "kind": "integration",
                    "name": key.partition("|")[2],
                    "settings": {
                        "connection": key.partition("|")[0],
                        "approval": key in self.grant_approvals,
                    },
                }
                for key in self.grants
            ],
            "memory": {
                "collections": self.collections,
                "conversation": form_text(form, "conversation", "on") == "on",
                "window": number("window"),
            },
            "output": {"format": form_text(form, "output_format", "text"), "json_schema": schema},
        }

    @rx.event
    def save(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        self.error, self.field_errors = "", {}
        agent_id = self._id()
        if agent_id is None:
            return None
        try:
            edited = self._config_from(form)
            with self.acting() as (session, _u, actor):
                # The form shows only some fields: what it does not show (the canvas layout,
                # top_p, the first-token timeout...) is kept from the current version.
                current = agents.current_config(agents.get_agent(session, actor, agent_id))
                config = {**current.model_dump(mode="json"), **edited}
                _agent, version = agents.update_agent(
                    session,
                    actor,
                    agent_id,
                    name=form_text(form, "name", self.name),
                    description=form_text(form, "description", self.description),
                    config=config,
                    based_on=uuid.UUID(self._based_on) if self._based_on else None,
                )
                saved = version.version if version else None
            self._fill(agent_id)
        except DomainError as exc:
            self.error = exc.message
            self.field_errors = {
                k.split(".")[-1] if k.startswith("output") else k.split(".")[0]: v
                for k, v in exc.fields.items()
            }
            return None
        return rx.toast.success(
            f"Saved as version {saved}." if saved else "Saved (configuration unchanged)."
        )

    @rx.event
    def set_diff_a(self, value: str) -> None:
        self.diff_a = value

    @rx.event
    def set_diff_b(self, value: str) -> None:
        self.diff_b = value

    @rx.event
    def set_diff_changes_only(self, on: bool) -> rx.event.EventSpec | None:
        self.diff_changes_only = bool(on)
        return self._compare() if self.diff_old else None

    @rx.event
    def compare(self) -> rx.event.EventSpec | None:
        return self._compare()

    def _compare(self) -> rx.event.EventSpec | None:
        agent_id = self._id()
        try:
            if agent_id is None or not (self.diff_a.isdigit() and self.diff_b.isdigit()):
                raise DomainError("Choose two versions to compare.")
            with self.acting() as (session, _u, actor):
                rows = agent_versions.diff_versions(
                    session,
                    actor,
                    agent_id,
                    int(self.diff_a),
                    int(self.diff_b),
                    include_same=not self.diff_changes_only,
                )
        except DomainError as exc:
            return rx.toast.error(exc.message)
        self.diff_rows = [
            {"path": r.path, "old": _display(r.old), "new": _display(r.new), "kind": r.kind}
            for r in rows
        ]
        self.diff_old, self.diff_new = self.diff_a, self.diff_b
        return None

    def _change(self, action: Callable[..., object], done: str) -> rx.event.EventSpec:
        """A change to the whole agent (restore, publish...), then the page shows it."""
        agent_id = self._id()
        self.error = ""
        try:
            if agent_id is None:
                raise DomainError("Agent not found.")
            with self.acting() as (session, _u, actor):
                action(session, actor, agent_id)
            self._fill(agent_id)
        except DomainError as exc:
            self.error = exc.message
            return rx.toast.error(exc.message)
        return rx.toast.success(done)

    @rx.event
    def restore(self, version: str) -> rx.event.EventSpec:
        if not version.isdigit():
            return rx.toast.error("Version not found.")
        number = int(version)
        return self._change(
            lambda s, a, i: agent_versions.restore_version(s, a, i, number),
            f"Version {number} restored as the current version.",
        )

    @rx.event
    def publish(self) -> rx.event.EventSpec:
        return self._change(agent_publishing.publish_agent, "Published.")

    @rx.event
    def unpublish(self) -> rx.event.EventSpec:
        return self._change(agent_publishing.unpublish_agent, "Unpublished: back to draft.")


def _display(value: Any) -> str:
    """A diff cell: text as it is, everything else as JSON; empty when absent."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
