"""The agents list (library): search, filter, sort, page, create from a template, and the row
actions. The editor of one agent is `state.agent_editor`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import get_args

import reflex as rx

from agent_platform.models import AgentStatus
from services import agent_templates, agents
from services.access import Permission
from services.errors import DomainError
from state.base import SessionState, form_text
from state.model_picker import ModelPicker

PAGE_SIZE = 20
_SORT_LABELS = {"last_run": "Last run", "edited": "Last edit", "name": "Name"}
# The service's sorts and statuses, labelled ("active": every agent not archived); a sort the
# service adds without a label here fails at import, not in front of a user.
SORTS = {key: _SORT_LABELS[key] for key in get_args(agents.AgentSort)}
STATUSES = ["active", *(status.value for status in AgentStatus)]


def format_when(value: datetime | None) -> str:
    """Minutes are enough in the library and the editor's version list (shared with it)."""
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class AgentsState(ModelPicker, SessionState):
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
        return Permission.AGENTS_DELETE.value in self.permissions

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
                        "updated": format_when(row.agent.updated_at),
                        "last_run": format_when(row.last_run_at) or "never",
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
        if value:
            self.models_note = ""
            self._configured_models()

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
