"""The visual builder: the agent as a graph on a canvas, a side panel for the selected node,
save as a new version, and a test panel that runs the draft without leaving the page.

The canvas keeps its own nodes in the browser; this state holds the last graph it reported in
`_graph` (backend-only) and sends back only `details` (labels, problems) so a late answer can
never move a node. `graph` (the canvas seed) changes only on load, save and restore.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import uuid
from typing import Any

import reflex as rx
from pydantic import ValidationError

from agent_platform.db import session_scope
from services import agent_canvas, agent_graph, agent_versions, agents, runs
from services.agent_graph import Graph
from services.errors import DomainError
from services.integrations.providers import PROVIDERS
from services.runtime.follow import batch_tokens, follow
from state import live
from state.base import SessionState, actor_from_token, form_text
from state.model_picker import ModelPicker

TEST_OUTPUT_ID = "test-live"  # the test panel's live log (pages/live_log.jsx)

KIND_HELP = {
    "model": "The model that runs the agent, and the fallbacks tried in order when it fails.",
    "instructions": "The system prompt. {{variables}} are filled from the run's input.",
    "tool": "A built-in tool the model may call.",
    "knowledge": "A knowledge collection the agent searches (knowledge_search).",
    "agent": "Another agent this one can hand a task to.",
    "integration": "An action on a connection, run through the integration proxy.",
}


class BuilderState(ModelPicker, SessionState):
    agent_id: str = ""
    agent_name: str = ""
    version: str = ""
    loaded: bool = False
    error: str = ""
    graph: dict[str, Any] = {}
    graph_key: int = 0
    details: dict[str, dict[str, str]] = {}
    problem_list: list[str] = []
    palette: list[dict[str, Any]] = []
    connections: list[dict[str, str]] = []  # for integration nodes: {id, name, provider}
    selected: str = ""
    selected_kind: str = ""
    selected_title: str = ""
    selected_settings: dict[str, str] = {}
    dirty: bool = False
    saving: bool = False
    test_steps: list[str] = []
    test_running: bool = False
    test_run_id: str = ""
    _graph: dict[str, Any] = {}
    _test_output: list[dict[str, str]] = []  # the test panel's answer, sent as it grows
    _based_on: str = ""  # the version the canvas was drawn from (see agents.update_agent)

    def _id(self) -> uuid.UUID | None:
        try:
            return uuid.UUID(self.router.url.query_parameters.get("id", ""))
        except ValueError:
            return None

    @rx.event
    def load(self) -> Any:
        agent_id = self._id()
        if not self._load_identity():
            return rx.redirect(f"/login?next=/builder?id={agent_id or ''}")
        self.loaded, self.error, self.selected, self.dirty = False, "", "", False
        self.test_steps, self.test_run_id, self._test_output = [], "", []
        self.agent_id, self.agent_name, self.graph, self._graph = "", "", {}, {}
        self.details, self.problem_list, self.test_running = {}, [], False
        self.model_choices, self.models_note = [], ""
        try:
            if agent_id is None:
                raise DomainError("Agent not found.")
            self._draw(agent_id)
        except DomainError as exc:
            self.error = exc.message
        self.loaded = True
        return live.everything([], TEST_OUTPUT_ID)  # no answer of another agent's test

    def _draw(self, agent_id: uuid.UUID) -> None:
        with self.acting() as (session, _u, actor):
            agent = agents.get_agent(session, actor, agent_id)
            context = agent_graph.context_for(session, actor, agent_id)
            config = agents.current_config(agent)
            self._based_on = str(agent.current_version_id or "")
            self.agent_id, self.agent_name = str(agent.id), agent.name
            versions = agent_versions.list_versions(session, actor, agent_id)
            self.version = str(versions[0].version) if versions else ""
        graph = agent_graph.to_graph(config, context)
        self.graph = graph.model_dump(mode="json")
        self._graph = self.graph
        self.graph_key += 1
        self.connections = [
            {"id": cid, "name": name, "provider": provider}
            for cid, (name, provider) in context.connections.items()
        ]
        self.palette = _palette(context)
        self._check(context)

    def _current(self) -> Graph:
        """The graph as last reported, as plain data (state values are change-tracking
        proxies that pydantic cannot serialise)."""
        return Graph.model_validate(copy.deepcopy(self._graph or {}))

    def _context(self) -> agent_graph.Context:
        if not self.agent_id:
            raise DomainError("Agent not found.")
        targets = [n.name for n in self._current().nodes if n.kind == "agent"]
        with self.acting() as (session, _u, actor):
            return agent_graph.context_for(session, actor, uuid.UUID(self.agent_id), targets)

    def _check(self, context: agent_graph.Context | None = None) -> None:
        context = context or self._context()
        graph = self._current()
        found = agent_graph.problems(graph, context)
        details: dict[str, dict[str, str]] = {}
        for node in graph.nodes:
            entry = {"label": agent_graph.label_of(node, context)}
            if node.kind == "model":
                fallbacks = node.settings.get("fallback_models") or []
                entry["subtitle"] = str(node.settings.get("model", "")) + (
                    f" → {', '.join(fallbacks)}" if fallbacks else ""
                )
            elif node.kind == "instructions":
                entry["subtitle"] = str(node.settings.get("text", ""))[:80]
            elif node.kind == "integration" and node.settings.get("approval"):
                entry["subtitle"] = "asks a person first"
            if node.id in found:
                entry["problem"] = found[node.id]
            details[node.id] = entry
        self.details = details
        self.problem_list = [
            f"{details.get(k, {}).get('label', k)}: {v}" for k, v in sorted(found.items())
        ]
        self._refresh_panel()

    def _refresh_panel(self) -> None:
        """The side panel follows every check, not only a new selection: drawing the missing
        edge clears its "Not connected" at once instead of when the node is clicked again."""
        entry = self.details.get(self.selected, {}) if self.selected else {}
        if entry:
            self.selected_title = entry.get("label", self.selected_title)
            self.selected_settings = {
                **self.selected_settings,
                "problem": entry.get("problem", ""),
            }

    # --- canvas events ------------------------------------------------------------------------

    @rx.event
    def graph_changed(self, graph: dict[str, Any]) -> None:
        """The canvas owns positions and edges; settings edited in the side panel live here,
        so a node the server already knows keeps the server's settings."""
        try:
            parsed = Graph.model_validate(graph)
        except ValidationError:
            self.error = "The canvas sent a graph that cannot be read; reload the page."
            return
        known = {n.id: n for n in self._current().nodes}
        for node in parsed.nodes:
            if node.id in known:
                node.settings = known[node.id].settings
        self._graph = parsed.model_dump(mode="json")
        self.dirty = True
        if self.selected and parsed.node(self.selected) is None:
            self.selected = ""
        try:
            self._check()
        except DomainError as exc:
            self.error = exc.message

    @rx.event
    def select(self, node_id: str) -> None:
        self.selected = node_id
        node = self._current().node(node_id) if node_id else None
        if node is None:
            self.selected, self.selected_kind = "", ""
            return
        if node.kind == "model" and not self.model_choices:
            self._configured_models()
        self.selected_kind = node.kind
        self.selected_title = self.details.get(node_id, {}).get("label", node.label or node.name)
        settings = node.settings
        fallbacks = settings.get("fallback_models") or []
        self.selected_settings = {
            "model": str(settings.get("model", "")),
            "fallback_models": ", ".join(fallbacks) if isinstance(fallbacks, list) else "",
            "text": str(settings.get("text", "")),
            "connection": str(settings.get("connection", "")),
            "approval": "on" if settings.get("approval") else "",
            "help": KIND_HELP.get(node.kind, ""),
            "problem": self.details.get(node_id, {}).get("problem", ""),
        }

    def _update_selected(self, **changes: Any) -> None:
        graph = self._current()
        node = graph.node(self.selected)
        if node is None:
            return
        node.settings = {**node.settings, **changes}
        self._graph = graph.model_dump(mode="json")
        self.dirty = True
        try:
            self._check()
        except DomainError as exc:
            self.error = exc.message
        self.select(self.selected)

    @rx.event
    def set_model(self, form: dict[str, Any]) -> None:
        fallbacks = [
            f.strip() for f in form_text(form, "fallback_models", "").split(",") if f.strip()
        ]
        self._update_selected(model=form_text(form, "model", "").strip(), fallback_models=fallbacks)

    @rx.event
    def set_instructions(self, text: str) -> None:
        self._update_selected(text=text)

    @rx.event
    def set_connection(self, connection_id: str) -> None:
        self._update_selected(connection=connection_id)

    @rx.event
    def set_approval(self, on: bool) -> None:
        self._update_selected(approval=bool(on))

    # --- save and test ------------------------------------------------------------------------

    def _save(self) -> bool:
        if not self.agent_id:
            return False
        try:
            with self.acting() as (session, _u, actor):
                version = agent_canvas.save_canvas(
                    session,
                    actor,
                    uuid.UUID(self.agent_id),
                    self._current(),
                    based_on=uuid.UUID(self._based_on) if self._based_on else None,
                )
                if version is not None:
                    self.version = str(version.version)
                    self._based_on = str(version.id)
        except DomainError as exc:
            self.error = exc.message
            return False
        self.dirty, self.error = False, ""
        return True

    @rx.event
    def save(self) -> rx.event.EventSpec | None:
        if not self._save():
            return rx.toast.error(self.error)
        self.selected = ""  # ids of dropped actions change once they are saved
        try:
            self._draw(uuid.UUID(self.agent_id))
        except DomainError as exc:
            self.error = exc.message
        return rx.toast.success(f"Saved as version {self.version}.")

    @rx.event
    def run_test(self, form: dict[str, Any]) -> Any:
        message = form_text(form, "test_message", "").strip()
        if not message or self.test_running or not self.agent_id:
            return None
        if self.dirty and not self._save():  # the draft runs as what it is: a new version
            return rx.toast.error(self.error)
        try:
            with self.acting() as (session, _u, actor):
                run = runs.start_run(session, actor, uuid.UUID(self.agent_id), message=message)
                self.test_run_id = str(run.id)
        except DomainError as exc:
            self.error = exc.message
            return rx.toast.error(exc.message)
        self.test_steps, self.test_running = [], True
        self._test_output = live.add([], TEST_OUTPUT_ID, "assistant")[0]
        return [live.everything(self._test_output, TEST_OUTPUT_ID), BuilderState.follow_test]

    @rx.event
    def resync_test(self) -> Any:
        """The test panel missed a piece of the answer (a reconnect): send it all again."""
        return live.everything(self._test_output, TEST_OUTPUT_ID)

    @rx.event(background=True)
    async def follow_test(self) -> Any:
        """Follow the test run; the answer goes out in batched pieces (state/live.py)."""
        async with self:
            token, run_id, ip = self.auth_token, self.test_run_id, self._client_ip()
        try:
            actor = await asyncio.to_thread(actor_from_token, token, ip)
            events = batch_tokens(follow(session_scope, actor, uuid.UUID(run_id)))
            async with contextlib.aclosing(events):
                async for event in events:
                    async with self:
                        if self.test_run_id != run_id:
                            return
                        operation = self._apply_test(event)
                    if operation:
                        yield operation
        except DomainError as exc:
            async with self:
                self.error = exc.message
        finally:
            async with self:
                if self.test_run_id == run_id and self.test_running:
                    self.test_running = False

    def _apply_test(self, event: dict[str, Any]) -> Any:
        kind, out, operation = event["type"], self._test_output, None
        if kind == "token":
            self._test_output, operation = live.append(out, TEST_OUTPUT_ID, event["text"])
        elif kind == "discard":
            self._test_output, operation = live.replace(out, TEST_OUTPUT_ID, "")
        elif kind == "step" and event.get("kind") == "tool":
            mark = "✗" if event.get("error") else "✓"
            self.test_steps = [*self.test_steps, f"{mark} {event.get('tool_name')}"]
        elif kind == "step" and (event.get("tool_calls") or event.get("error")):
            self._test_output, operation = live.replace(out, TEST_OUTPUT_ID, "")
        elif kind == "done":
            text = (event.get("output") or {}).get("text") or event.get("error") or event["status"]
            self._test_output, replaced = live.replace(out, TEST_OUTPUT_ID, text)
            self._test_output, ended = live.end(self._test_output, TEST_OUTPUT_ID, event["status"])
            operation = [o for o in (replaced, ended) if o is not None]
            self.test_running = False
        return operation


def _palette(context: agent_graph.Context) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {"kind": "tool", "name": name, "label": name, "group": "Tools"}
        for name in sorted(context.builtins)
        if name != "knowledge_search"
    ]
    items += [
        {"kind": "knowledge", "name": name, "label": name, "group": "Knowledge"}
        for name in sorted(context.collections)
    ]
    if context.connections:
        providers = {provider for _name, provider in context.connections.values()}
        items += [
            {
                "kind": "integration",
                "name": action.name,
                "label": action.name,
                "group": "Integrations",
                "settings": {"connection": "", "approval": action.side_effect},
            }
            for key in sorted(providers)
            if key in PROVIDERS
            for action in PROVIDERS[key].actions
        ]
    items += [
        {"kind": "agent", "name": agent_id, "label": name, "group": "Agents"}
        for agent_id, name in sorted(context.agents.items(), key=lambda kv: kv[1])
        if agent_id != context.agent_id
    ]
    return items
