"""Integrations over REST (/api/v1): the catalog, connections, grants and approvals, against the
fake providers over real HTTP. Secrets go in and never come back; changes need the write
scope; another organization's connection, agent or approval is a 404."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from agent_platform.api import create_api
from agent_platform.db import session_scope
from agent_platform.models import Role
from services.access import Actor
from services.integrations import approvals
from tests.api.live import key_headers
from tests.factories import add_member, make_user, personal_actor
from tests.integrations.helpers import callback
from tests.services.runtime_helpers import make_agent, org_with_provider, start

TOKEN = "tok-canary-9f8e7d6c5b4a"
ALL = ["read", "run", "write", "admin"]


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return dict(response.json())


def http_connection(client: TestClient, auth: dict[str, str], echo: Any, **extra: Any) -> Any:
    body = {
        "form": "http",
        "name": "echo",
        "base_url": echo.base_url,
        "auth_kind": "bearer",
        "token": TOKEN,
        **extra,
    }
    return client.post("/api/v1/integrations", json=body, headers=auth)


def admin_org(session: Session) -> tuple[Actor, dict[str, str]]:
    actor = org_with_provider(session, "http://127.0.0.1:9")
    return actor, key_headers(session, actor, role="admin", scopes=ALL)


def test_a_connection_is_saved_read_checked_and_removed_and_its_token_never_returns(
    client: TestClient, session: Session, fakes: dict[str, Any]
) -> None:
    _actor, auth = admin_org(session)
    made = http_connection(client, auth, fakes["echo"])
    assert made.status_code == 201, made.text
    saved = made.json()
    assert saved["sign_in_url"] is None
    conn = saved["connection"]
    assert conn["name"] == "echo" and conn["auth_kind"] == "bearer"
    assert conn["status"] == "active" and conn["base_url"] == fakes["echo"].base_url

    listed = client.get("/api/v1/integrations", headers=auth)
    assert [c["id"] for c in listed.json()["data"]] == [conn["id"]]
    assert listed.json()["next_cursor"] is None
    one = client.get(f"/api/v1/integrations/{conn['id']}", headers=auth)
    checked = client.post(f"/api/v1/integrations/{conn['id']}/check", headers=auth)
    assert checked.status_code == 200, checked.text
    assert checked.json()["ok"] is True and checked.json()["problem"] is None
    assert checked.json()["connection"]["last_checked_at"] is not None
    assert any(r.header("authorization") == f"Bearer {TOKEN}" for r in fakes["echo"].requests)

    opened = client.patch(
        f"/api/v1/integrations/{conn['id']}", json={"builders_may_use": True}, headers=auth
    )
    assert opened.json()["builders_may_use"] is True

    for response in (made, listed, one, checked, opened):
        assert TOKEN not in response.text

    removed = client.delete(f"/api/v1/integrations/{conn['id']}", headers=auth)
    assert removed.json() == {"revoked": True, "problem": None}
    problem(client.get(f"/api/v1/integrations/{conn['id']}", headers=auth), 404)


def test_wrong_fields_are_named_in_the_forms_words(
    client: TestClient, session: Session, fakes: dict[str, Any]
) -> None:
    _actor, auth = admin_org(session)
    missing = http_connection(client, auth, fakes["echo"], token="")
    assert problem(missing, 422)["errors"] == {"token": "Token is required."}
    private = http_connection(client, auth, fakes["echo"], base_url="http://169.254.169.254/x")
    assert problem(private, 422)["errors"]["base_url"].startswith("Base URL is not allowed")
    assert http_connection(client, auth, fakes["echo"]).status_code == 201
    taken = http_connection(client, auth, fakes["echo"])
    assert problem(taken, 409)["detail"] == "A connection named 'echo' already exists."
    unknown = client.post("/api/v1/integrations/sign-in", json={"provider": "fax"}, headers=auth)
    assert problem(unknown, 404)["detail"] == "There is no integration provider 'fax'."


def test_a_read_only_key_reads_and_a_builder_cannot_connect(
    client: TestClient, session: Session, fakes: dict[str, Any]
) -> None:
    owner, auth = admin_org(session)
    assert http_connection(client, auth, fakes["echo"]).status_code == 201
    reader = key_headers(session, owner, role="admin", scopes=["read"])
    refused = http_connection(client, reader, fakes["echo"], name="other")
    assert "“write” scope" in problem(refused, 403)["detail"]
    assert len(client.get("/api/v1/integrations", headers=reader).json()["data"]) == 1
    builder_key = key_headers(session, owner, role="builder", scopes=["read", "write"])
    problem(http_connection(client, builder_key, fakes["echo"], name="mine"), 403)


def test_the_catalog_lists_providers_and_their_actions(
    client: TestClient, session: Session, fakes: dict[str, Any]
) -> None:
    _actor, auth = admin_org(session)
    catalog = {
        p["key"]: p for p in client.get("/api/v1/integrations/providers", headers=auth).json()
    }
    assert catalog["slack"]["connect_with"] == "sign-in" and catalog["slack"]["ready"] is True
    assert catalog["http"]["connect_with"] == "form"
    post = next(a for a in catalog["slack"]["actions"] if a["name"] == "slack.post_message")
    assert post["side_effect"] is True and post["parameters"]["type"] == "object"


def test_an_oauth_sign_in_started_with_a_key_is_finished_by_its_creator(
    client: TestClient, session: Session, fakes: dict[str, Any]
) -> None:
    owner, auth = admin_org(session)
    started = client.post(
        "/api/v1/integrations/sign-in", json={"provider": "slack", "name": "Team"}, headers=auth
    )
    assert started.status_code == 200, started.text
    assert callback(fakes["slack"], started.json()["sign_in_url"], owner) == "Team"
    conn = client.get("/api/v1/integrations", headers=auth).json()["data"][0]
    assert conn["name"] == "Team" and conn["status"] == "active" and conn["scopes"]
    again = client.post(f"/api/v1/integrations/{conn['id']}/sign-in", headers=auth)
    assert again.json()["sign_in_url"].startswith(fakes["slack"].base_url)


def test_your_own_oauth_app_keeps_its_client_secret_write_only(
    client: TestClient, session: Session, fakes: dict[str, Any]
) -> None:
    _owner, auth = admin_org(session)
    google = fakes["google"]
    made = client.post(
        "/api/v1/integrations",
        json={
            "form": "oauth2",
            "name": "my-api",
            "base_url": google.base_url,
            "authorize_url": google.base_url + "/o/oauth2/v2/auth",
            "token_url": google.base_url + "/token",
            "client_id": google.client_id,
            "client_secret": google.client_secret,
            "scopes": ["openid", "email"],
        },
        headers=auth,
    )
    assert made.status_code == 201, made.text
    assert made.json()["connection"]["status"] == "pending"
    assert made.json()["sign_in_url"].startswith(google.base_url + "/o/oauth2/v2/auth")
    assert google.client_secret not in made.text


def test_grants_are_replaced_by_the_rules_of_the_agent_editor(
    client: TestClient, session: Session, fakes: dict[str, Any]
) -> None:
    owner, auth = admin_org(session)
    conn = http_connection(client, auth, fakes["echo"]).json()["connection"]
    agent_id = make_agent(session, owner, tools=[{"kind": "builtin", "name": "calculator"}])
    before = client.get(f"/api/v1/agents/{agent_id}/grants", headers=auth).json()
    assert before["grants"] == [] and before["available"][0]["action"] == "http.request"

    grant = {"connection_id": conn["id"], "action": "http.request", "approval": True}
    builder_key = key_headers(session, owner, role="builder", scopes=["read", "write"])
    refused = client.put(
        f"/api/v1/agents/{agent_id}/grants", json={"grants": [grant]}, headers=builder_key
    )
    assert "Only an admin can give agents the connection 'echo'" in problem(refused, 403)["detail"]

    saved = client.put(
        f"/api/v1/agents/{agent_id}/grants",
        json={"grants": [grant], "based_on_version": before["current_version"]},
        headers=auth,
    )
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["new_version"] == before["current_version"] + 1
    assert body["grants"] == [
        {
            "connection_id": conn["id"],
            "connection_name": "echo",
            "provider": "http",
            "action": "http.request",
            "approval": True,
        }
    ]
    agent = client.get(f"/api/v1/agents/{agent_id}", headers=auth).json()
    assert {t["kind"] for t in agent["config"]["tools"]} == {"builtin", "integration"}

    stale = client.put(
        f"/api/v1/agents/{agent_id}/grants",
        json={"grants": [], "based_on_version": before["current_version"]},
        headers=auth,
    )
    problem(stale, 409)
    wrong = client.put(
        f"/api/v1/agents/{agent_id}/grants",
        json={"grants": [{**grant, "action": "slack.post_message"}]},
        headers=auth,
    )
    assert problem(wrong, 422)["errors"] == {"tools": "Unknown action"}


def _pending(owner: Actor, connection_id: str, agent_id: uuid.UUID) -> uuid.UUID:
    run_id = start(owner, agent_id)
    with session_scope() as s:
        return approvals.request(
            s,
            org_id=owner.org_id,
            run_id=run_id,
            integration_id=uuid.UUID(connection_id),
            action="http.request",
            arguments={"path": "/orders"},
            timeout_seconds=60,
        ).id


def test_approvals_are_decided_by_another_person_than_the_runs_starter(
    client: TestClient, session: Session, fakes: dict[str, Any]
) -> None:
    owner, auth = admin_org(session)
    conn = http_connection(client, auth, fakes["echo"]).json()["connection"]
    grant = {"kind": "integration", "name": "http.request"}
    agent_id = make_agent(
        session, owner, tools=[{**grant, "settings": {"connection": conn["id"], "approval": True}}]
    )
    asked = _pending(owner, conn["id"], agent_id)
    listed = client.get("/api/v1/approvals", headers=auth).json()
    assert [a["id"] for a in listed] == [str(asked)]
    assert listed[0]["connection_name"] == "echo" and listed[0]["arguments"] == {"path": "/orders"}

    own = client.post(f"/api/v1/approvals/{asked}/approve", headers=auth)
    assert "You started this run" in problem(own, 403)["detail"]
    _user, colleague = add_member(session, owner.org_id, role=Role.ADMIN)
    session.commit()
    other = key_headers(session, colleague, role="builder", scopes=["read", "write"])
    approved = client.post(f"/api/v1/approvals/{asked}/approve", headers=other)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["decided_at"]
    again = client.post(f"/api/v1/approvals/{asked}/decline", headers=other)
    assert problem(again, 409)["detail"] == "This request was already approved."
    assert client.get("/api/v1/approvals", headers=auth).json() == []
    assert client.get(f"/api/v1/approvals/{asked}", headers=auth).json()["status"] == "approved"

    declined = _pending(owner, conn["id"], agent_id)
    answer = client.post(f"/api/v1/approvals/{declined}/decline", headers=auth)
    assert answer.json()["status"] == "denied"  # the starter may always decline


def test_another_organizations_objects_are_not_found(
    client: TestClient, session: Session, fakes: dict[str, Any]
) -> None:
    owner, auth = admin_org(session)
    conn = http_connection(client, auth, fakes["echo"]).json()["connection"]
    agent_id = make_agent(session, owner)
    asked = _pending(owner, conn["id"], agent_id)
    stranger = personal_actor(session, make_user(session))
    theirs = key_headers(session, stranger, role="admin", scopes=ALL)
    calls = [
        client.get(f"/api/v1/integrations/{conn['id']}", headers=theirs),
        client.patch(
            f"/api/v1/integrations/{conn['id']}", json={"builders_may_use": True}, headers=theirs
        ),
        client.post(f"/api/v1/integrations/{conn['id']}/check", headers=theirs),
        client.post(f"/api/v1/integrations/{conn['id']}/sign-in", headers=theirs),
        client.delete(f"/api/v1/integrations/{conn['id']}", headers=theirs),
        client.get(f"/api/v1/agents/{agent_id}/grants", headers=theirs),
        client.put(f"/api/v1/agents/{agent_id}/grants", json={"grants": []}, headers=theirs),
        client.get(f"/api/v1/approvals/{asked}", headers=theirs),
        client.post(f"/api/v1/approvals/{asked}/approve", headers=theirs),
        client.post(f"/api/v1/approvals/{asked}/decline", headers=theirs),
        client.get(f"/api/v1/approvals?run_id={uuid.uuid4()}", headers=theirs),
        client.get("/api/v1/integrations/not-an-id", headers=theirs),
    ]
    for response in calls:
        problem(response, 404)
    assert client.get("/api/v1/integrations", headers=theirs).json()["data"] == []
    assert client.get("/api/v1/approvals", headers=theirs).json() == []
    # the owner's objects are untouched
    assert client.get(f"/api/v1/integrations/{conn['id']}", headers=auth).status_code == 200
    assert client.get(f"/api/v1/approvals/{asked}", headers=auth).json()["status"] == "pending"


def test_a_key_cannot_approve_a_run_it_started_itself(
    client: TestClient, session: Session, fakes: dict[str, Any]
) -> None:
    """A key acts for its creator: the run it starts is that person's, so the same key (or
    another key of the same person) approving it is refused like the person would be."""
    owner, auth = admin_org(session)
    conn = http_connection(client, auth, fakes["echo"]).json()["connection"]
    grant = {"kind": "integration", "name": "http.request"}
    agent_id = make_agent(
        session, owner, tools=[{**grant, "settings": {"connection": conn["id"], "approval": True}}]
    )
    started = client.post(f"/api/v1/agents/{agent_id}/runs", json={"message": "hi"}, headers=auth)
    assert started.status_code == 201, started.text
    run_id = uuid.UUID(started.json()["id"])
    with session_scope() as s:
        asked = approvals.request(
            s,
            org_id=owner.org_id,
            run_id=run_id,
            integration_id=uuid.UUID(conn["id"]),
            action="http.request",
            arguments={"path": "/orders"},
            timeout_seconds=60,
        ).id
    own = client.post(f"/api/v1/approvals/{asked}/approve", headers=auth)
    assert "You started this run" in problem(own, 403)["detail"]
