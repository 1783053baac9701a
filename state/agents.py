"""Agents list and the agent editor (a form over the agent's config; the canvas comes later)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import reflex as rx

from agent_platform.models import AgentStatus
from services import agent_templates, agents, runs
from services.errors import DomainError
from services.integrations import connections as integration_connections
from services.integrations.providers import PROVIDERS
from services.memory import list_collections
from services.tools.registry import builtin_names
from state.base import SessionState, form_text

PAGE_SIZE = 20
SORTS = {"last_run": "Last run", "edited": "Last edit", "name": "Name"}
STATUSES = ["active", "draft", "published", "archived"]


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class AgentsState(SessionState):
    rows: list[dict[str, str]] = []
    total: int = 0
    page: int = 0
    search: str = ""
    status_filter: str = "active"
    sort: str = "edited"
    loaded: bool = False
    error: str = ""
    create_error: str = ""
    create_fields: dict[str, str] = {}
    create_open: bool = False
    template: str = agent_templates.BLANK
    templates: list[dict[str, str]] = [
        {"key": t.key, "name": t.name, "description": t.description, "icon": t.icon}
        for t in agent_templates.TEMPLATES.values()
    ]
    delete_id: str = ""
    delete_name: str = ""

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def filtered(self) -> bool:
        """Whether an empty list means "nothing matches" rather than "no agents yet"."""
        return self.search != "" or self.status_filter != "active"

    @rx.var
    def can_delete(self) -> bool:
        return self.role in ("owner", "admin")

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        if not self._load_identity():
            return rx.redirect("/login?next=/agents")
        self._refresh()
        self.loaded = True
        return None

    def _refresh(self) -> None:
        self.error = ""
        status = None if self.status_filter == "active" else AgentStatus(self.status_filter)
        try:
            with self.acting() as (session, _u, actor):
                found, self.total = agents.browse_agents(
                    session,
                    actor,
                    search=self.search,
                    status=status,
                    sort=self.sort,
                    offset=self.page * PAGE_SIZE,
                    limit=PAGE_SIZE,
                )
                self.rows = [
                    {
                        "id": str(row.agent.id),
                        "name": row.agent.name,
                        "description": row.agent.description,
                        "status": row.agent.status.value,
                        "model": row.agent.config.get("model", ""),
                        "updated": _when(row.agent.updated_at),
                        "last_run": _when(row.last_run_at) or "never",
                    }
                    for row in found
                ]
        except DomainError as exc:
            self.rows, self.total, self.error = [], 0, exc.message

    @rx.event
    def apply_search(self, form: dict[str, str]) -> None:
        self.search = form_text(form, "q", "").strip()
        self.page = 0
        self._refresh()

    @rx.event
    def set_status_filter(self, value: str) -> None:
        self.status_filter = value if value in STATUSES else "active"
        self.page = 0
        self._refresh()

    @rx.event
    def set_sort(self, value: str) -> None:
        self.sort = value if value in SORTS else "edited"
        self.page = 0
        self._refresh()

    @rx.event
    def clear_filters(self) -> None:
        self.search, self.status_filter, self.page = "", "active", 0
        self._refresh()

    @rx.event
    def move(self, delta: int) -> None:
        self.page = min(max(0, self.page + delta), self.pages - 1)
        self._refresh()

    @rx.event
    def set_create_open(self, value: bool) -> None:
        self.create_open = value
        self.create_error, self.create_fields = "", {}
        self.template = agent_templates.BLANK

    @rx.event
    def set_template(self, key: str) -> None:
        self.template = key if key in agent_templates.TEMPLATES else agent_templates.BLANK

    @rx.event
    def create(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        self.create_error, self.create_fields = "", {}
        try:
            with self.acting() as (session, _u, actor):
                agent = agent_templates.create_from_template(
                    session,
                    actor,
                    self.template,
                    name=form_text(form, "name", ""),
                    description=form_text(form, "description", ""),
                    model=form_text(form, "model", ""),
                    instructions=form_text(form, "instructions", ""),
                )
                agent_id = str(agent.id)
        except DomainError as exc:
            self.create_error, self.create_fields = exc.message, exc.fields
            return None
        self.create_open = False
        return rx.redirect(f"/agent?id={agent_id}")

    def _act(self, agent_id: str, action: Callable[..., object], done: str) -> rx.event.EventSpec:
        """Run one library action on one agent; the list then shows the result."""
        target = _uuid(agent_id)
        try:
            if target is None:
                raise DomainError("Agent not found.")
            with self.acting() as (session, _u, actor):
                action(session, actor, target)
        except DomainError as exc:
            return rx.toast.error(exc.message)
        self._refresh()
        if not self.rows and self.page > 0:  # the last row of the last page went away
            self.page -= 1
            self._refresh()
        return rx.toast.success(done)

    @rx.event
    def duplicate(self, agent_id: str) -> rx.event.EventSpec:
        return self._act(agent_id, agents.duplicate_agent, "Duplicated.")

    @rx.event
    def archive(self, agent_id: str) -> rx.event.EventSpec:
        return self._act(agent_id, agents.archive_agent, "Archived.")

    @rx.event
    def unarchive(self, agent_id: str) -> rx.event.EventSpec:
        return self._act(agent_id, agents.unarchive_agent, "Restored as a draft.")

    @rx.event
    def ask_delete(self, agent_id: str, name: str) -> None:
        self.delete_id, self.delete_name = agent_id, name

    @rx.event
    def set_delete_open(self, value: bool) -> None:
        if not value:
            self.delete_id, self.delete_name = "", ""

    @rx.event
    def confirm_delete(self) -> rx.event.EventSpec:
        agent_id, self.delete_id, self.delete_name = self.delete_id, "", ""
        return self._act(agent_id, agents.delete_agent, "Deleted; its runs are kept.")


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.replace("\n", ",").split(",") if v.strip()]


class AgentEditorState(SessionState):
    agent_id: str = ""
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
    problems: list[str] = []  # why it cannot be published (services.agents.publish_problems)
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
            agent = agents.get_agent(session, actor, agent_id)
            config = agents.current_config(agent)
            self.agent_id, self.name, self.description = (
                str(agent.id),
                agent.name,
                agent.description,
            )
            self.status = agent.status.value
            self.form = {
                "model": config.model,
                "fallback_models": ", ".join(config.fallback_models),
                "instructions": config.instructions,
                "temperature": str(config.temperature),
                "max_output_tokens": str(config.max_output_tokens),
                "max_steps": str(config.max_steps),
                "timeout_seconds": str(config.timeout_seconds),
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
                    "key": f"{row.id}|{action.name}",
                    "connection": row.name,
                    "action": action.name,
                    "description": action.description,
                    "side_effect": "yes" if action.side_effect else "",
                }
                for row in integration_connections.list_connections(session, actor)
                if row.provider in PROVIDERS
                for action in PROVIDERS[row.provider].actions
            ]
            others, _ = agents.list_agents(session, actor, limit=200)
            self.available_agents = [
                {"id": str(a.id), "name": a.name} for a in others if a.id != agent.id
            ]
            self.available_tools = [
                n for n in builtin_names() if n != "knowledge_search" or n in self.tools
            ]
            self.available_collections = [c.name for c in list_collections(session, actor)]
            history = agents.version_history(session, actor, agent_id)
            self.versions = [
                {
                    "version": str(v.version),
                    "created": _when(v.created_at),
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
            self.problems = agents.publish_problems(session, actor, agent_id)
            found, _ = runs.list_runs(
                session, actor, filters=runs.RunFilter(agent_id=agent_id), limit=5
            )
            self.recent_runs = [
                {
                    "id": str(r.id),
                    "status": r.status.value,
                    "when": r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                }
                for r, _name in found
            ]

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
            config = self._config_from(form)
            with self.acting() as (session, _u, actor):
                _agent, version = agents.update_agent(
                    session,
                    actor,
                    agent_id,
                    name=form_text(form, "name", self.name),
                    description=form_text(form, "description", self.description),
                    config=config,
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
                rows = agents.diff_versions(
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
            lambda s, a, i: agents.restore_version(s, a, i, number),
            f"Version {number} restored as the current version.",
        )

    @rx.event
    def publish(self) -> rx.event.EventSpec:
        return self._change(agents.publish_agent, "Published.")

    @rx.event
    def unpublish(self) -> rx.event.EventSpec:
        return self._change(agents.unpublish_agent, "Unpublished: back to draft.")


def _display(value: Any) -> str:
    """A diff cell: text as it is, everything else as JSON; empty when absent."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
