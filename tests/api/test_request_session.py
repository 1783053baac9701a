"""One request, one transaction: the API-key check and the handler share a session, and the
REST views answer with declared response models (issue 11 §7)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from agent_platform.api import create_api
from agent_platform.db import get_engine, session_scope
from services import api_keys
from tests.factories import make_user, personal_actor


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


def _bearer() -> dict[str, str]:
    with session_scope() as session:
        actor = personal_actor(session, make_user(session))
        secret = api_keys.create_key(session, actor, name="ci", role="builder").secret
    return {"Authorization": f"Bearer {secret}"}


def _checkouts_during(call: Any) -> tuple[Any, int]:
    """The call's result and how many database connections it took from the pool."""
    taken: list[object] = []

    def count(*_args: object) -> None:
        taken.append(object())

    engine = get_engine()
    event.listen(engine, "checkout", count)
    try:
        return call(), len(taken)
    finally:
        event.remove(engine, "checkout", count)


@pytest.mark.parametrize("path", ["/api/v1/org", "/api/v1/integrations"])
def test_the_key_check_and_the_handler_use_one_connection(client: TestClient, path: str) -> None:
    headers = _bearer()
    response, connections = _checkouts_during(lambda: client.get(path, headers=headers))
    assert response.status_code == 200, response.text
    assert connections == 1


def test_a_refused_key_never_reaches_the_handler(client: TestClient) -> None:
    response = client.get("/api/v1/integrations", headers={"Authorization": "Bearer ap_nope"})
    assert response.status_code == 401
    assert response.json()["detail"] == "A valid API key is required."


def test_the_rest_views_declare_their_response_models(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()

    def answer(path: str) -> dict[str, Any]:
        ok = spec["paths"][path]["get"]["responses"]["200"]
        schema: dict[str, Any] = ok["content"]["application/json"]["schema"]
        return schema

    assert answer("/api/v1/runs/{run_id}") == {"$ref": "#/components/schemas/RunDetail"}
    assert answer("/api/v1/integrations") == {"$ref": "#/components/schemas/Page_ConnectionOut_"}
    models = spec["components"]["schemas"]
    assert set(models["RunDetail"]["properties"]) >= {
        "id", "agent_id", "status", "message", "variables", "output", "error", "tokens_used",
        "steps",
    }  # fmt: skip
    assert "credential_ref" not in models["ConnectionOut"]["properties"]


def test_an_unknown_run_is_a_404_in_words(client: TestClient) -> None:
    headers = _bearer()
    for run_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = client.get(f"/api/v1/runs/{run_id}", headers=headers)
        assert response.status_code == 404
        assert response.json()["detail"] == "Run not found."
