"""Playground: chat with an agent; tokens and steps stream in from the run's Redis channel.

The conversation as opened is `messages` (sent once); what is said after that lives in the
browser's live log (pages/live_log.jsx), which receives only what is new (state/live.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import reflex as rx

from agent_platform.db import session_scope
from agent_platform.models import Thread
from services import agents, runs
from services.errors import DomainError
from services.integrations import approvals
from services.money import format_money
from services.runtime.follow import batch_tokens, follow, step_event
from state import live
from state.base import SessionState, actor_from_token, form_text
from state.trace_text import readable

LIVE_ID = "chat-live"  # the live log's element id; its ref receives the operations
ANSWER_PREVIEW = 200  # characters of a model's answer the trace repeats


def trace_row(event: dict[str, Any]) -> dict[str, str]:
    """One line of the trace panel, flattened to strings for the browser."""
    if event.get("kind") == "tool":
        body = event.get("error") or readable(event.get("result"))
        return {
            "kind": "tool",
            "title": f"tool · {event.get('tool_name')}",
            "detail": f"{readable(event.get('arguments'))}\n→ {body}"[:2000],
            "tokens": "",
            "cost": "",
            "latency": f"{event.get('latency_ms') or 0} ms",
            "error": "yes" if event.get("error") else "",
            "attempts": "",
        }
    calls = ", ".join(c.get("name", "") for c in event.get("tool_calls") or [])
    text = event.get("text") or ""
    if len(text) > ANSWER_PREVIEW:  # the chat shows the answer; the trace row is re-sent whole
        text = text[:ANSWER_PREVIEW] + "…"
    return {
        "kind": "model",
        "title": f"model · {event.get('model') or '?'}",
        "detail": (f"calls {calls}" if calls else (text or event.get("error") or ""))[:600],
        "tokens": str(event.get("tokens") or 0),
        # a failed call has no cost; an unpriced one (cost None) is "unknown", not $0
        "cost": "" if event.get("error") else format_money(event.get("cost")),
        "latency": f"{event.get('latency_ms') or 0} ms",
        "error": "yes" if event.get("error") else "",
        "attempts": failed_attempts(event.get("attempts") or []),
    }


def failed_attempts(attempts: list[dict[str, Any]]) -> str:
    """Each failed try before the answer (or before giving up): model, why, time lost."""
    return "\n".join(
        f"✗ {a.get('model')}: {a.get('error')} ({a.get('lost_ms') or 0} ms lost)" for a in attempts
    )


def thread_row(thread: Thread) -> dict[str, str]:
    """A conversation in the list: its own title and when it last changed."""
    return {
        "id": str(thread.id),
        "title": thread.title,
        "updated": thread.updated_at.strftime("%Y-%m-%d %H:%M"),
    }


class PlaygroundState(SessionState):
    agent_id: str = ""
    agent_name: str = ""
    threads: list[dict[str, str]] = []
    thread_id: str = ""
    messages: list[dict[str, str]] = []  # the thread as opened
    started: bool = False  # something was said since (it is in the live log)
    trace: list[dict[str, str]] = []
    run_id: str = ""
    running: bool = False
    notice: str = ""
    error: str = ""
    totals: str = ""
    loaded: bool = False
    approval: dict[str, str] = {}  # an integration action waiting for the user's yes or no
    _live: list[dict[str, str]] = []  # the live log's entries, to resend if the browser lost one

    @rx.event
    def load(self) -> Any:
        params = self.router.url.query_parameters
        if not self._load_identity():
            return rx.redirect(f"/login?next=/playground?agent={params.get('agent', '')}")
        self.error, self.loaded = "", False
        try:
            agent_id = uuid.UUID(params.get("agent", ""))
            with self.acting() as (session, _u, actor):
                agent = agents.get_agent(session, actor, agent_id)
                self.agent_id, self.agent_name = str(agent.id), agent.name
                self.threads = [thread_row(t) for t in runs.list_threads(session, actor, agent.id)]
            self._open_thread(params.get("thread", ""))
        except (DomainError, ValueError) as exc:
            self.error = getattr(exc, "message", "Agent not found.")
        self.loaded = True
        return live.everything([], LIVE_ID)  # the log may still show another agent's chat

    def _open_thread(self, thread_id: str) -> None:
        self.messages, self.trace, self.notice, self.totals = [], [], "", ""
        self._live, self.started = [], False
        self.thread_id = thread_id
        if not thread_id:
            return
        with self.acting() as (session, _u, actor):
            history = runs.thread_runs(session, actor, uuid.UUID(thread_id))
            for run in history:
                self.messages.append(
                    {"role": "user", "text": run.input.get("message", ""), "run_id": str(run.id)}
                )
                answer = (run.output or {}).get("text") or run.error or f"({run.status.value})"
                self.messages.append(
                    {
                        "role": "assistant",
                        "text": answer,
                        "run_id": str(run.id),
                        "status": run.status.value,
                    }
                )
            if history:
                last = history[-1]
                self.run_id = str(last.id)
                self.trace = [
                    trace_row(step_event(s)) for s in runs.get_steps(session, actor, last.id)
                ]

    @rx.event
    def select_thread(self, thread_id: str) -> Any:
        try:
            self._open_thread(thread_id)
        except DomainError as exc:
            self.error = exc.message
        return live.everything([], LIVE_ID)

    @rx.event
    def new_thread(self) -> Any:
        self._open_thread("")
        return live.everything([], LIVE_ID)

    @rx.event
    def resync_live(self) -> Any:
        """The live log missed an operation (a reconnect, a remount): send it everything."""
        return live.everything(self._live, LIVE_ID)

    @rx.event
    def send(self, form: dict[str, str]) -> Any:
        message = form_text(form, "message", "").strip()
        if not message or self.running:
            return None
        self.error, self.notice = "", ""
        try:
            with self.acting() as (session, _u, actor):
                thread_id = uuid.UUID(self.thread_id) if self.thread_id else None
                run = runs.send_message(
                    session,
                    actor,
                    uuid.UUID(self.agent_id),
                    message=message,
                    thread_id=thread_id,
                    budget_usd=form_text(form, "budget_usd", "").strip() or None,
                )
                run_id, run_thread = str(run.id), str(run.thread_id)
                if run_thread != self.thread_id:  # a new conversation, titled by the service
                    listed = runs.list_threads(session, actor, uuid.UUID(self.agent_id))
                    self.threads = [thread_row(t) for t in listed]
        except DomainError as exc:
            self.error = exc.message
            return None
        self.thread_id = run_thread
        self.run_id = run_id
        self._live, said = live.add(self._live, LIVE_ID, "user", message)
        self._live, answer = live.add(self._live, LIVE_ID, "assistant")
        self.trace, self.totals, self.running, self.started = [], "", True, True
        # only a run that really started empties the message box; the budget stays as typed
        return [rx.set_value("chat-input", ""), said, answer, PlaygroundState.stream_run]

    @rx.event
    def cancel(self) -> rx.event.EventSpec | None:
        try:
            with self.acting() as (session, _u, actor):
                runs.cancel_run(session, actor, uuid.UUID(self.run_id))
        except (DomainError, ValueError) as exc:
            return rx.toast.error(getattr(exc, "message", "Cannot cancel."))
        return rx.toast.info("Cancelling…")

    @rx.event(background=True)
    async def stream_run(self) -> Any:
        """Follow the run: hold the state lock only for short writes, never while waiting;
        tokens go out in batches (services.runtime.follow.batch_tokens) as live-log pieces."""
        async with self:
            token, run_id, ip = self.auth_token, self.run_id, self._client_ip()
        try:
            actor = await asyncio.to_thread(actor_from_token, token, ip)
            events = batch_tokens(follow(session_scope, actor, uuid.UUID(run_id)))
            async with contextlib.aclosing(events):
                async for event in events:
                    async with self:
                        if self.run_id != run_id:
                            return
                        operation = self._apply(event)
                    if operation:
                        yield operation
        except DomainError as exc:
            async with self:
                self.error, self.running = exc.message, False

    def _apply(self, event: dict[str, Any]) -> Any:
        """Apply one run event to the state; the live-log operation(s) to send, if any."""
        kind = event["type"]
        operation = None
        if kind == "token":
            self._live, operation = live.append(self._live, LIVE_ID, event["text"])
        elif kind == "discard":
            self._live, operation = live.replace(self._live, LIVE_ID, "")
            self.notice = (
                f"{event['model']}: {event['reason']}. "
                "Partial answer discarded; the next model answers."
            )
        elif kind == "approval":
            self.approval = {
                "id": str(event["id"]),
                "action": str(event.get("action", "")),
                "connection": str(event.get("connection", "")),
            }
        elif kind == "step":
            self.approval = {}
            self.trace = [*self.trace, trace_row(event)]
            if event.get("kind") == "model" and (event.get("tool_calls") or event.get("error")):
                # what a model said before calling tools (or failing) is not the answer
                self._live, operation = live.replace(self._live, LIVE_ID, "")
        elif kind == "done":
            text = (event.get("output") or {}).get("text") or event.get("error") or event["status"]
            self._live, replaced = live.replace(self._live, LIVE_ID, text)
            self._live, ended = live.end(self._live, LIVE_ID, event["status"])
            operation = [o for o in (replaced, ended) if o is not None]
            cost = format_money(event.get("cost"), unpriced=bool(event.get("cost_unknown")))
            self.totals = f"{event.get('tokens', 0)} tokens · {cost}"
            self.running, self.approval = False, {}
        return operation

    @rx.event
    def decide(self, approve: bool) -> rx.event.EventSpec | None:
        """The person at the playground answers the agent's request to act."""
        approval_id = self.approval.get("id", "")
        try:
            with self.acting() as (session, _u, actor):
                approvals.decide(session, actor, uuid.UUID(approval_id), approve=approve)
        except (DomainError, ValueError) as exc:
            return rx.toast.error(getattr(exc, "message", "Cannot decide."))
        self.approval = {}
        return None
