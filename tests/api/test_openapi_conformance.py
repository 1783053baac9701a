"""schemathesis against our own OpenAPI schema: every operation is called with generated
requests (valid ones and deliberately wrong ones) by a real API key of an admin with every
scope, on the app served over real HTTP. No answer may be a 5xx (but the documented 503 of a
part that is off), and every answer must be one the schema documents: its status, content
type, headers and body.

Why: the schema is what the TypeScript SDK is generated from and what users read at /api/docs;
a response that drifts from it breaks clients silently, and a request shape nobody thought of
must be refused in words (a 4xx), never crash the server.

Bounded for CI: a few examples per operation, the same ones every run, a timeout per request,
and only the generate phase (no shrinking of failures). Locally, SCHEMATHESIS_EXAMPLES=40
searches deeper and SCHEMATHESIS_RANDOM=1 draws other requests each run.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.core.failures import ServerError
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlmodel import Session

from agent_platform.api import create_api
from agent_platform.db import get_engine
from tests.api.live import serve
from tests.factories import make_user, personal_actor

from .live import key_headers

SETTINGS = {
    "API_REQUESTS_PER_MINUTE_PER_KEY": "1000000",
    "API_REQUESTS_PER_MINUTE_PER_ORG": "1000000",
    "OUTBOUND_ALLOW_HOSTS": "127.0.0.1",  # the seeded connection's base URL
}
TURNS = itertools.count()  # every other request uses the seeded objects' ids
EVERY_SCOPE = ["read", "run", "write", "admin"]
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "6"))


def not_a_crash(ctx: Any, response: Any, case: Any) -> None:
    """No 5xx but a 503: that one is documented on every operation and is the designed answer
    of a part that is off or down (Stripe not configured, /ready with no worker running)."""
    if response.status_code >= 500 and response.status_code != 503:
        raise ServerError(operation=case.operation.label, status_code=response.status_code)


CHECKS = [
    not_a_crash,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_api() -> Iterator[str]:
    yield from serve()


@pytest.fixture
def clean_state() -> Iterator[None]:
    """Instead of conftest's (which empties every table before each test): one organization
    for the whole module, and what the generated requests create stays for the next ones,
    as on a real server. Emptying the database per operation cost more than the requests."""
    yield


@pytest.fixture(scope="module")
def auth() -> Iterator[dict[str, str]]:
    """An admin's key with every scope, in an organization of its own, allowed more requests
    a minute than the module sends (a 429 would be documented, but would test nothing), and
    connections to 127.0.0.1 (nothing listens on the seeded connection's port)."""
    from agent_platform.settings import get_settings

    saved = {name: os.environ.get(name) for name in SETTINGS}
    os.environ.update(SETTINGS)
    get_settings.cache_clear()
    with Session(get_engine(), expire_on_commit=False) as session:
        actor = personal_actor(session, make_user(session))
        headers = key_headers(
            session, actor, role="admin", scopes=["read", "run", "write", "admin"]
        )
    yield headers
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()


# Objects made through the API before the run (request, the path parameter its id fills). The
# key's own id and the caller's membership are left out: a generated DELETE or PATCH on them
# would end the run's authentication.
MODEL = "openai/gpt-4o"
SEEDS: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "POST",
        "/api/v1/agents",
        {"name": "Seeded", "config": {"model": "openai/gpt-4o"}},
        "agent_id",
    ),
    ("POST", "/api/v1/agents/{agent_id}/threads", {"title": "Seeded"}, "thread_id"),
    (
        "POST",
        "/api/v1/agents/{agent_id}/schedules",
        {"name": "Hourly", "kind": "cron", "cron": "0 * * * *", "message": "status"},
        "schedule_id",
    ),
    ("POST", "/api/v1/agents/{agent_id}/suites", {"name": "Smoke"}, "suite_id"),
    ("POST", "/api/v1/agents/{agent_id}/webhooks", {"name": "CI"}, "trigger_id"),
    ("POST", "/api/v1/knowledge/collections", {"name": "Docs"}, "collection_id"),
    ("POST", "/api/v1/invitations", {"email": "seeded@example.com"}, "invitation_id"),
    (
        "POST",
        "/api/v1/providers",
        {"name": "openai", "kind": "openai", "api_key": "sk-seeded-0123456789abcdef"},
        "provider_id",
    ),
    (
        "POST",
        "/api/v1/integrations",
        {"name": "Seeded", "base_url": "http://127.0.0.1:9", "token": "t-seeded-123456"},
        "integration_id",
    ),
]


@pytest.fixture(scope="module")
def known_ids(live_api: str, auth: dict[str, str]) -> dict[str, str]:
    """Real ids of this organization's objects by path parameter name: half of the generated
    requests use them, so handlers get past "not found" with generated bodies and queries."""
    ids: dict[str, str] = {}
    with httpx.Client(base_url=live_api, headers=auth, timeout=30) as client:
        for method, path, body, name in SEEDS:
            made = client.request(method, path.format(**ids), json=body)
            assert made.status_code == 201, made.text
            answer = made.json()
            inner = answer.get("trigger") or answer.get("connection") or answer
            ids[name] = str(inner["id"])
    return ids


# The schema the app serves at /api/openapi.json (built from the same app object; one test per
# operation).
schema = schemathesis.openapi.from_dict(create_api().openapi())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("SCHEMATHESIS_RANDOM") != "1",  # CI: the same requests each run
)
def test_every_answer_is_documented_and_none_is_a_server_error(
    case: Any, live_api: str, auth: dict[str, str], known_ids: dict[str, str]
) -> None:
    # DELETEs keep generated ids: the seeded objects stay for the operations after them.
    if next(TURNS) % 2 and case.path_parameters and case.method != "DELETE":
        for name in case.path_parameters:
            if name in known_ids:
                case.path_parameters[name] = known_ids[name]
    case.call_and_validate(base_url=live_api, headers=auth, checks=CHECKS, timeout=15)
