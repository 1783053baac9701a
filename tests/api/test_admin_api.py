"""`/api/v1/admin/*`: the instance admin's organizations API, refused to everyone else."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from agent_platform.api import create_api
from agent_platform.db import session_scope
from agent_platform.models import Organization, Role
from services import organizations
from tests.factories import make_api_key, make_user, personal_actor


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


def _key(email: str, role: Role = Role.ADMIN) -> tuple[str, str]:
    """An API key of `email`'s personal org (the user is created if new) and that org's id."""
    with session_scope() as session:
        user = make_user(session, email=email, name=email.split("@")[0].title())
        actor = personal_actor(session, user)
        return make_api_key(session, actor, role=role).secret, str(actor.org_id)


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_the_admin_lists_orgs_and_lifts_a_limit(client: TestClient) -> None:
    root, _ = _key("root@example.com")  # first user: the instance admin
    _, olive_org = _key("olive@example.com")
    page = client.get("/api/v1/admin/orgs", params={"search": "olive"}, headers=auth(root))
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["plans_enabled"] is False and body["total"] == 1
    assert body["orgs"][0]["id"] == olive_org
    assert body["orgs"][0]["limits"]["max_agents"] == -1  # billing off: unlimited

    changed = client.patch(
        f"/api/v1/admin/orgs/{olive_org}",
        json={"tier": "team", "max_members": 7},
        headers=auth(root),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["tier"] == "team"
    assert changed.json()["overrides"]["max_members"] == 7
    assert changed.json()["limits"]["max_members"] == 7
    with session_scope() as session:
        assert organizations.limits_for(session, uuid.UUID(olive_org)).max_members == 7

    again = client.get(f"/api/v1/admin/orgs/{olive_org}", headers=auth(root))
    assert again.json()["overrides"]["max_agents"] is None


def test_bad_values_are_a_422_in_words(client: TestClient) -> None:
    root, _ = _key("root@example.com")
    _, olive_org = _key("olive@example.com")
    response = client.patch(
        f"/api/v1/admin/orgs/{olive_org}", json={"max_agents": -5}, headers=auth(root)
    )
    assert response.status_code == 422
    assert "max_agents" in response.json()["errors"]


def test_an_unknown_org_is_404(client: TestClient) -> None:
    root, _ = _key("root@example.com")
    response = client.get(
        "/api/v1/admin/orgs/00000000-0000-0000-0000-000000000001", headers=auth(root)
    )
    assert response.status_code == 404


def test_an_org_admin_who_is_not_the_instance_admin_gets_403(client: TestClient) -> None:
    _key("root@example.com")
    olive, olive_org = _key("olive@example.com", role=Role.ADMIN)
    assert client.get("/api/v1/admin/orgs", headers=auth(olive)).status_code == 403
    response = client.patch(
        f"/api/v1/admin/orgs/{olive_org}", json={"max_agents": -1}, headers=auth(olive)
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Only the instance admin can do this."
    with session_scope() as session:
        assert session.get(Organization, uuid.UUID(olive_org)).max_agents is None


def test_a_builder_key_of_the_admin_gets_403(client: TestClient) -> None:
    builder_key, _ = _key("root@example.com", role=Role.BUILDER)
    assert client.get("/api/v1/admin/orgs", headers=auth(builder_key)).status_code == 403


def test_no_key_is_401(client: TestClient) -> None:
    assert client.get("/api/v1/admin/orgs").status_code == 401
