"""Edges found in review: paths that escape a base URL once decoded, API keys in headers the
guard forwards across origins, tool names that shadow each other, two people deciding one
approval at the same moment."""

from __future__ import annotations

import uuid

import pytest

from agent_platform.db import session_scope
from agent_platform.models import AgentConfig, ApprovalStatus, Role
from services.errors import Conflict, Invalid
from services.integrations import approvals, connections
from services.integrations.providers.http_api import REQUEST
from services.tools.registry import tools_for
from tests.factories import add_member
from tests.integrations.helpers import connect
from tests.services.runtime_helpers import make_agent, org_with_provider, start


@pytest.mark.parametrize(
    "path",
    [
        "/%2e%2e/other",
        "/.%2e/other",
        "/%252e%252e/other",
        "/..;/x",
        "/a\\..\\b",
        "/a%2fb",
        "//evil",
    ],
)
def test_paths_that_could_leave_the_base_url_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match="must be a path under"):
        REQUEST.build({"path": path}, {})


def test_ordinary_paths_are_kept() -> None:
    request = REQUEST.build({"path": "v1/items.json", "query": {"q": "a..b"}}, {})
    assert request.path == "/v1/items.json" and request.params == {"q": "a..b"}


def test_api_keys_cannot_ride_in_headers_forwarded_across_origins(session, fakes) -> None:
    actor = org_with_provider(session, "http://127.0.0.1:9")
    with pytest.raises(Invalid, match="cannot carry an API key"):
        connections.create_api_connection(
            session,
            actor,
            {
                "name": "x",
                "base_url": fakes["echo"].base_url,
                "auth_kind": "api_key",
                "header_name": "User-Agent",
                "api_key": "k-1234567",
            },
        )


def test_integration_tools_never_shadow_builtins_or_each_other() -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    config = AgentConfig.model_validate(
        {
            "tools": [
                {"kind": "builtin", "name": "http_request"},
                *[
                    {
                        "kind": "integration",
                        "name": "http.request",
                        "settings": {
                            "connection": c,
                            "provider": "http",
                            "connection_name": "Same",
                        },
                    }
                    for c in (a, b)
                ],
            ]
        }
    )
    names = sorted(tools_for(config))
    assert len(names) == 3 and "http_request" in names
    assert all(len(n) <= 64 for n in names)


def test_only_one_of_two_simultaneous_decisions_wins(session, llm, fakes) -> None:
    actor = org_with_provider(session, llm.base_url)
    _user, other_admin = add_member(session, actor.org_id, role=Role.ADMIN)
    session.commit()
    row = connect(session, actor, fakes["slack"], "slack")
    agent_id = make_agent(session, actor)
    run_id = start(actor, agent_id)
    with session_scope() as s:
        approval_id = approvals.request(
            s,
            org_id=actor.org_id,
            run_id=run_id,
            integration_id=row.id,
            action="slack.post_message",
            arguments={},
            timeout_seconds=60,
        ).id
    with session_scope() as s:
        approvals.decide(s, other_admin, approval_id, approve=True)
    with session_scope() as s, pytest.raises(Conflict, match="already approved"):
        approvals.decide(s, actor, approval_id, approve=False)
    with session_scope() as s:
        assert approvals.outcome(s, approval_id) == ApprovalStatus.APPROVED
