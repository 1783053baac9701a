"""Issue 10 #6: "ask a person first" means another person, and giving an agent a connection
is an admin's decision unless an admin opened that connection to builders."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import Session

from agent_platform.db import session_scope
from agent_platform.models import ApprovalStatus, Integration, Role
from services import agents, organizations
from services.access import Actor
from services.errors import Forbidden
from services.integrations import approvals, connections
from tests.factories import add_member, audit_entries
from tests.integrations.helpers import grant
from tests.services.runtime_helpers import make_agent, org_with_provider, start


def _approval(actor: Actor, row_id: uuid.UUID, run_id: uuid.UUID) -> uuid.UUID:
    with session_scope() as s:
        return approvals.request(
            s,
            org_id=actor.org_id,
            run_id=run_id,
            integration_id=row_id,
            action="http.request",
            arguments={},
            timeout_seconds=60,
        ).id


def _http_connection(session: Session, actor: Actor, echo: object) -> Integration:
    row = connections.create_api_connection(
        session,
        actor,
        {
            "name": "echo",
            "base_url": echo.base_url,
            "auth_kind": "bearer",
            "token": "t-123456",
        },
    )
    session.commit()
    return row


@pytest.fixture
def asked(session: Session, fakes: dict) -> tuple[Actor, uuid.UUID]:
    """An owner's run waiting for approval of an action."""
    owner = org_with_provider(session, "http://127.0.0.1:9")
    row = _http_connection(session, owner, fakes["echo"])
    agent_id = make_agent(session, owner, tools=[grant(row, "http.request", approval=True)])
    run_id = start(owner, agent_id)
    return owner, _approval(owner, row.id, run_id)


class TestSelfApproval:
    def test_the_person_whose_run_asked_cannot_approve_it(self, asked) -> None:
        owner, approval_id = asked
        with session_scope() as s, pytest.raises(Forbidden, match="another member"):
            approvals.decide(s, owner, approval_id, approve=True)
        with session_scope() as s:
            assert approvals.outcome(s, approval_id) == ApprovalStatus.PENDING

    def test_another_member_may_approve_it(self, session, asked) -> None:
        owner, approval_id = asked
        _user, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        session.commit()
        with session_scope() as s:
            row = approvals.decide(s, builder, approval_id, approve=True)
            assert row.decided_by_id == builder.user_id
        with session_scope() as s:
            assert approvals.outcome(s, approval_id) == ApprovalStatus.APPROVED

    def test_the_person_whose_run_asked_may_still_decline(self, asked) -> None:
        owner, approval_id = asked
        with session_scope() as s:
            approvals.decide(s, owner, approval_id, approve=False)
        with session_scope() as s:
            assert approvals.outcome(s, approval_id) == ApprovalStatus.DENIED

    def test_allowed_when_the_org_turns_self_approval_on(self, asked) -> None:
        owner, approval_id = asked
        with session_scope() as s:
            organizations.set_self_approval(s, owner, allowed=True)
        with session_scope() as s:
            approvals.decide(s, owner, approval_id, approve=True)
        with session_scope() as s:
            assert approvals.outcome(s, approval_id) == ApprovalStatus.APPROVED
            [entry] = audit_entries(s, "org.self_approval_changed", org_id=owner.org_id)
            assert entry.details["allowed"] is True and entry.actor_id == owner.user_id

    def test_only_admins_change_the_switch(self, session, asked) -> None:
        owner, _approval_id = asked
        _user, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        with pytest.raises(Forbidden):
            organizations.set_self_approval(session, builder, allowed=True)
        assert organizations.get_org(session, owner).allow_self_approval is False


class TestGrantNeedsAdmin:
    @pytest.fixture
    def setup(self, session, fakes) -> tuple[Actor, Actor, Integration]:
        owner = org_with_provider(session, "http://127.0.0.1:9")
        row = _http_connection(session, owner, fakes["echo"])
        _user, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        session.commit()
        return owner, builder, row

    def _config(self, row: Integration) -> dict:
        return {"model": "fake/gpt-a", "tools": [grant(row, "http.request")]}

    def test_builder_cannot_grant_a_connection(self, session, setup) -> None:
        _owner, builder, row = setup
        with pytest.raises(Forbidden, match="Only an admin") as err:
            agents.create_agent(session, builder, name="Sneaky", config=self._config(row))
        assert "tools" in err.value.fields
        agent = agents.create_agent(session, builder, name="Plain", config={"model": "fake/a"})
        with pytest.raises(Forbidden, match="Only an admin"):
            agents.update_agent(session, builder, agent.id, config=self._config(row))

    def test_admin_can_grant_it(self, session, setup) -> None:
        owner, _builder, row = setup
        _user, admin = add_member(session, owner.org_id, role=Role.ADMIN)
        agents.create_agent(session, admin, name="Ok", config=self._config(row))

    def test_builder_can_grant_when_an_admin_allows_it(self, session, setup) -> None:
        owner, builder, row = setup
        connections.set_builders_may_use(session, owner, row.id, allowed=True)
        session.flush()
        agent = agents.create_agent(session, builder, name="Ok", config=self._config(row))
        assert agent.config["tools"][0]["settings"]["connection"] == str(row.id)
        [entry] = audit_entries(session, "integration.builders_may_use", org_id=owner.org_id)
        assert entry.details["allowed"] is True and entry.target_id == str(row.id)

    def test_builder_may_edit_an_agent_an_admin_already_granted(self, session, setup) -> None:
        owner, builder, row = setup
        agent = agents.create_agent(session, owner, name="Granted", config=self._config(row))
        config = {**self._config(row), "instructions": "Be brief."}
        _agent, version = agents.update_agent(session, builder, agent.id, config=config)
        assert version is not None

    def test_only_admins_set_the_flag(self, session, setup) -> None:
        _owner, builder, row = setup
        with pytest.raises(Forbidden):
            connections.set_builders_may_use(session, builder, row.id, allowed=True)
