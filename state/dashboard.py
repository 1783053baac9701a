"""The dashboard (organization, or one agent with `?agent=<id>`), kept live while it is open.

Why a background loop that mostly asks a marker: figures are recomputed only when a run
started or changed state (services.dashboard.change_marker, two index probes) or once a
minute (old runs leave the window), and the pause between polls grows with what a refresh
costs, so an open dashboard spends at most about a tenth of its time in the database.
The loop ends when the page unmounts (`leave`), when another loop replaces it (range
change), when the browser disconnects, or after LIVE_CAP (the page then offers Resume).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import reflex as rx

from agent_platform.db import session_scope
from agent_platform.models import ExecutionStatus
from services import dashboard
from services.dashboard import DashboardData, Usage
from services.errors import DomainError
from services.money import format_money
from state.base import SessionState, actor_from_token

logger = logging.getLogger(__name__)

POLL_SECONDS = 3.0
FULL_REFRESH_SECONDS = 60.0
COST_SHARE = 10  # wait at least 10× what the last refresh took
LIVE_CAP_SECONDS = 2 * 3600
# Every run status, in the order the chart stacks them (outcomes first).
STATUSES = [
    status.value
    for status in (
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.TIMED_OUT,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.RUNNING,
        ExecutionStatus.QUEUED,
    )
]


@dataclass(frozen=True)
class Fetched:
    marker: str
    data: DashboardData | None  # None: nothing changed since `marker`
    seconds: float


def fetch(
    token: str,
    client_ip: str | None,
    *,
    range_key: str,
    agent_id: str,
    marker: str = "",
    force: bool = True,
) -> Fetched:
    """The figures, unless `marker` says nothing changed. Blocking: run it off the event loop."""
    started = time.monotonic()
    actor = actor_from_token(token, client_ip)
    agent = uuid.UUID(agent_id) if agent_id else None
    with session_scope() as session:
        now = repr(dashboard.change_marker(session, actor, agent_id=agent))
        data = None
        if force or now != marker:
            data = dashboard.summary(session, actor, range_key=range_key, agent_id=agent)
    return Fetched(now, data, time.monotonic() - started)


class DashboardState(SessionState):
    range_key: str = "7d"
    agent_id: str = ""
    agent_name: str = ""
    loaded: bool = False
    error: str = ""
    live: bool = False
    paused: bool = False
    updated_at: str = ""
    total_runs: int = 0
    stats: dict[str, str] = {}
    chart: list[dict[str, Any]] = []
    by_model: list[dict[str, str]] = []
    by_provider: list[dict[str, str]] = []
    top_runs: list[dict[str, str]] = []
    top_cost: list[dict[str, str]] = []
    failures: list[dict[str, str]] = []
    _generation: int = 0
    _marker: str = ""

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        agent = self.router.url.query_parameters.get("agent", "")
        if not self._load_identity():
            back = (self.router.url.path or "/") + (f"?agent={agent}" if agent else "")
            return rx.redirect(f"/login?next={quote(back, safe='/')}")
        self._generation += 1  # a loop of an earlier visit stops
        self.agent_id, self.agent_name, self.error, self.loaded = agent, "", "", False
        self._marker = ""
        return DashboardState.follow

    @rx.event
    def set_range(self, value: str | list[str]) -> rx.event.EventSpec | None:
        if not isinstance(value, str) or value not in dashboard.RANGE_KEYS:
            return None
        if value == self.range_key:
            return None
        self._generation += 1  # the running loop must not show the old range any more
        self.range_key, self.loaded = value, False
        return DashboardState.follow

    @rx.event
    def leave(self) -> None:
        """on_unmount of the page: the loop sees the new generation and ends."""
        self._generation += 1
        self.live = False

    @rx.event
    def resume(self) -> rx.event.EventSpec:
        return DashboardState.follow

    @rx.event(background=True)
    async def follow(self) -> None:
        async with self:
            self._generation += 1
            generation, token, ip = self._generation, self.auth_token, self._client_ip()
            client = self.router.session.client_token
            self.live, self.paused = True, False
        started = last_full = time.monotonic()
        force, pause = True, 0.0
        while True:
            await asyncio.sleep(pause)
            gone = time.monotonic() - started > LIVE_CAP_SECONDS or not await _connected(client)
            async with self:
                if self._generation != generation:
                    return
                if gone:
                    self.live, self.paused = False, True
                    return
                range_key, agent_id, marker = self.range_key, self.agent_id, self._marker
            force = force or time.monotonic() - last_full > FULL_REFRESH_SECONDS
            try:
                got = await asyncio.to_thread(
                    fetch,
                    token,
                    ip,
                    range_key=range_key,
                    agent_id=agent_id,
                    marker=marker,
                    force=force,
                )
            except (DomainError, ValueError) as exc:  # signed out, or no such agent here
                async with self:
                    if self._generation == generation:
                        self.error = getattr(exc, "message", "Agent not found.")
                        self.loaded, self.live, self.total_runs = True, False, 0
                return
            except Exception:  # noqa: BLE001 - a database hiccup must not end live updates
                logger.exception("dashboard refresh failed; retrying")
                async with self:
                    if self._generation == generation:
                        self.error = "The figures could not be refreshed; retrying."
                pause = FULL_REFRESH_SECONDS / 2
                continue
            async with self:
                if self._generation != generation:
                    return
                self._marker = got.marker
                if got.data is not None:
                    self._show(got.data)
            if got.data is not None:
                force, last_full = False, time.monotonic()
            pause = max(POLL_SECONDS, got.seconds * COST_SHARE)

    def _show(self, data: DashboardData) -> None:
        """Format once on the server: the browser gets short strings and small lists."""
        self.agent_name = data.agent_name
        self.total_runs = data.total_runs
        self.loaded, self.error = True, ""
        self.updated_at = time.strftime("%H:%M:%S UTC", time.gmtime())
        rate = data.success_rate
        self.stats = {
            "runs": f"{data.total_runs:,}",
            "success": f"{rate * 100:.1f} %" if rate is not None else "—",
            "p50": _ms(data.latency.p50),
            "p95": _ms(data.latency.p95),
            "p99": _ms(data.latency.p99),
            "tokens": f"{data.tokens:,}",
            "cost": format_money(data.cost, unpriced=data.unpriced_calls > 0),
        }
        hourly = data.bucket_seconds < 86400
        self.chart = [
            {"label": b.start.strftime("%H:%M" if hourly else "%b %d"), **b.counts}
            for b in data.buckets
        ]
        self.by_model = [_usage(u) for u in data.by_model]
        self.by_provider = [_usage(u) for u in data.by_provider]
        self.top_runs = [_agent(a) for a in data.top_by_runs]
        self.top_cost = [_agent(a) for a in data.top_by_cost]
        self.failures = [
            {
                "id": str(f.run_id),
                "agent": f.agent_name,
                "status": f.status.value,
                "error": f.error or "(no error message)",
                "when": f.created_at.strftime("%b %d %H:%M UTC"),
            }
            for f in data.failures
        ]


async def _connected(client_token: str) -> bool:
    """Whether the browser tab still has a websocket (on any app worker).

    Reflex offers no public call for this; its own shared-state code asks the token manager
    the same way. If the question cannot be asked, say yes: LIVE_CAP_SECONDS still ends the
    loop.
    """
    try:
        from reflex_base.registry import RegistrationContext

        namespace = RegistrationContext.get().app.event_namespace
        if namespace is None or not client_token:
            return True
        return bool(await namespace._token_manager.is_token_connected(client_token))
    except Exception:  # noqa: BLE001 - see docstring
        return True


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _usage(u: Usage) -> dict[str, str]:
    return {
        "name": u.name,
        "calls": f"{u.calls:,}" + (f" ({u.failed:,} failed)" if u.failed else ""),
        "tokens": f"{u.tokens:,}",
        "cost": format_money(u.cost, unpriced=u.unpriced > 0),
    }


def _agent(a: dashboard.AgentFigures) -> dict[str, str]:
    return {
        "id": str(a.agent_id or ""),
        "name": a.name,
        "runs": f"{a.runs:,}",
        "cost": format_money(a.cost),
    }
