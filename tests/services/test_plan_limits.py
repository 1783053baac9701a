"""Tier limits refuse with "upgrade to <next tier> for …" when plans are on, never when
billing is off (an instance admin's per-org limit then says so), and the agent and seat
limits hold under concurrent requests."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlmodel import Session

from agent_platform.db import session_scope
from agent_platform.models import Organization, Tier
from services import agents, invitations, organizations, runs
from services.errors import Invalid
from services.plan_limits import limit_reached, next_tier
from tests.factories import make_user, personal_actor
from tests.plans import billing_on  # noqa: F401 - fixture


def owner_with(session: Session, *, tier: Tier = Tier.STARTER, **overrides: int):
    actor = personal_actor(session, make_user(session))
    org = session.get(Organization, actor.org_id)
    org.tier = tier
    for name, value in overrides.items():
        setattr(org, name, value)
    session.add(org)
    session.commit()
    return actor


def new_agent(actor, name: str) -> uuid.UUID:
    with session_scope() as s:
        return agents.create_agent(s, actor, name=name, config={}).id


def test_next_tiers() -> None:
    assert [next_tier(t) for t in Tier] == [Tier.PRO, Tier.TEAM, Tier.ENTERPRISE, None]


@pytest.mark.usefixtures("billing_on")
class TestWithPlansOn:
    def test_agents(self, session: Session) -> None:
        actor = owner_with(session)  # starter: 5 agents
        for i in range(5):
            new_agent(actor, f"Agent {i}")
        with pytest.raises(Invalid) as refused:
            new_agent(actor, "One more")
        assert refused.value.message == (
            "Your Starter plan allows 5 agents. Archive one, or upgrade to Pro for more agents."
        )

    def test_runs_a_month(self, session: Session) -> None:
        actor = owner_with(session, tier=Tier.PRO, max_runs_per_month=0)
        agent_id = new_agent(actor, "Helper")
        with pytest.raises(Invalid, match=r"Pro plan allows 0 runs a month\. Upgrade to Team"):
            with session_scope() as s:
                runs.start_run(s, actor, agent_id, message="hi")

    def test_runs_at_once(self, session: Session) -> None:
        actor = owner_with(session, tier=Tier.TEAM, max_concurrent_runs=0)
        agent_id = new_agent(actor, "Helper")
        with pytest.raises(Invalid, match="no runs at once. Upgrade to Enterprise for runs at"):
            with session_scope() as s:
                runs.start_run(s, actor, agent_id, message="hi")

    def test_seats(self, session: Session) -> None:
        actor = owner_with(session, max_members=1)
        with pytest.raises(Invalid) as refused:
            invitations.create_invitation(session, actor, email="b@example.com", role="builder")
        assert refused.value.message == (
            "Your Starter plan allows 1 members. Remove a member, or upgrade to Pro for more seats."
        )

    def test_the_top_tier_offers_no_upgrade(self, session: Session) -> None:
        actor = owner_with(session, tier=Tier.ENTERPRISE, max_agents=0)
        with pytest.raises(Invalid, match="Archive one, or contact us for more.$"):
            new_agent(actor, "Helper")

    def test_two_creations_at_the_last_place_one_passes(self, session: Session) -> None:
        actor = owner_with(session, max_agents=2)
        new_agent(actor, "First")
        first_checked, second_done = threading.Event(), threading.Event()
        outcome: dict[str, object] = {}

        def second() -> None:
            first_checked.wait(30)
            try:
                outcome["second"] = new_agent(actor, "Third")
            except Exception as exc:  # noqa: BLE001 - whatever refused it is the outcome
                outcome["second"] = exc
            finally:
                second_done.set()

        thread = threading.Thread(target=second)
        thread.start()
        with session_scope() as s:
            outcome["first"] = agents.create_agent(s, actor, name="Second", config={}).id
            first_checked.set()
            second_done.wait(2)  # it waits for our lock (PostgreSQL) until we commit
        thread.join(30)
        assert isinstance(outcome["first"], uuid.UUID)
        assert isinstance(outcome["second"], Invalid), outcome["second"]
        assert "allows 2 agents" in str(outcome["second"])


class TestWithBillingOff:
    def test_no_limit_applies(self, session: Session) -> None:
        actor = owner_with(session)
        for i in range(6):  # past the starter tier's 5
            new_agent(actor, f"Agent {i}")
        assert organizations.tier_limits(session, actor).max_agents == -1

    def test_an_admins_limit_never_offers_an_upgrade(self, session: Session) -> None:
        actor = owner_with(session, max_agents=1, max_runs_per_month=0)
        agent_id = new_agent(actor, "Helper")
        with pytest.raises(Invalid) as refused:
            new_agent(actor, "Another")
        assert refused.value.message == (
            "Your organization is limited to 1 agents by your instance administrator. "
            "Archive one, or ask them to raise it."
        )
        with pytest.raises(Invalid) as refused_run:
            with session_scope() as s:
                runs.start_run(s, actor, agent_id, message="hi")
        assert "upgrade" not in refused_run.value.message.lower()
        assert refused_run.value.message.endswith("Ask them to raise it.")

    def test_wording_helper(self, session: Session) -> None:
        actor = owner_with(session)
        limits = organizations.tier_limits(session, actor)
        assert "upgrade" not in limit_reached(limits, allows="3 things", more="more").lower()
