"""Every API error is one shape: application/problem+json with type, title, status, detail."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from agent_platform.api import create_api, errors
from agent_platform.db import session_scope
from services import api_keys
from tests.conftest import USE_PG
from tests.factories import make_user, personal_actor

MIB = 1024 * 1024


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


@pytest.fixture
def auth() -> dict[str, str]:
    with session_scope() as session:
        actor = personal_actor(session, make_user(session))
        secret = api_keys.create_key(session, actor, name="ci").secret
    return {"Authorization": f"Bearer {secret}"}


def assert_problem(response: Any, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"urn:agent-platform:problem:{slug}"
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return dict(body)


def test_missing_key_is_a_401_problem_with_a_bearer_challenge(client: TestClient) -> None:
    response = client.get("/api/v1/org")
    body = assert_problem(response, 401, "unauthenticated")
    assert body["detail"] == "A valid API key is required."
    assert body["title"] == "Unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_unknown_path_is_a_404_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/api/v1/no-such-thing"), 404, "not-found")
    assert body["detail"] == "No API endpoint at /api/v1/no-such-thing."


def test_a_domain_not_found_is_a_404_problem(client: TestClient, auth: dict[str, str]) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    body = assert_problem(
        client.get(f"/api/v1/schedules/{missing}", headers=auth), 404, "not-found"
    )
    assert body["detail"] == "Schedule not found."


def test_a_query_that_does_not_parse_names_the_field(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = client.get("/api/v1/schedules", params={"limit": "many"}, headers=auth)
    body = assert_problem(response, 422, "invalid")
    assert body["errors"] == {"limit": "Limit must be a whole number."}
    assert body["detail"] == "Please correct: Limit must be a whole number."


def test_a_body_that_is_not_json_is_a_422_problem(client: TestClient, auth: dict[str, str]) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    response = client.post(
        f"/api/v1/agents/{missing}/schedules",
        content=b"{not json",
        headers={**auth, "Content-Type": "application/json"},
    )
    body = assert_problem(response, 422, "invalid")
    assert body["errors"] == {"body": "The body is not valid JSON."}


def test_a_body_that_is_not_utf8_is_the_same_422(client: TestClient, auth: dict[str, str]) -> None:
    """FastAPI answers 400 "There was an error parsing the body" here; clients see one case."""
    response = client.post(
        "/api/v1/agents", content=b"\xff\xfe{", headers={**auth, "Content-Type": "application/json"}
    )
    body = assert_problem(response, 422, "invalid")
    assert body["errors"] == {"body": "The body is not valid JSON."}


def test_a_nul_character_is_a_422_not_a_server_error(
    client: TestClient, auth: dict[str, str]
) -> None:
    """PostgreSQL refuses NUL in text (found by schemathesis); SQLite takes it."""
    searched = client.get("/api/v1/schedules?search=a%00b", headers=auth)
    named = client.post("/api/v1/agents", json={"name": "a\u0000b"}, headers=auth)
    for response in (searched, named):
        assert response.status_code < 500, response.text
    assert_problem(named, 422, "invalid")  # names refuse control characters themselves
    if USE_PG:
        assert assert_problem(searched, 422, "invalid")["detail"] == errors.NUL_TEXT


def test_a_number_past_the_databases_range_is_a_422(
    client: TestClient, auth: dict[str, str]
) -> None:
    """An offset of 10^20 (bigint on PostgreSQL, 64 bits in SQLite's driver): found by
    schemathesis on the admin and schedule lists."""
    response = client.get("/api/v1/schedules?offset=100000000000000000000", headers=auth)
    assert assert_problem(response, 422, "invalid")["detail"] == errors.OUT_OF_RANGE
    version = client.get(f"/api/v1/agents/{uuid.uuid4()}/versions/756094739544", headers=auth)
    assert "number" in assert_problem(version, 422, "invalid")["errors"]


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/agents/x/schedules",
        content=b"x" * (MIB + 1),
        headers={**auth, "Content-Type": "application/json"},
    )
    body = assert_problem(response, 413, "request-too-large")
    assert body["detail"] == "The request body is larger than 1 MiB; send less."


def test_a_streamed_body_is_refused_once_it_passes_the_limit(
    client: TestClient, auth: dict[str, str]
) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(8):  # 2 MiB in 256 KiB pieces, no Content-Length
            sent.append(1)
            yield b" " * (256 * 1024)

    response = client.post(
        "/api/v1/agents/x/schedules",
        content=chunks(),
        headers={**auth, "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    body = assert_problem(response, 413, "request-too-large")
    assert "larger than 1 MiB" in str(body["detail"])


def test_a_body_under_the_limit_is_not_refused(client: TestClient, auth: dict[str, str]) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    response = client.post(
        f"/api/v1/agents/{missing}/schedules",
        json={"name": "n", "message": "x" * (MIB - 1024)},
        headers=auth,
    )
    # read whole and parsed: the service itself says what is wrong with the message
    body = assert_problem(response, 422, "invalid")
    assert body["errors"] == {"message": "Message must be at most 100,000 characters."}


def test_the_web_app_outside_api_keeps_its_own_errors(client: TestClient) -> None:
    response = client.post("/health", content=b"x" * (MIB + 1))
    assert response.status_code != 413


def test_image_uploads_may_be_larger_but_not_unbounded(
    client: TestClient, auth: dict[str, str]
) -> None:
    path = "/api/v1/marketplace/listings/00000000-0000-0000-0000-000000000000/screenshots"
    image = client.post(path, content=b"x" * (MIB + MIB // 2), headers=auth)
    assert image.status_code != 413, image.text  # past the 1 MiB default, within 2 MB
    huge = client.post(path, content=b"x" * (3 * MIB), headers=auth)
    assert_problem(huge, 413, "request-too-large")


def test_the_openapi_schema_documents_the_problem_shape(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    responses = spec["paths"]["/api/v1/agents"]["post"]["responses"]
    for status in ("401", "403", "404", "413", "422", "429"):
        content = responses[status]["content"]["application/problem+json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # a shape never sent


def test_an_unexpected_error_is_a_500_problem_without_a_trace() -> None:
    app = FastAPI()
    errors.install(app)

    @app.get("/api/v1/broken")
    def broken() -> None:
        raise RuntimeError("secret internals")

    response = TestClient(app, raise_server_exceptions=False).get("/api/v1/broken")
    body = assert_problem(response, 500, "internal-error")
    assert body["detail"] == "Something went wrong on our side; the error was logged."
    assert "secret internals" not in response.text
