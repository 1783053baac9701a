"""`/health` says the process is alive; `/ready` says its dependencies answer."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from rq import Worker
from sqlalchemy import text

from agent_platform.db import get_engine
from agent_platform.redis_client import get_redis

router = APIRouter()
STARTED = time.time()


@router.get("/health")
def health() -> dict[str, object]:
    return {"status": "ok", "uptime_s": round(time.time() - STARTED, 1)}


def _check(fn) -> dict[str, object]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    try:
        detail = fn()
        ok = True
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        detail, ok = type(exc).__name__, False
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - start) * 1000, 1)}


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


@router.get("/ready")
def ready() -> JSONResponse:
    checks = {"database": _check(_database), "redis": _check(_redis), "workers": _check(_workers)}
    ok = all(c["ok"] for c in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "not_ready", "checks": checks}, 200 if ok else 503
    )
