"""Members, invitations, the audit log and dashboard figures over REST."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent_platform.api import create_api
from agent_platform.db import session_scope
from agent_platform.models import Role
from services import api_keys
from services.access import Actor
from tests.factories import add_member, make_user, personal_actor


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


class Org:
    def __init__(self, *, scopes: list[str] | None = None, role: str = "admin") -> None:
        with session_scope() as session:
            self.owner: Actor = personal_actor(session, make_user(session, name="Olga"))
            _, self.builder = add_member(session, self.owner.org_id, role=Role.BUILDER)
            self.secret = api_keys.create_key(
                session, self.owner, name="ci", role=role, scopes=scopes or ["admin"]
            ).secret
        self.auth = {"Authorization": f"Bearer {self.secret}"}


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return dict(response.json())


class TestMembers:
    def test_list_change_role_and_remove(self, client: TestClient) -> None:
        org = Org()
        listed = client.get("/api/v1/members", headers=org.auth).json()
        assert [m["role"] for m in listed["data"]] == ["builder", "owner"]  # newest first
        builder = listed["data"][0]
        assert (
            client.get("/api/v1/members", params={"search": "olga"}, headers=org.auth).json()[
                "data"
            ][0]["name"]
            == "Olga"
        )

        changed = client.patch(
            f"/api/v1/members/{builder['id']}", json={"role": "viewer"}, headers=org.auth
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["role"] == "viewer"
        bad = client.patch(
            f"/api/v1/members/{builder['id']}", json={"role": "king"}, headers=org.auth
        )
        assert problem(bad, 422)["errors"] == {"role": "Unknown role"}

        assert (
            client.delete(f"/api/v1/members/{builder['id']}", headers=org.auth).status_code == 204
        )
        left = client.get("/api/v1/members", headers=org.auth).json()["data"]
        assert [m["role"] for m in left] == ["owner"]

    def test_an_admin_key_cannot_remove_an_owner(self, client: TestClient) -> None:
        org = Org()
        owner = client.get("/api/v1/members", headers=org.auth).json()["data"][-1]
        body = problem(client.delete(f"/api/v1/members/{owner['id']}", headers=org.auth), 403)
        assert body["detail"] == "Only an owner can change an owner or make someone an owner."

    def test_changes_need_the_admin_scope(self, client: TestClient) -> None:
        org = Org(scopes=["read", "write"])
        member = client.get("/api/v1/members", headers=org.auth).json()["data"][0]
        response = client.patch(
            f"/api/v1/members/{member['id']}", json={"role": "viewer"}, headers=org.auth
        )
        assert "“admin” scope" in problem(response, 403)["detail"]

    def test_another_orgs_member_is_a_404(self, client: TestClient) -> None:
        mine, theirs = Org(), Org()
        member = client.get("/api/v1/members", headers=theirs.auth).json()["data"][0]
        problem(
            client.patch(
                f"/api/v1/members/{member['id']}", json={"role": "viewer"}, headers=mine.auth
            ),
            404,
        )
        problem(client.delete(f"/api/v1/members/{member['id']}", headers=mine.auth), 404)


class TestInvitations:
    def test_create_list_and_revoke(self, client: TestClient) -> None:
        org = Org()
        made = client.post(
            "/api/v1/invitations",
            json={"email": "New@Example.com", "role": "viewer"},
            headers=org.auth,
        )
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["email"] == "new@example.com" and body["role"] == "viewer"
        assert "/invite?token=inv_" in body["accept_url"]
        listed = client.get("/api/v1/invitations", headers=org.auth).json()
        assert [i["email"] for i in listed["data"]] == ["new@example.com"]
        assert "accept_url" not in listed["data"][0]
        assert (
            client.delete(f"/api/v1/invitations/{body['id']}", headers=org.auth).status_code == 204
        )
        assert client.get("/api/v1/invitations", headers=org.auth).json()["data"] == []

    def test_a_bad_email_is_a_422_naming_the_field(self, client: TestClient) -> None:
        org = Org()
        response = client.post("/api/v1/invitations", json={"email": "nope"}, headers=org.auth)
        assert "email" in problem(response, 422)["errors"]

    def test_another_orgs_invitation_is_a_404(self, client: TestClient) -> None:
        mine, theirs = Org(), Org()
        made = client.post(
            "/api/v1/invitations", json={"email": "x@example.com"}, headers=theirs.auth
        ).json()
        problem(client.delete(f"/api/v1/invitations/{made['id']}", headers=mine.auth), 404)

    def test_invitations_need_the_admin_scope(self, client: TestClient) -> None:
        org = Org(scopes=["read", "run", "write"])
        problem(client.get("/api/v1/invitations", headers=org.auth), 403)


class TestAuditLog:
    def test_admins_read_their_orgs_entries_newest_first(self, client: TestClient) -> None:
        org, other = Org(), Org()
        client.post("/api/v1/invitations", json={"email": "a@example.com"}, headers=org.auth)
        page = client.get("/api/v1/audit-log", params={"limit": 1}, headers=org.auth).json()
        assert [e["action"] for e in page["data"]] == ["invitation.created"]
        assert page["data"][0]["details"]["email"] == "a@example.com"
        assert page["next_cursor"] is not None
        keys = client.get(
            "/api/v1/audit-log", params={"action": "api_key."}, headers=org.auth
        ).json()
        assert [e["action"] for e in keys["data"]] == ["api_key.created"]
        assert keys["data"][0]["actor"].startswith("Olga <")
        theirs = client.get("/api/v1/audit-log", headers=other.auth).json()["data"]
        assert all(e["action"] != "invitation.created" for e in theirs)

    def test_a_builder_key_cannot_read_the_log(self, client: TestClient) -> None:
        org = Org(role="builder", scopes=["read"])
        body = problem(client.get("/api/v1/audit-log", headers=org.auth), 403)
        assert "admin role" in body["detail"]


class TestDashboard:
    def test_figures_of_an_org_without_runs(self, client: TestClient) -> None:
        org = Org(scopes=["read"])
        response = client.get("/api/v1/dashboard", params={"range": "24h"}, headers=org.auth)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["range_key"] == "24h" and body["total_runs"] == 0
        assert len(body["buckets"]) == 24 and body["success_rate"] is None

    def test_an_unknown_range_or_another_orgs_agent_is_refused(self, client: TestClient) -> None:
        org = Org()
        bad = client.get("/api/v1/dashboard", params={"range": "1y"}, headers=org.auth)
        assert "range" in problem(bad, 422)["errors"]
        theirs = Org()
        agent = client.post("/api/v1/agents", json={"name": "Theirs"}, headers=theirs.auth).json()
        response = client.get(
            "/api/v1/dashboard", params={"agent_id": agent["id"]}, headers=org.auth
        )
        assert problem(response, 404)["detail"] == "Agent not found."
