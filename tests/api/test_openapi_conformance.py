"""schemathesis against our own OpenAPI schema: every operation is called with generated
requests (valid ones and deliberately wrong ones) by a real API key of an admin with every
scope, on the app served over real HTTP. No answer may be a 5xx, and every answer must be one
the schema documents: its status, content type, headers and body.

Why: the schema is what the TypeScript SDK is generated from and what users read at /api/docs;
a response that drifts from it breaks clients silently, and a request shape nobody thought of
must be refused in words (a 4xx), never crash the server.

Bounded for CI: a few examples per operation (SCHEMATHESIS_EXAMPLES raises it locally for a
deeper search), a timeout per request, and only the generate phase (no shrinking of failures).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlmodel import Session

from agent_platform.api import create_api
from tests.api.live import serve
from tests.factories import make_user, personal_actor

from .live import key_headers

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "4"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_api() -> Iterator[str]:
    yield from serve()


@pytest.fixture
def auth(session: Session) -> dict[str, str]:
    """An admin's key with every scope, in an organization of its own (made per operation:
    every test starts from an empty database)."""
    actor = personal_actor(session, make_user(session))
    return key_headers(session, actor, role="admin", scopes=["read", "run", "write", "admin"])


# The schema the app serves at /api/openapi.json (built from the same app object; one test per
# operation).
schema = schemathesis.openapi.from_dict(create_api().openapi())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_answer_is_documented_and_none_is_a_server_error(
    case: Any, live_api: str, auth: dict[str, str]
) -> None:
    # /ready answers 503 by design while no worker or scheduler runs (none does here).
    checks = CHECKS[1:] if case.operation.path == "/ready" else CHECKS
    case.call_and_validate(base_url=live_api, headers=auth, checks=checks, timeout=15)
