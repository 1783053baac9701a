"""`/health` says the process is alive; `/ready` says its dependencies answer.

`/ready` also reports the scheduler and the reconciler by their last beat and fails when one
is stale: after a Redis crash the reconciler used to be gone for good while `/ready` said 200.
Its details (which part failed, versions, counts) are for the operator only — the instance
admin's API key or a request from this machine that no proxy forwarded; anyone else gets the
status alone.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from rq import Worker
from sqlalchemy import text

from agent_platform.client_address import request_address
from agent_platform.db import get_engine, session_scope
from agent_platform.redis_client import get_redis
from agent_platform.worker import (
    RECONCILE_EVERY_SECONDS,
    RECONCILER_BEAT,
    SCHEDULER_BEAT,
    last_beat,
)
from services import instance_admin
from services.errors import DomainError

router = APIRouter()
STARTED = time.time()
# A beat older than this means the part stopped (or Redis lost its jobs and nobody noticed).
SCHEDULER_STALE_SECONDS = 30.0
RECONCILER_STALE_SECONDS = 4.0 * RECONCILE_EVERY_SECONDS
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


@router.get("/health")
def health() -> dict[str, object]:
    return {"status": "ok", "uptime_s": round(time.time() - STARTED, 1)}


def _check(fn: Callable[[], str]) -> dict[str, object]:
    start = time.perf_counter()
    try:
        detail = fn()
        ok = True
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        detail, ok = str(exc) if isinstance(exc, Stale) else type(exc).__name__, False
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - start) * 1000, 1)}


class Stale(RuntimeError):
    """A periodic part has not beaten recently enough."""


def _database() -> str:
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))
    return get_engine().dialect.name


def _redis() -> str:
    get_redis().ping()
    return "ping"


def _workers() -> str:
    count = len(Worker.all(connection=get_redis()))
    if count == 0:
        raise RuntimeError("no workers")
    return f"{count} workers"


def _beat(key: str, stale_after: float) -> Callable[[], str]:
    def check() -> str:
        beat = last_beat(key)
        if beat is None:
            raise Stale("never ran (or Redis lost its beat)")
        age = time.time() - beat
        if age > stale_after:
            raise Stale(f"last ran {age:.0f} s ago")
        return f"last ran {age:.0f} s ago"

    return check


def _may_see_details(request: Request, authorization: str | None) -> bool:
    """The instance admin (an admin-role API key of theirs) or this machine, unforwarded."""
    if authorization:
        secret = authorization.removeprefix("Bearer ").strip()
        try:
            with session_scope() as session:
                instance_admin.admin_for_key(session, secret)
            return True
        except DomainError:
            return False
    peer = request.client.host if request.client else None
    address = request_address(request)
    try:
        loopback = address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
    # A proxy on this machine that we do not trust forwarded it: the client is unknown.
    untrusted_hop = address == peer and any(h in request.headers for h in FORWARDING_HEADERS)
    return loopback and not untrusted_hop


@router.get(
    "/ready",
    responses={503: {"description": "A dependency does not answer: status not_ready"}},
)
def ready(request: Request, authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
    checks = {
        "database": _check(_database),
        "redis": _check(_redis),
        "workers": _check(_workers),
        "scheduler": _check(_beat(SCHEDULER_BEAT, SCHEDULER_STALE_SECONDS)),
        "reconciler": _check(_beat(RECONCILER_BEAT, RECONCILER_STALE_SECONDS)),
    }
    ok = all(c["ok"] for c in checks.values())
    body: dict[str, object] = {"status": "ready" if ok else "not_ready"}
    if _may_see_details(request, authorization):
        body["checks"] = checks
    return JSONResponse(body, 200 if ok else 503)
