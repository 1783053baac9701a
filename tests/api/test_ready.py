"""`/ready`: the scheduler and the reconciler count (by their last beat), and only the operator
sees which part failed."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from rq import Worker

from agent_platform.api import create_api
from agent_platform.db import session_scope
from agent_platform.redis_client import get_redis
from agent_platform.worker import RECONCILER_BEAT, SCHEDULER_BEAT, beat, queue
from services import api_keys
from tests.factories import make_user, personal_actor

LOCAL = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.9", 50000)


def _client(peer: tuple[str, int]) -> TestClient:
    return TestClient(create_api(), client=peer)


@pytest.fixture
def worker() -> Iterator[Worker]:
    registered = Worker([queue("default")], connection=get_redis())
    registered.register_birth()
    yield registered
    registered.register_death()


def test_ready_needs_workers_and_a_recent_scheduler_and_reconciler(worker: Worker) -> None:
    client = _client(LOCAL)
    response = client.get("/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] and checks["redis"]["ok"] and checks["workers"]["ok"]
    assert checks["scheduler"] == {
        **checks["scheduler"],
        "ok": False,
        "detail": "never ran (or Redis lost its beat)",
    }
    assert checks["reconciler"]["ok"] is False

    beat(SCHEDULER_BEAT)
    beat(RECONCILER_BEAT)
    response = client.get("/ready")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ready"

    get_redis().set(RECONCILER_BEAT, str(time.time() - 600))  # the reconciler stopped
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["reconciler"] == {
        **response.json()["checks"]["reconciler"],
        "ok": False,
        "detail": "last ran 600 s ago",
    }


def test_ready_without_workers_is_503() -> None:
    beat(SCHEDULER_BEAT)
    beat(RECONCILER_BEAT)
    response = _client(LOCAL).get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["workers"]["ok"] is False


def _key(role: str) -> str:
    with session_scope() as session:
        user = make_user(session)
        created = api_keys.create_key(session, personal_actor(session, user), name="ops", role=role)
        return created.secret


def test_ready_details_are_for_the_instance_admin_or_this_machine(worker: Worker) -> None:
    admin_key = _key("admin")  # the first user is the instance admin
    other_key = _key("admin")  # an org admin, not the instance's
    remote = _client(REMOTE)

    response = remote.get("/ready")
    assert response.status_code == 503 and response.json() == {"status": "not_ready"}
    response = remote.get("/ready", headers={"Authorization": f"Bearer {other_key}"})
    assert response.json() == {"status": "not_ready"}
    response = remote.get("/ready", headers={"Authorization": f"Bearer {admin_key}"})
    assert set(response.json()["checks"]) >= {"database", "redis", "scheduler", "reconciler"}

    local = _client(LOCAL)
    assert "checks" in local.get("/ready").json()
    # a proxy on this machine that is not trusted forwarded it: the client is unknown
    forwarded = local.get("/ready", headers={"X-Forwarded-For": "198.51.100.4"})
    assert forwarded.json() == {"status": "not_ready"}
