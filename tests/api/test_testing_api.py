"""Test suites over REST: the same rules as the UI and the CLI, through an organization API key."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from agent_platform.api import create_api
from agent_platform.db import session_scope
from services import agents, api_keys
from tests.factories import make_user, personal_actor

YAML = """\
description: Smoke
tests:
  - description: Greets
    vars: {message: hello}
    assert:
      - type: icontains
        value: hello
"""


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


def org_with_agent(role: str = "builder") -> tuple[dict[str, str], str]:
    with session_scope() as session:
        actor = personal_actor(session, make_user(session))
        agent = agents.create_agent(session, actor, name="Greeter", config={"model": "x/y"})
        created = api_keys.create_key(session, actor, name="ci", role=role)
        return {"Authorization": f"Bearer {created.secret}"}, str(agent.id)


def test_import_export_cases_run_and_status(client: TestClient) -> None:
    headers, agent_id = org_with_agent()
    imported = client.post(
        f"/api/v1/agents/{agent_id}/suites/import",
        content=YAML,
        headers={**headers, "Content-Type": "application/yaml"},
    )
    assert imported.status_code == 201, imported.text
    suite = imported.json()
    assert suite["name"] == "Smoke"
    exported = client.get(f"/api/v1/suites/{suite['id']}/export", headers=headers)
    assert exported.headers["content-type"].startswith("application/yaml")
    assert "description: Greets" in exported.text and "icontains" in exported.text

    case = client.post(
        f"/api/v1/suites/{suite['id']}/cases",
        json={
            "name": "Farewell",
            "message": "bye",
            "assertions": [{"type": "contains", "value": "bye"}],
        },
        headers=headers,
    )
    assert case.status_code == 201, case.text
    cases = client.get(f"/api/v1/suites/{suite['id']}/cases", headers=headers).json()
    assert [c["name"] for c in cases] == ["Greets", "Farewell"]

    bad = client.post(
        f"/api/v1/suites/{suite['id']}/cases",
        json={"name": "x", "message": "m", "assertions": [{"type": "javascript", "value": "1"}]},
        headers=headers,
    )
    assert bad.status_code == 422
    assert "unknown assertion type “javascript”" in bad.json()["detail"]

    started = client.post(
        f"/api/v1/agents/{agent_id}/tests/run",
        json={"suite": "Smoke", "repeat": 2},
        headers=headers,
    )
    assert started.status_code == 202, started.text
    run = started.json()
    assert (run["status"], run["total_runs"], run["trigger"]) == ("running", 4, "api")
    status = client.get(f"/api/v1/tests/runs/{run['id']}", headers=headers).json()
    assert len(status["results"]) == 4 and all(r["passed"] is None for r in status["results"])
    cancelled = client.post(f"/api/v1/tests/runs/{run['id']}/cancel", headers=headers).json()
    assert cancelled["status"] == "cancelled" and cancelled["finished_runs"] == 4


def test_another_org_sees_404_and_a_viewer_cannot_write(client: TestClient) -> None:
    headers, agent_id = org_with_agent()
    suite = client.post(
        f"/api/v1/agents/{agent_id}/suites", json={"name": "Mine"}, headers=headers
    ).json()
    other, _ = org_with_agent()
    for method, path in (
        ("get", f"/api/v1/suites/{suite['id']}"),
        ("get", f"/api/v1/suites/{suite['id']}/export"),
        ("get", f"/api/v1/suites/{suite['id']}/cases"),
        ("delete", f"/api/v1/suites/{suite['id']}"),
        ("get", f"/api/v1/agents/{agent_id}/suites"),
        ("post", f"/api/v1/agents/{agent_id}/suites/safety"),
    ):
        response = getattr(client, method)(path, headers=other)
        assert response.status_code == 404, (method, path, response.text)
    viewer, viewer_agent = org_with_agent(role="viewer")
    refused = client.post(
        f"/api/v1/agents/{viewer_agent}/suites", json={"name": "Nope"}, headers=viewer
    )
    assert refused.status_code == 403
    no_name = client.post(f"/api/v1/agents/{agent_id}/suites", json={"name": ""}, headers=headers)
    assert no_name.status_code == 422 and "Name" in no_name.json()["detail"]


def test_generate_without_a_model_says_why(client: TestClient) -> None:
    headers, agent_id = org_with_agent()
    made = client.post(f"/api/v1/agents/{agent_id}/tests/generate", json={}, headers=headers)
    assert made.status_code == 200, made.text
    body = made.json()
    assert body["drafted"] == 0 and "need a model" in body["note"]
    probes = client.get(f"/api/v1/suites/{body['safety_suite_id']}/cases", headers=headers).json()
    assert len(probes) >= 10 and all(p["source"] == "builtin" for p in probes)


def test_online_rules_alerts_history_and_compare(client: TestClient) -> None:
    headers, agent_id = org_with_agent()
    made = client.post(
        f"/api/v1/agents/{agent_id}/eval-rules",
        json={"name": "No PII", "sample_rate": 0.2, "assertions": [{"type": "no-pii"}]},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    rule = made.json()
    listed = client.get(f"/api/v1/agents/{agent_id}/eval-rules", headers=headers).json()
    assert [r["name"] for r in listed] == ["No PII"]
    assert client.get(f"/api/v1/eval-rules/{rule['id']}/scores", headers=headers).json() == []
    refused = client.post(
        f"/api/v1/agents/{agent_id}/eval-rules",
        json={"name": "x", "assertions": [{"type": "factuality", "value": "facts"}]},
        headers=headers,
    )
    assert refused.status_code == 422 and "reference answer" in refused.json()["detail"]
    assert client.get("/api/v1/quality-alerts", headers=headers).json() == []

    suite = client.post(
        f"/api/v1/agents/{agent_id}/suites/import",
        content=YAML,
        headers={**headers, "Content-Type": "application/yaml"},
    ).json()
    runs = [
        client.post(
            f"/api/v1/agents/{agent_id}/tests/run", json={"suite_id": suite["id"]}, headers=headers
        ).json()
        for _ in range(2)
    ]
    history = client.get(f"/api/v1/suites/{suite['id']}/history", headers=headers).json()
    assert [p["suite_run_id"] for p in history] == [r["id"] for r in runs]
    assert history[0]["version"] == 1
    compared = client.get(
        f"/api/v1/tests/runs/{runs[0]['id']}/compare/{runs[1]['id']}", headers=headers
    )
    assert compared.status_code == 200 and compared.json() == []  # neither has finished
    other, _ = org_with_agent()
    assert client.get(f"/api/v1/eval-rules/{rule['id']}/scores", headers=other).status_code == 404
    assert client.delete(f"/api/v1/eval-rules/{rule['id']}", headers=other).status_code == 404
    assert client.delete(f"/api/v1/eval-rules/{rule['id']}", headers=headers).status_code == 204


def test_an_online_rules_alert_webhook_is_shown_only_to_those_who_may_change_it(
    client: TestClient,
) -> None:
    """A chat tool's webhook URL is a credential: a viewer's key learns only that one is set."""
    with session_scope() as session:
        actor = personal_actor(session, make_user(session))
        agent = agents.create_agent(session, actor, name="Greeter", config={"model": "x/y"})
        builder = api_keys.create_key(session, actor, name="ci", role="builder").secret
        viewer = api_keys.create_key(session, actor, name="dash", role="viewer").secret
        agent_id = str(agent.id)
    url = "https://hooks.example.com/services/T000/B000/secret-part"
    made = client.post(
        f"/api/v1/agents/{agent_id}/eval-rules",
        json={"name": "No PII", "assertions": [{"type": "no-pii"}], "alert_webhook_url": url},
        headers={"Authorization": f"Bearer {builder}"},
    )
    assert made.status_code == 201, made.text
    assert made.json()["alert_webhook_url"] == url
    seen = client.get(
        f"/api/v1/agents/{agent_id}/eval-rules", headers={"Authorization": f"Bearer {viewer}"}
    )
    assert seen.status_code == 200, seen.text
    [rule] = seen.json()
    assert rule["alert_webhook_url"] is None and rule["alert_webhook_set"] is True
    assert "secret-part" not in seen.text
