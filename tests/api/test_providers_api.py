"""Model providers over REST: the API key goes in and never comes back out."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from agent_platform.api import create_api
from agent_platform.db import session_scope
from agent_platform.models import StoredSecret
from services import api_keys
from tests.factories import make_user, personal_actor

KEY = "sk-test-abcdefghijklmnop1234"


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


def org_key(*, scopes: list[str] | None = None) -> dict[str, str]:
    with session_scope() as session:
        actor = personal_actor(session, make_user(session))
        secret = api_keys.create_key(
            session, actor, name="ci", role="admin", scopes=scopes or ["admin"]
        ).secret
    return {"Authorization": f"Bearer {secret}"}


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return dict(response.json())


def test_create_list_update_and_delete_with_the_key_write_only(client: TestClient) -> None:
    auth = org_key()
    made = client.post(
        "/api/v1/providers",
        json={"name": "openai", "kind": "openai", "api_key": KEY, "models": ["gpt-4o-mini"]},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["name"] == "openai" and body["models"] == ["gpt-4o-mini"]
    assert body["key_hint"] and KEY not in made.text and "api_key" not in body

    listed = client.get("/api/v1/providers", headers=auth)
    assert [p["name"] for p in listed.json()["data"]] == ["openai"]
    assert KEY not in listed.text
    assert KEY not in client.get(f"/api/v1/providers/{body['id']}", headers=auth).text
    with session_scope() as session:  # the key is in the secret store, not in clear
        stored = session.exec(select(StoredSecret)).all()
        assert len(stored) == 1 and KEY not in stored[0].ciphertext

    renamed = client.put(
        f"/api/v1/providers/{body['id']}",
        json={"name": "main", "kind": "openai", "models": ["gpt-4o"]},
        headers=auth,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["key_hint"] == body["key_hint"]  # empty key keeps the stored one

    assert client.delete(f"/api/v1/providers/{body['id']}", headers=auth).status_code == 204
    assert client.get("/api/v1/providers", headers=auth).json()["data"] == []


def test_a_missing_key_or_bad_name_is_a_422_naming_the_field(client: TestClient) -> None:
    auth = org_key()
    response = client.post(
        "/api/v1/providers", json={"name": "openai", "kind": "openai"}, headers=auth
    )
    assert problem(response, 422)["errors"] == {"api_key": "Required"}
    bad = client.post(
        "/api/v1/providers",
        json={"name": "Open AI!", "kind": "openai", "api_key": KEY},
        headers=auth,
    )
    assert "name" in problem(bad, 422)["errors"]


def test_a_private_base_url_is_refused(client: TestClient) -> None:
    auth = org_key()
    response = client.post(
        "/api/v1/providers",
        json={"name": "meta", "kind": "openai_compatible", "api_base": "http://169.254.169.254/v1"},
        headers=auth,
    )
    assert "api_base" in problem(response, 422)["errors"]


def test_changes_need_the_admin_scope_and_other_orgs_are_404(client: TestClient) -> None:
    writer = org_key(scopes=["read", "write"])
    refused = client.post(
        "/api/v1/providers", json={"name": "x", "kind": "openai", "api_key": KEY}, headers=writer
    )
    assert "“admin” scope" in problem(refused, 403)["detail"]

    theirs = client.post(
        "/api/v1/providers", json={"name": "x", "kind": "openai", "api_key": KEY}, headers=org_key()
    ).json()
    mine = org_key()
    problem(client.get(f"/api/v1/providers/{theirs['id']}", headers=mine), 404)
    problem(client.delete(f"/api/v1/providers/{theirs['id']}", headers=mine), 404)
    assert client.get("/api/v1/providers", headers=mine).json()["data"] == []
