"""API keys with scopes and expiry, access tokens exchanged for them, and the request limits."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any

import jwt
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from agent_platform.api import create_api, errors
from agent_platform.api.auth import router as auth_router
from agent_platform.api.v1 import scoped
from agent_platform.db import session_scope
from agent_platform.models import ApiKey, Role
from agent_platform.models.base import utcnow
from agent_platform.settings import get_settings
from services import access_tokens, api_keys
from services.access import Actor
from services.errors import Invalid
from tests.factories import make_user, personal_actor


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def new_key(
    *, role: str = "admin", scopes: list[str] | None = None, days: int | None = None
) -> str:
    with session_scope() as session:
        actor = personal_actor(session, make_user(session))
        created = api_keys.create_key(
            session, actor, name="ci", role=role, scopes=scopes, expires_in_days=days
        )
        return created.secret


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return dict(response.json())


class TestKeysWithScopesAndExpiry:
    def test_scopes_always_include_read_and_are_stored_in_order(self) -> None:
        with session_scope() as session:
            actor = personal_actor(session, make_user(session))
            created = api_keys.create_key(session, actor, name="ci", scopes=["write", "run"])
            assert created.key.scopes == ["read", "run", "write"]
            assert created.key.expires_at is None

    def test_expiry_is_set_in_days_from_now(self) -> None:
        with session_scope() as session:
            actor = personal_actor(session, make_user(session))
            created = api_keys.create_key(session, actor, name="ci", expires_in_days=30)
            assert created.key.expires_at is not None
            left = created.key.expires_at - utcnow()
            assert timedelta(days=29, hours=23) < left <= timedelta(days=30)

    def test_admin_scope_needs_the_admin_role(self) -> None:
        with session_scope() as session:
            actor = personal_actor(session, make_user(session))
            with pytest.raises(Invalid) as refused:
                api_keys.create_key(session, actor, name="ci", role="builder", scopes=["admin"])
            assert refused.value.fields == {
                "scopes": "The admin scope needs a key with the admin role."
            }

    @pytest.mark.parametrize(
        ("scopes", "days", "field"),
        [(["everything"], None, "scopes.0"), (None, 0, "expires_in_days")],
    )
    def test_unknown_scope_or_bad_expiry_is_invalid(
        self, scopes: list[str] | None, days: int | None, field: str
    ) -> None:
        with session_scope() as session:
            actor = personal_actor(session, make_user(session))
            with pytest.raises(Invalid) as refused:
                api_keys.create_key(session, actor, name="ci", scopes=scopes, expires_in_days=days)
            assert field in refused.value.fields

    def test_an_expired_key_is_a_401_that_says_so(self, client: TestClient) -> None:
        secret = new_key()
        with session_scope() as session:
            key = session.exec(select(ApiKey)).one()
            key.expires_at = utcnow() - timedelta(seconds=1)
            session.add(key)
        body = problem(client.get("/api/v1/org", headers=bearer(secret)), 401)
        assert body["detail"] == "This API key has expired; create a new one."

    def test_a_key_without_a_scope_is_refused_with_403(self, client: TestClient) -> None:
        secret = new_key(scopes=["read", "run", "write"])  # admin role, no admin scope
        body = problem(client.get("/api/v1/api-keys", headers=bearer(secret)), 403)
        assert "does not have the “admin” scope" in body["detail"]
        assert client.get("/api/v1/org", headers=bearer(secret)).status_code == 200  # read


class TestKeyEndpoints:
    def test_an_admin_key_lists_creates_and_revokes_keys(self, client: TestClient) -> None:
        admin = bearer(new_key(scopes=["admin"]))
        made = client.post(
            "/api/v1/api-keys",
            json={"name": "deploy", "role": "builder", "scopes": ["run"], "expires_in_days": 7},
            headers=admin,
        )
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["secret"].startswith("ap_") and body["prefix"] == body["secret"][:9]
        assert body["scopes"] == ["read", "run"] and body["role"] == "builder"
        assert body["expires_at"] is not None
        # the new key acts for the person behind the admin key, so it authenticates
        org = client.get("/api/v1/org", headers=bearer(body["secret"]))
        assert org.status_code == 200 and org.json()["role"] == "builder"

        listed = client.get("/api/v1/api-keys", params={"limit": 1}, headers=admin).json()
        assert [k["name"] for k in listed["data"]] == ["deploy"]  # newest first
        assert "secret" not in listed["data"][0]
        rest = client.get(
            "/api/v1/api-keys", params={"cursor": listed["next_cursor"]}, headers=admin
        ).json()
        assert [k["name"] for k in rest["data"]] == ["ci"] and rest["next_cursor"] is None

        gone = client.delete(f"/api/v1/api-keys/{body['id']}", headers=admin)
        assert gone.status_code == 204
        problem(client.get("/api/v1/org", headers=bearer(body["secret"])), 401)
        problem(client.delete(f"/api/v1/api-keys/{body['id']}", headers=admin), 404)

    def test_a_bad_key_body_is_a_422_naming_the_field(self, client: TestClient) -> None:
        admin = bearer(new_key(scopes=["admin"]))
        response = client.post("/api/v1/api-keys", json={"name": ""}, headers=admin)
        assert problem(response, 422)["errors"] == {"name": "Name is required."}

    def test_another_orgs_key_cannot_be_revoked(self, client: TestClient) -> None:
        mine = bearer(new_key(scopes=["admin"]))
        theirs = client.post(
            "/api/v1/api-keys", json={"name": "theirs"}, headers=bearer(new_key(scopes=["admin"]))
        ).json()
        problem(client.delete(f"/api/v1/api-keys/{theirs['id']}", headers=mine), 404)


class TestAccessTokens:
    def test_a_key_is_exchanged_for_a_token_that_authenticates(self, client: TestClient) -> None:
        secret = new_key(role="builder")
        issued = client.post("/api/v1/auth/token", headers=bearer(secret))
        assert issued.status_code == 200, issued.text
        body = issued.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 900
        assert body["scopes"] == ["read", "run", "write"]
        org = client.get("/api/v1/org", headers=bearer(body["access_token"]))
        assert org.status_code == 200 and org.json()["role"] == "builder"

    def test_a_token_may_carry_fewer_scopes_than_its_key(self, client: TestClient) -> None:
        secret = new_key(scopes=["admin"])
        narrow = client.post(
            "/api/v1/auth/token", json={"scopes": ["read"]}, headers=bearer(secret)
        ).json()
        assert narrow["scopes"] == ["read"]
        problem(client.get("/api/v1/api-keys", headers=bearer(narrow["access_token"])), 403)
        full = client.post("/api/v1/auth/token", headers=bearer(secret)).json()
        listed = client.get("/api/v1/api-keys", headers=bearer(full["access_token"]))
        assert listed.status_code == 200

    def test_a_token_never_widens_its_keys_scopes(self, client: TestClient) -> None:
        secret = new_key(scopes=["read"])
        body = client.post(
            "/api/v1/auth/token", json={"scopes": ["read", "admin"]}, headers=bearer(secret)
        ).json()
        assert body["scopes"] == ["read"]

    def test_a_token_stops_working_when_its_key_is_revoked(self, client: TestClient) -> None:
        secret = new_key()
        token = client.post("/api/v1/auth/token", headers=bearer(secret)).json()["access_token"]
        with session_scope() as session:
            key = session.exec(select(ApiKey)).one()
            key.revoked_at = utcnow()
            session.add(key)
        problem(client.get("/api/v1/org", headers=bearer(token)), 401)

    def test_a_token_cannot_be_exchanged_for_another(self, client: TestClient) -> None:
        token = client.post("/api/v1/auth/token", headers=bearer(new_key())).json()
        body = problem(
            client.post("/api/v1/auth/token", headers=bearer(token["access_token"])), 401
        )
        assert "not another token" in body["detail"]

    def test_an_expired_token_is_a_401_that_says_so(self, client: TestClient) -> None:
        new_key()
        with session_scope() as session:
            key = session.exec(select(ApiKey)).one()
            old, _ = access_tokens.sign(
                key.id, key.org_id, frozenset({"read"}), now=utcnow() - timedelta(minutes=16)
            )
        body = problem(client.get("/api/v1/org", headers=bearer(old)), 401)
        assert "expired" in body["detail"]

    def test_a_token_signed_with_another_key_is_refused(self, client: TestClient) -> None:
        new_key()
        with session_scope() as session:
            key = session.exec(select(ApiKey)).one()
        forged = jwt.encode(
            {
                "sub": str(key.id),
                "scope": "read run write admin",
                "aud": access_tokens.AUDIENCE,
                "exp": int((utcnow() + timedelta(minutes=5)).timestamp()),
            },
            "guessed-secret-of-at-least-32-bytes-long",
            algorithm="HS256",
        )
        problem(client.get("/api/v1/org", headers=bearer(forged)), 401)
        unsigned = jwt.encode(
            {"sub": str(key.id), "scope": "read", "aud": access_tokens.AUDIENCE, "exp": 2**40},
            None,
            algorithm="none",
        )
        problem(client.get("/api/v1/org", headers=bearer(unsigned)), 401)

    def test_the_signing_key_is_not_stored_in_the_database(self) -> None:
        with session_scope() as session:
            keys = session.exec(select(ApiKey)).all()
        signing = access_tokens._signing_key()
        assert all(signing.hex() not in str(k.model_dump()) for k in keys)
        assert len(signing) == 32


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("API_REQUESTS_PER_MINUTE_PER_KEY", "3")
    monkeypatch.setenv("API_REQUESTS_PER_MINUTE_PER_ORG", "5")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("API_REQUESTS_PER_MINUTE_PER_KEY")
    monkeypatch.delenv("API_REQUESTS_PER_MINUTE_PER_ORG")
    get_settings.cache_clear()


class TestRateLimits:
    def test_each_response_says_what_is_left_and_the_one_over_is_a_429(
        self, client: TestClient, limits: None
    ) -> None:
        auth = bearer(new_key())
        left = []
        for _ in range(3):
            response = client.get("/api/v1/org", headers=auth)
            assert response.status_code == 200
            assert response.headers["ratelimit-limit"] == "3"
            assert 1 <= int(response.headers["ratelimit-reset"]) <= 60
            left.append(response.headers["ratelimit-remaining"])
        assert left == ["2", "1", "0"]
        over = client.get("/api/v1/org", headers=auth)
        body = problem(over, 429)
        assert body["detail"].startswith("Too many API requests. Try again in")
        assert 1 <= int(over.headers["retry-after"]) <= 60
        assert over.headers["ratelimit-remaining"] == "0"

    def test_the_organizations_allowance_is_shared_by_its_keys(
        self, client: TestClient, limits: None
    ) -> None:
        with session_scope() as session:
            actor = personal_actor(session, make_user(session))
            one, two = (
                api_keys.create_key(session, actor, name=n, role=Role.ADMIN.value).secret
                for n in ("one", "two")
            )
        for _ in range(3):
            assert client.get("/api/v1/org", headers=bearer(one)).status_code == 200
        assert client.get("/api/v1/org", headers=bearer(two)).status_code == 200
        last = client.get("/api/v1/org", headers=bearer(two))
        assert last.status_code == 200 and last.headers["ratelimit-limit"] == "5"
        assert last.headers["ratelimit-remaining"] == "0"
        problem(client.get("/api/v1/org", headers=bearer(two)), 429)

    def test_another_organization_is_not_held_up(self, client: TestClient, limits: None) -> None:
        busy = bearer(new_key())
        for _ in range(4):
            client.get("/api/v1/org", headers=busy)
        assert client.get("/api/v1/org", headers=bearer(new_key())).status_code == 200

    def test_unauthenticated_requests_are_not_counted_against_a_key(
        self, client: TestClient, limits: None
    ) -> None:
        for _ in range(5):
            client.get("/api/v1/org", headers=bearer("ap_wrong"))
        response = client.get("/api/v1/org", headers=bearer(new_key()))
        assert response.headers["ratelimit-remaining"] == "2"


def test_an_unknown_key_id_in_a_path_is_not_found_or_invalid(client: TestClient) -> None:
    admin = bearer(new_key(scopes=["admin"]))
    problem(client.delete(f"/api/v1/api-keys/{uuid.uuid4()}", headers=admin), 404)
    problem(client.delete("/api/v1/api-keys/not-an-id", headers=admin), 422)


def test_scoped_run_admits_run_and_admin_keys_only() -> None:
    """`scoped("run")` as the runs router uses it: a read/write key is refused, admin implies
    every scope."""
    app = FastAPI()
    errors.install(app)

    @app.post("/api/v1/probe")
    def probe(actor: Annotated[Actor, Depends(scoped("run"))]) -> dict[str, str]:
        return {"org": str(actor.org_id)}

    client = TestClient(app)
    assert client.post("/api/v1/probe", headers=bearer(new_key(scopes=["run"]))).status_code == 200
    assert (
        client.post("/api/v1/probe", headers=bearer(new_key(scopes=["admin"]))).status_code == 200
    )
    refused = client.post("/api/v1/probe", headers=bearer(new_key(scopes=["read", "write"])))
    assert "“run” scope" in problem(refused, 403)["detail"]
    problem(client.post("/api/v1/probe"), 401)


def test_a_run_token_of_an_admin_key_may_run() -> None:
    app = FastAPI()
    errors.install(app)
    app.include_router(auth_router)

    @app.post("/api/v1/probe")
    def probe(actor: Annotated[Actor, Depends(scoped("run"))]) -> dict[str, str]:
        return {"org": str(actor.org_id)}

    client = TestClient(app)
    secret = new_key(scopes=["admin"])
    token = client.post(
        "/api/v1/auth/token", json={"scopes": ["run"]}, headers=bearer(secret)
    ).json()
    assert token["scopes"] == ["read", "run"]
    assert client.post("/api/v1/probe", headers=bearer(token["access_token"])).status_code == 200
    refused = client.get("/api/v1/api-keys", headers=bearer(token["access_token"]))
    assert "“admin” scope" in problem(refused, 403)["detail"]
