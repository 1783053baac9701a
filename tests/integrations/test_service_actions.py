"""A service run's integration actions use the seller's connections (the version's owner),
and the buyer's run steps keep the seller's connection, arguments and results out; an action
that needs a person's approval is refused in a service run (nobody in the buyer's org may
approve the seller's connection, and the seller is not watching the buyer's run)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from agent_platform.db import session_scope
from services import runs
from services.marketplace import service_runs
from tests.fakes.openai_server import Turn
from tests.integrations.helpers import audit_calls, connect, grant
from tests.services.billing_helpers import localstripe, stripe, stripe_server  # noqa: F401
from tests.services.runtime_helpers import execute
from tests.services.test_service_runs import make_service, take_charges

POST = Turn(
    tool_calls=[
        {
            "id": "call_1",
            "name": "slack_post_message",
            "arguments": {"channel": "C0GENERAL", "text": "Hi!"},
        }
    ]
)


def _service_run(session: Session, llm: Any, slack: Any, *, approval: bool) -> tuple[Any, Any]:
    connection: dict[str, Any] = {}

    def tools(seller: Any) -> list[dict[str, Any]]:
        connection["row"] = connect(session, seller, slack, "slack")
        return [grant(connection["row"], "slack.post_message", approval=approval)]

    service = make_service(session, llm, tools=tools)
    take_charges(session, service)
    with session_scope() as s:
        service_runs.subscribe(s, service.buyer, service.listing_id, max_spend_per_run_usd=1)
        run_id = service_runs.start_service_run(
            s, service.buyer, service.listing_id, message="tell #general hi"
        ).id
    llm.script(POST, Turn(text="Posted."))
    run, _ = execute(run_id)
    return service, run


def test_a_service_run_posts_through_the_sellers_connection(session, llm, fakes, stripe):  # noqa: F811
    slack = fakes["slack"]
    before = len(slack.posted)
    service, run = _service_run(session, llm, slack, approval=False)
    assert run.status.value == "succeeded", run.error
    assert len(slack.posted) == before + 1 and slack.posted[-1]["channel"] == "C0GENERAL"
    with session_scope() as s:
        steps = runs.get_steps(s, service.buyer, run.id)
        tool = next(step for step in steps if step.kind == "tool")
        assert tool.tool_name == "slack_post_message"
        assert tool.arguments is None and tool.result is None and tool.error is None
    (entry,) = audit_calls(session, service.seller.org_id)  # the connection's owner's log
    assert entry.details["status"] == "ok" and entry.details["run_id"] == str(run.id)


def test_an_action_needing_approval_is_refused_in_a_service_run(session, llm, fakes, stripe):  # noqa: F811
    slack = fakes["slack"]
    before = len(slack.posted)
    service, run = _service_run(session, llm, slack, approval=True)
    assert run.status.value == "succeeded", run.error  # the model read the refusal and answered
    assert len(slack.posted) == before
    (entry,) = audit_calls(session, service.seller.org_id)
    assert entry.details["status"] == "refused"
    assert "service's run cannot ask" in entry.details["error"]
