"""Schedules over REST: the same rules as the UI, through an organization API key."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from agent_platform.api import create_api
from agent_platform.db import session_scope
from agent_platform.models import Schedule
from services import agents, api_keys, schedule_tick
from tests.factories import make_user, personal_actor


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


def org_with_agent(role: str = "builder") -> tuple[dict[str, str], str, str]:
    """Headers of a key, the agent's id and the key creator's id."""
    with session_scope() as session:
        user = make_user(session)
        actor = personal_actor(session, user)
        agent = agents.create_agent(
            session, actor, name="Reporter", config={"model": "openai/gpt-4o"}
        )
        created = api_keys.create_key(session, actor, name="ci", role=role)
        return {"Authorization": f"Bearer {created.secret}"}, str(agent.id), str(user.id)


BODY = {
    "name": "Hourly",
    "kind": "cron",
    "cron": "0 * * * *",
    "timezone": "America/New_York",
    "message": "status",
}


def test_create_list_pause_resume_fire_history_delete(client: TestClient, session: Session) -> None:
    headers, agent_id, creator = org_with_agent()
    made = client.post(f"/api/v1/agents/{agent_id}/schedules", json=BODY, headers=headers)
    assert made.status_code == 201, made.text
    schedule = made.json()
    assert len(schedule["next_fire_times"]) == 5 and schedule["enabled"] is True
    row = session.get(Schedule, uuid.UUID(schedule["id"]))
    assert str(row.created_by_id) == creator  # runs as the key's creator

    listed = client.get("/api/v1/schedules", params={"search": "hour"}, headers=headers).json()
    assert listed["total"] == 1 and listed["items"][0]["agent_name"] == "Reporter"

    paused = client.post(f"/api/v1/schedules/{schedule['id']}/pause", headers=headers).json()
    assert (paused["enabled"], paused["next_fire_times"]) == (False, [])
    resumed = client.post(f"/api/v1/schedules/{schedule['id']}/resume", headers=headers).json()
    assert resumed["enabled"] is True

    with session_scope() as s:
        schedule_tick.tick(s, now=row.next_fire_at)
    fires = client.get(f"/api/v1/schedules/{schedule['id']}/fires", headers=headers).json()
    assert fires["total"] == 1 and fires["items"][0]["outcome"] == "started"
    assert fires["items"][0]["run_id"]

    changed = client.put(
        f"/api/v1/schedules/{schedule['id']}",
        json={**BODY, "kind": "interval", "interval_seconds": 3600},
        headers=headers,
    ).json()
    assert changed["kind"] == "interval" and changed["cron"] == ""

    gone = client.delete(f"/api/v1/schedules/{schedule['id']}", headers=headers)
    assert gone.status_code == 204
    again = client.get(f"/api/v1/schedules/{schedule['id']}", headers=headers)
    assert again.status_code == 404


def test_bad_schedule_is_a_422_in_words(client: TestClient) -> None:
    headers, agent_id, _ = org_with_agent()
    response = client.post(
        f"/api/v1/agents/{agent_id}/schedules", json={**BODY, "cron": "61 * * * *"}, headers=headers
    )
    assert response.status_code == 422
    assert "not a valid cron expression" in response.text


def test_another_orgs_schedule_is_404_and_a_viewer_key_403(client: TestClient) -> None:
    headers, agent_id, _ = org_with_agent()
    made = client.post(f"/api/v1/agents/{agent_id}/schedules", json=BODY, headers=headers).json()
    other, other_agent, _ = org_with_agent()
    for method, path in [
        ("get", f"/api/v1/schedules/{made['id']}"),
        ("post", f"/api/v1/schedules/{made['id']}/pause"),
        ("delete", f"/api/v1/schedules/{made['id']}"),
        ("get", f"/api/v1/schedules/{made['id']}/fires"),
        ("post", f"/api/v1/agents/{agent_id}/schedules"),
    ]:
        response = client.request(method, path, headers=other, json=BODY)
        assert response.status_code == 404, (path, response.text)
    viewer, viewer_agent, _ = org_with_agent(role="viewer")
    response = client.post(f"/api/v1/agents/{viewer_agent}/schedules", json=BODY, headers=viewer)
    assert response.status_code == 403
    assert client.get("/api/v1/schedules", headers=other).json()["total"] == 0
