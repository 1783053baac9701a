"""The HTTP side: health, readiness, API-key authentication, error shape."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from agent_platform.api import create_api
from agent_platform.db import session_scope
from services import api_keys
from tests.factories import make_user, personal_actor


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


def test_health_answers_json(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def _key(role: str = "builder") -> tuple[str, str]:
    with session_scope() as session:
        user = make_user(session)
        actor = personal_actor(session, user)
        created = api_keys.create_key(session, actor, name="ci", role=role)
        return created.secret, str(created.key.id)


def test_api_key_authenticates_to_its_organization(client: TestClient) -> None:
    secret, _ = _key()
    response = client.get("/api/v1/org", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "builder"
    assert response.json()["tier"] == "starter"


@pytest.mark.parametrize("header", [None, "Bearer ", "Bearer ap_not-a-key", "Basic abc"])
def test_missing_or_bad_key_is_401_with_a_message(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/v1/org", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "A valid API key is required."


def test_revoked_key_stops_working(client: TestClient) -> None:
    import uuid

    secret, key_id = _key()
    with session_scope() as session:
        key = session.get(api_keys.ApiKey, uuid.UUID(key_id))
        from agent_platform.models import User
        from services.access import actor_for

        user = session.get(User, key.created_by_id)
        api_keys.revoke_key(session, actor_for(session, user, key.org_id), key.id)
    response = client.get("/api/v1/org", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


def test_key_of_a_removed_member_is_401(client: TestClient) -> None:
    """Issue 10 #5: a key does not outlive its creator's membership."""
    from sqlmodel import select

    from agent_platform.models import Membership, Role
    from services import organizations
    from tests.factories import add_member

    with session_scope() as session:
        owner = personal_actor(session, make_user(session))
        user, admin = add_member(session, owner.org_id, role=Role.ADMIN)
        secret = api_keys.create_key(session, admin, name="ci", role="admin").secret
        membership_id = session.exec(
            select(Membership.id).where(
                Membership.user_id == user.id, Membership.org_id == owner.org_id
            )
        ).one()
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/org", headers=headers).json()["role"] == "admin"
    with session_scope() as session:
        organizations.remove_member(session, owner, membership_id)
    response = client.get("/api/v1/org", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "A valid API key is required."
