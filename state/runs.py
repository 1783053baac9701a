"""Runs list (filters, paging) and a run's page (its whole trace, live while it runs)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import reflex as rx

from agent_platform.db import session_scope
from agent_platform.models import ExecutionStatus
from agent_platform.models.base import utcnow
from services import agent_versions, agents, run_costs, runs
from services.errors import DomainError
from services.integrations import approvals
from services.money import format_money
from services.runtime.follow import follow, step_event
from services.testing import runner
from state.base import SessionState, actor_from_token
from state.playground import trace_row

PAGE_SIZE = 25
STATUS_CHOICES = ["all", *(status.value for status in ExecutionStatus)]
RANGES = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}


def _run_ref(value: object) -> str:
    """A run id from a run's input (a replay names its original there), or "" if not one."""
    try:
        return str(uuid.UUID(str(value))) if value else ""
    except ValueError:
        return ""


class RunsState(SessionState):
    rows: list[dict[str, str]] = []
    total: int = 0
    page: int = 0
    agent_filter: str = "all"
    status_filter: str = "all"
    range_filter: str = "7d"
    agent_options: list[dict[str, str]] = []
    error: str = ""

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        if not self._load_identity():
            return rx.redirect("/login?next=/runs")
        self._refresh()
        return None

    def _refresh(self) -> None:
        self.error = ""
        span = RANGES.get(self.range_filter)
        try:
            filters = runs.RunFilter(
                agent_id=uuid.UUID(self.agent_filter) if self.agent_filter != "all" else None,
                status=ExecutionStatus(self.status_filter) if self.status_filter != "all" else None,
                since=utcnow() - span if span else None,
            )
            with self.acting() as (session, _u, actor):
                found, self.total = runs.list_runs(
                    session, actor, filters=filters, offset=self.page * PAGE_SIZE, limit=PAGE_SIZE
                )
                unpriced = run_costs.unpriced_runs(session, actor, [r.id for r, _ in found])
                self.rows = [
                    {
                        "id": str(r.id),
                        "agent": name or "(deleted agent)",
                        "status": r.status.value,
                        "when": r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                        "latency": f"{r.latency_ms} ms" if r.latency_ms is not None else "",
                        "tokens": str(r.tokens_used),
                        "cost": format_money(r.cost, unpriced=r.id in unpriced),
                        "input": (r.input.get("message") or "")[:80],
                    }
                    for r, name in found
                ]
                listed, _ = agents.list_agents(session, actor, limit=200)
                self.agent_options = [{"id": str(a.id), "name": a.name} for a in listed]
        except (DomainError, ValueError) as exc:
            self.error = getattr(exc, "message", "Invalid filter.")

    @rx.event
    def set_filter(self, name: str, value: str) -> None:
        if name in ("agent_filter", "status_filter", "range_filter"):
            setattr(self, name, value)
        self.page = 0
        self._refresh()

    @rx.event
    def move(self, delta: int) -> None:
        self.page = min(max(0, self.page + delta), self.pages - 1)
        self._refresh()


