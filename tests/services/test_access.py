"""One permission table: what the UI offers and what services allow come from the same answer."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import Session

from agent_platform.models import Role
from services import agents
from services.access import Actor, Permission, can, granted, require
from services.errors import Forbidden
from services.memory import collections
from tests.factories import add_member, make_user, personal_actor


def test_each_role_gets_what_its_rank_allows() -> None:
    assert granted(Role.VIEWER) == []
    assert granted(Role.BUILDER) == ["agents.write", "knowledge.write"]
    assert granted(Role.ADMIN) == [p.value for p in Permission]
    assert granted(Role.OWNER) == granted(Role.ADMIN)


def test_require_refuses_in_words() -> None:
    viewer = Actor(user_id=uuid.uuid4(), org_id=uuid.uuid4(), role=Role.VIEWER)
    with pytest.raises(Forbidden) as refused:
        require(viewer, Permission.KNOWLEDGE_WRITE)
    assert refused.value.message == "This needs the builder role or higher."
    assert not can(viewer, Permission.KNOWLEDGE_WRITE)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.BUILDER, Role.ADMIN])
def test_services_allow_exactly_what_the_ui_offers(session: Session, role: Role) -> None:
    owner = make_user(session)
    org_id = personal_actor(session, owner).org_id
    _user, actor = add_member(session, org_id, role=role)
    offered = set(granted(role))

    def allowed(action) -> bool:
        try:
            action()
        except Forbidden:
            return False
        return True

    created = allowed(lambda: agents.create_agent(session, actor, name=f"A {role.value}"))
    assert created == ("agents.write" in offered)
    assert allowed(lambda: collections.create_collection(session, actor, name="docs")) == (
        "knowledge.write" in offered
    )
    agent = agents.create_agent(session, personal_actor(session, owner), name="Kept")
    assert allowed(lambda: agents.delete_agent(session, actor, agent.id)) == (
        "agents.delete" in offered
    )
