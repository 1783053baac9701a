"""Agents and versions over REST: the builder's own services, another org's agent a 404."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from agent_platform.api import create_api
from agent_platform.db import session_scope
from agent_platform.models import ProviderCredential
from services import api_keys
from tests.factories import make_user, personal_actor


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


def key_for_new_org(*, scopes: list[str] | None = None, provider: bool = True) -> dict[str, str]:
    with session_scope() as session:
        actor = personal_actor(session, make_user(session))
        if provider:  # publishing needs the model's provider configured
            session.add(
                ProviderCredential(org_id=actor.org_id, name="openai", models=["gpt-4o-mini"])
            )
        secret = api_keys.create_key(session, actor, name="ci", role="admin", scopes=scopes).secret
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def auth() -> dict[str, str]:
    return key_for_new_org()


def yaml_headers(auth: dict[str, str]) -> dict[str, str]:
    return {**auth, "Content-Type": "application/yaml"}


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return dict(response.json())


def create(
    client: TestClient, auth: dict[str, str], name: str = "Helper", **config: Any
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/agents",
        json={
            "name": name,
            "description": "helps",
            "config": {"model": "openai/gpt-4o-mini", **config},
        },
        headers=auth,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


class TestCrud:
    def test_create_get_and_update_make_versions(
        self, client: TestClient, auth: dict[str, str]
    ) -> None:
        made = create(client, auth, instructions="Be brief.")
        assert made["status"] == "draft" and made["current_version"] == 1
        assert made["config"]["instructions"] == "Be brief."

        got = client.get(f"/api/v1/agents/{made['id']}", headers=auth).json()
        assert got["name"] == "Helper" and got["model"] == "openai/gpt-4o-mini"

        changed = client.patch(
            f"/api/v1/agents/{made['id']}",
            json={"config": {**got["config"], "temperature": 0.2}, "based_on_version": 1},
            headers=auth,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["new_version"] == 2 and changed.json()["current_version"] == 2

        renamed = client.patch(
            f"/api/v1/agents/{made['id']}", json={"name": "Helper 2"}, headers=auth
        )
        assert renamed.json()["name"] == "Helper 2" and renamed.json()["new_version"] is None

    def test_a_stale_save_is_a_409(self, client: TestClient, auth: dict[str, str]) -> None:
        made = create(client, auth)
        client.patch(
            f"/api/v1/agents/{made['id']}",
            json={"config": {"model": "openai/gpt-4o-mini", "temperature": 1}},
            headers=auth,
        )
        stale = client.patch(
            f"/api/v1/agents/{made['id']}",
            json={
                "config": {"model": "openai/gpt-4o-mini", "temperature": 0},
                "based_on_version": 1,
            },
            headers=auth,
        )
        assert "saved elsewhere" in problem(stale, 409)["detail"]

    def test_a_bad_config_names_the_field(self, client: TestClient, auth: dict[str, str]) -> None:
        response = client.post(
            "/api/v1/agents", json={"name": "x", "config": {"temperature": 9}}, headers=auth
        )
        body = problem(response, 422)
        assert body["errors"] == {"temperature": "Temperature must be at most 2.0."}

    def test_a_missing_name_is_a_422_problem(
        self, client: TestClient, auth: dict[str, str]
    ) -> None:
        body = problem(client.post("/api/v1/agents", json={"config": {}}, headers=auth), 422)
        assert body["errors"] == {"name": "Name is required."}

    def test_list_pages_searches_and_hides_archived(
        self, client: TestClient, auth: dict[str, str]
    ) -> None:
        ids = [create(client, auth, name=f"Bot {i}")["id"] for i in range(3)]
        create(client, auth, name="Other")
        first = client.get(
            "/api/v1/agents", params={"search": "bot", "limit": 2}, headers=auth
        ).json()
        assert [a["name"] for a in first["data"]] == ["Bot 2", "Bot 1"]
        rest = client.get(
            "/api/v1/agents", params={"search": "bot", "cursor": first["next_cursor"]}, headers=auth
        ).json()
        assert [a["name"] for a in rest["data"]] == ["Bot 0"] and rest["next_cursor"] is None

        archived = client.post(f"/api/v1/agents/{ids[0]}/archive", headers=auth)
        assert archived.json()["status"] == "archived"
        names = [a["name"] for a in client.get("/api/v1/agents", headers=auth).json()["data"]]
        assert "Bot 0" not in names and len(names) == 3
        only = client.get("/api/v1/agents", params={"status": "archived"}, headers=auth).json()
        assert [a["name"] for a in only["data"]] == ["Bot 0"]
        back = client.post(f"/api/v1/agents/{ids[0]}/unarchive", headers=auth)
        assert back.json()["status"] == "draft"

    def test_a_bad_cursor_or_limit_is_a_422(self, client: TestClient, auth: dict[str, str]) -> None:
        problem(client.get("/api/v1/agents", params={"cursor": "zzz"}, headers=auth), 422)
        body = problem(client.get("/api/v1/agents", params={"limit": 101}, headers=auth), 422)
        assert body["errors"] == {"limit": "Limit must be at most 100."}

    def test_delete(self, client: TestClient, auth: dict[str, str]) -> None:
        made = create(client, auth)
        assert client.delete(f"/api/v1/agents/{made['id']}", headers=auth).status_code == 204
        problem(client.get(f"/api/v1/agents/{made['id']}", headers=auth), 404)


class TestPublishing:
    def test_publish_and_unpublish(self, client: TestClient, auth: dict[str, str]) -> None:
        made = create(client, auth)
        published = client.post(f"/api/v1/agents/{made['id']}/publish", headers=auth)
        assert published.status_code == 200, published.text
        assert published.json()["status"] == "published"
        draft = client.post(f"/api/v1/agents/{made['id']}/unpublish", headers=auth)
        assert draft.json()["status"] == "draft"
        problem(client.post(f"/api/v1/agents/{made['id']}/unpublish", headers=auth), 422)

    def test_publishing_without_a_provider_says_what_to_fix(self, client: TestClient) -> None:
        auth = key_for_new_org(provider=False)
        made = create(client, auth)
        body = problem(client.post(f"/api/v1/agents/{made['id']}/publish", headers=auth), 422)
        assert body["detail"].startswith("Not ready to publish:")


class TestVersions:
    def test_list_diff_get_and_restore(self, client: TestClient, auth: dict[str, str]) -> None:
        made = create(client, auth, temperature=0.5)
        config = client.get(f"/api/v1/agents/{made['id']}", headers=auth).json()["config"]
        client.patch(
            f"/api/v1/agents/{made['id']}",
            json={"config": {**config, "temperature": 0.9}},
            headers=auth,
        )

        versions = client.get(f"/api/v1/agents/{made['id']}/versions", headers=auth).json()
        assert [(v["version"], v["current"]) for v in versions["data"]] == [(2, True), (1, False)]

        diff = client.get(
            f"/api/v1/agents/{made['id']}/diff", params={"from": 1, "to": 2}, headers=auth
        )
        assert diff.status_code == 200, diff.text
        assert diff.json()["changes"] == [
            {"path": "temperature", "old": 0.5, "new": 0.9, "kind": "changed"}
        ]

        one = client.get(f"/api/v1/agents/{made['id']}/versions/1", headers=auth).json()
        assert one["config"]["temperature"] == 0.5 and one["current"] is False

        restored = client.post(f"/api/v1/agents/{made['id']}/versions/1/restore", headers=auth)
        assert restored.status_code == 200, restored.text
        assert (
            restored.json()["new_version"] == 3 and restored.json()["config"]["temperature"] == 0.5
        )
        again = client.post(f"/api/v1/agents/{made['id']}/versions/3/restore", headers=auth)
        assert "already the current configuration" in problem(again, 422)["detail"]

    def test_an_unknown_version_is_a_404(self, client: TestClient, auth: dict[str, str]) -> None:
        made = create(client, auth)
        body = problem(client.get(f"/api/v1/agents/{made['id']}/versions/9", headers=auth), 404)
        assert body["detail"] == "Version 9 not found."
        problem(
            client.get(
                f"/api/v1/agents/{made['id']}/diff", params={"from": 1, "to": 9}, headers=auth
            ),
            404,
        )


class TestYaml:
    def test_export_then_import_makes_the_same_agent(
        self, client: TestClient, auth: dict[str, str]
    ) -> None:
        made = create(client, auth, instructions="Answer in French.", temperature=0.3)
        exported = client.get(f"/api/v1/agents/{made['id']}/export", headers=auth)
        assert exported.headers["content-type"].startswith("application/yaml")
        document = yaml.safe_load(exported.text)
        assert list(document) == ["name", "description", "config"]
        assert document["config"]["instructions"] == "Answer in French."
        assert "layout" not in document["config"]

        other = key_for_new_org()
        imported = client.post(
            "/api/v1/agents/import",
            content=exported.text,
            headers=yaml_headers(other),
        )
        assert imported.status_code == 201, imported.text
        copy = imported.json()
        assert copy["name"] == "Helper" and copy["description"] == "helps"
        assert copy["config"]["temperature"] == 0.3 and copy["current_version"] == 1

    def test_a_file_updates_an_agent_with_a_new_version(
        self, client: TestClient, auth: dict[str, str]
    ) -> None:
        made = create(client, auth)
        text = (
            "name: Renamed\ndescription: new\n"
            "config:\n  model: openai/gpt-4o-mini\n  max_steps: 3\n"
        )
        applied = client.put(
            f"/api/v1/agents/{made['id']}/import",
            content=text,
            headers=yaml_headers(auth),
        )
        assert applied.status_code == 200, applied.text
        assert applied.json()["name"] == "Renamed" and applied.json()["new_version"] == 2
        same = client.put(
            f"/api/v1/agents/{made['id']}/import",
            content=text,
            headers=yaml_headers(auth),
        )
        assert same.json()["new_version"] is None

    @pytest.mark.parametrize(
        ("text", "errors"),
        [
            ("name: [unclosed", {"yaml": "Line 1: this is not valid YAML"}),
            ("- just\n- a list\n", {"yaml": "An agent file is a mapping"}),
            ("name: x\nmodel: gpt\n", {"model": "Unknown top-level field model"}),
            ("description: no name\n", {"name": "Name is required"}),
            (
                "name: x\nconfig:\n  temperature: hot\n",
                {"config.temperature": "Temperature must be a number"},
            ),
            (
                "name: x\nconfig:\n  bogus: 1\n",
                {"config.bogus": "Bogus is not a field of this form"},
            ),
            ("name: &a x\ndescription: *a\n", {"yaml": "Line 2: anchors and aliases"}),
        ],
    )
    def test_a_bad_file_is_a_422_naming_the_problem(
        self, client: TestClient, auth: dict[str, str], text: str, errors: dict[str, str]
    ) -> None:
        response = client.post(
            "/api/v1/agents/import",
            content=text,
            headers=yaml_headers(auth),
        )
        body = problem(response, 422)
        assert set(body["errors"]) == set(errors), body
        for field, start in errors.items():
            assert body["errors"][field].startswith(start), body
        with session_scope() as session:
            from sqlmodel import select

            from agent_platform.models import Agent

            assert session.exec(select(Agent)).first() is None  # nothing half-made


class TestScopesAndTenants:
    def test_a_read_only_key_reads_but_cannot_change(
        self, client: TestClient, auth: dict[str, str]
    ) -> None:
        made = create(client, auth)
        with session_scope() as session:
            from sqlmodel import select

            from agent_platform.models import ApiKey

            key = session.exec(select(ApiKey)).one()
            org_actor = personal_actor(
                session,
                session.get(
                    __import__("agent_platform.models", fromlist=["User"]).User, key.created_by_id
                ),
            )
            secret = api_keys.create_key(
                session, org_actor, name="ro", role="admin", scopes=["read"]
            ).secret
        reader = {"Authorization": f"Bearer {secret}"}
        assert client.get(f"/api/v1/agents/{made['id']}", headers=reader).status_code == 200
        for method, path in [
            ("POST", "/api/v1/agents"),
            ("PATCH", f"/api/v1/agents/{made['id']}"),
            ("POST", f"/api/v1/agents/{made['id']}/archive"),
            ("POST", f"/api/v1/agents/{made['id']}/publish"),
            ("DELETE", f"/api/v1/agents/{made['id']}"),
            ("POST", f"/api/v1/agents/{made['id']}/versions/1/restore"),
        ]:
            body = problem(client.request(method, path, json={"name": "x"}, headers=reader), 403)
            assert "“write” scope" in body["detail"]

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/api/v1/agents/{id}"),
            ("PATCH", "/api/v1/agents/{id}"),
            ("DELETE", "/api/v1/agents/{id}"),
            ("POST", "/api/v1/agents/{id}/archive"),
            ("POST", "/api/v1/agents/{id}/publish"),
            ("GET", "/api/v1/agents/{id}/versions"),
            ("GET", "/api/v1/agents/{id}/versions/1"),
            ("POST", "/api/v1/agents/{id}/versions/1/restore"),
            ("GET", "/api/v1/agents/{id}/export"),
        ],
    )
    def test_another_orgs_agent_is_a_404(
        self, client: TestClient, auth: dict[str, str], method: str, path: str
    ) -> None:
        theirs = create(client, key_for_new_org(), name="Theirs")
        response = client.request(
            method, path.format(id=theirs["id"]), json={"name": "Mine"}, headers=auth
        )
        assert problem(response, 404)["detail"] == "Agent not found."
        assert all(
            a["name"] != "Theirs" for a in client.get("/api/v1/agents", headers=auth).json()["data"]
        )

    def test_a_malformed_id_is_a_404(self, client: TestClient, auth: dict[str, str]) -> None:
        problem(client.get("/api/v1/agents/not-an-id", headers=auth), 404)
