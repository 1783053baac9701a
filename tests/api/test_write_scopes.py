"""A read-only key reads everywhere and changes nothing: schedules, test suites and webhook
triggers need the write scope (starting a suite run, the run scope), like agents and runs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from agent_platform.api import create_api
from agent_platform.models import Schedule, TestSuite, WebhookTrigger
from services import agents
from tests.api.live import key_headers
from tests.factories import make_user, personal_actor


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


def test_a_read_only_key_cannot_change_schedules_suites_or_triggers(
    client: TestClient, session: Session
) -> None:
    actor = personal_actor(session, make_user(session))
    agent = agents.create_agent(session, actor, name="Reader", config={"model": "openai/gpt-4o"})
    session.commit()
    reader = key_headers(session, actor, scopes=["read"])
    runner = key_headers(session, actor, scopes=["read", "run"])
    schedule = {"name": "Hourly", "kind": "cron", "cron": "0 * * * *", "message": "status"}
    refused = [
        client.post(f"/api/v1/agents/{agent.id}/schedules", json=schedule, headers=reader),
        client.post(f"/api/v1/agents/{agent.id}/suites", json={"name": "Smoke"}, headers=reader),
        client.post(f"/api/v1/agents/{agent.id}/suites", json={"name": "Smoke"}, headers=runner),
        client.post(f"/api/v1/agents/{agent.id}/webhooks", json={"name": "CI"}, headers=reader),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "write" in response.json()["detail"]
    for table in (Schedule, TestSuite, WebhookTrigger):
        assert session.exec(select(func.count()).select_from(table)).one() == 0
    # Reading still works with the same key.
    listed = client.get(f"/api/v1/agents/{agent.id}/suites", headers=reader)
    assert listed.status_code == 200 and listed.json() == []
    # A suite run needs the run scope, not write: refused for the reader in those words.
    run = client.post(f"/api/v1/agents/{agent.id}/tests/run", json={"suite": "x"}, headers=reader)
    assert run.status_code == 403 and "run" in run.json()["detail"]