class RunDetailState(SessionState):
    run: dict[str, str] = {}
    steps: list[dict[str, str]] = []
    streaming_text: str = ""
    live: bool = False
    error: str = ""
    loaded: bool = False
    approvals: list[dict[str, str]] = []  # integration actions waiting for a person

    def _id(self) -> str:
        return self.router.url.query_parameters.get("id", "")

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        if not self._load_identity():
            return rx.redirect(f"/login?next=/run?id={self._id()}")
        self.error, self.loaded, self.steps, self.streaming_text = "", False, [], ""
        try:
            self._fill(uuid.UUID(self._id()))
        except (DomainError, ValueError) as exc:
            self.error = getattr(exc, "message", "Run not found.")
            self.run = {}
        self.loaded = True
        if self.run and self.run["status"] in runs.ACTIVE:
            self.live = True
            return RunDetailState.follow_live
        return None

    def _fill(self, run_id: uuid.UUID) -> None:
        with self.acting() as (session, _u, actor):
            r = runs.get_run(session, actor, run_id)
            agent_name = ""
            if r.agent_id:
                try:
                    agent_name = agents.get_agent(session, actor, r.agent_id).name
                except DomainError:
                    agent_name = "(deleted agent)"
            self.run = {
                "id": str(r.id),
                "agent": agent_name,
                "agent_id": str(r.agent_id or ""),
                "status": r.status.value,
                "input": r.input.get("message", ""),
                "output": (r.output or {}).get("text", ""),
                "error": r.error or "",
                "tokens": str(r.tokens_used),
                "cost": format_money(
                    r.cost, unpriced=r.id in run_costs.unpriced_runs(session, actor, [r.id])
                ),
                "latency": f"{r.latency_ms} ms" if r.latency_ms is not None else "",
                "created": r.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                "version": str(
                    agent_versions.version_number(session, actor, r.agent_version_id) or ""
                ),
                "replay_of": _run_ref(r.input.get("replay_of")),
                "suite_run": "",
            }
            if r.test_run_id is not None:  # a run of a test suite: say so, link its results
                suite_run = runner.get_suite_run(session, actor, r.test_run_id)
                self.run["suite_run"] = f"/tests?suite={suite_run.suite_id}&run={suite_run.id}"
            self.steps = [trace_row(step_event(s)) for s in runs.get_steps(session, actor, run_id)]
            self.approvals = [
                {
                    "id": str(a.id),
                    "action": a.action,
                    "arguments": json.dumps(a.arguments, indent=2)[:2000],
                }
                for a in approvals.pending(session, actor, run_id=run_id)
            ]

    @rx.event
    def decide(self, approval_id: str, approve: bool) -> rx.event.EventSpec | None:
        try:
            with self.acting() as (session, _u, actor):
                approvals.decide(session, actor, uuid.UUID(approval_id), approve=approve)
            self._fill(uuid.UUID(self._id()))
        except (DomainError, ValueError) as exc:
            return rx.toast.error(getattr(exc, "message", "Cannot decide."))
        return rx.toast.success("Approved." if approve else "Declined.")

    @rx.event
    def cancel(self) -> rx.event.EventSpec | None:
        try:
            with self.acting() as (session, _u, actor):
                runs.cancel_run(session, actor, uuid.UUID(self._id()))
        except (DomainError, ValueError) as exc:
            return rx.toast.error(getattr(exc, "message", "Cannot cancel."))
        return rx.toast.info("Cancelling…")

    @rx.event
    def replay(self) -> rx.event.EventSpec | None:
        try:
            with self.acting() as (session, _u, actor):
                new_id = str(runs.replay(session, actor, uuid.UUID(self._id())).id)
        except (DomainError, ValueError) as exc:
            return rx.toast.error(getattr(exc, "message", "Cannot replay."))
        return rx.redirect(f"/run?id={new_id}")

    @rx.event(background=True)
    async def follow_live(self) -> None:
        async with self:
            token, run_id, ip = self.auth_token, self.run.get("id", ""), self._client_ip()
            self.steps = []
        try:
            actor = await asyncio.to_thread(actor_from_token, token, ip)
            async for event in follow(session_scope, actor, uuid.UUID(run_id)):
                async with self:
                    if event["type"] == "token":
                        self.streaming_text += event["text"]
                    elif event["type"] == "discard":
                        self.streaming_text = ""
                    elif event["type"] == "step":
                        self.steps = [*self.steps, trace_row(event)]
                        self.streaming_text = ""
                    elif event["type"] == "approval":
                        await asyncio.to_thread(self._fill, uuid.UUID(run_id))
                    elif event["type"] == "done":
                        await asyncio.to_thread(self._fill, uuid.UUID(run_id))
                        self.live, self.streaming_text = False, ""
        except DomainError as exc:
            async with self:
                self.error, self.live = exc.message, False
