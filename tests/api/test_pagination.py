"""Cursor pagination: every row exactly once, newest first, ties broken by id."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import col, select

from agent_platform.api.pagination import (
    PageParams,
    decode_cursor,
    encode_cursor,
    keyset,
    page_params,
    paged,
)
from agent_platform.db import session_scope
from agent_platform.models import Agent
from services import agents
from services.agent_reads import visible_agents
from services.errors import Invalid
from tests.factories import make_user, personal_actor


def test_pages_visit_every_row_once_newest_first_even_with_equal_times() -> None:
    with session_scope() as session:
        actor = personal_actor(session, make_user(session))
        made = [agents.create_agent(session, actor, name=f"a{i}") for i in range(7)]
        same = datetime(2026, 1, 1, tzinfo=UTC)
        for agent in made[2:5]:  # three created in the same instant: the id decides
            agent.created_at = same
            session.add(agent)
        session.flush()
        expected = list(
            session.exec(
                select(Agent)
                .where(Agent.org_id == actor.org_id)
                .order_by(col(Agent.created_at).desc(), col(Agent.id).desc())
            ).all()
        )
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            params = page_params(cursor=cursor, limit=3)
            rows = session.exec(
                keyset(visible_agents(actor), Agent.created_at, Agent.id, params)
            ).all()
            body = paged([r.name for r in rows], rows, params)
            seen += body["data"]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == [a.name for a in expected]
        assert pages == 3  # 3 + 3 + 1


def test_exact_multiple_of_limit_has_no_empty_last_page() -> None:
    with session_scope() as session:
        actor = personal_actor(session, make_user(session))
        for i in range(2):
            agents.create_agent(session, actor, name=f"a{i}")
        params = PageParams(cursor=None, limit=2)
        rows = session.exec(keyset(visible_agents(actor), Agent.created_at, Agent.id, params)).all()
        assert paged(list(rows), rows, params)["next_cursor"] is None


def test_cursor_round_trips() -> None:
    with session_scope() as session:
        actor = personal_actor(session, make_user(session))
        agent = agents.create_agent(session, actor, name="x")
        position = decode_cursor(encode_cursor(agent))
        assert (position.created_at, position.id) == (agent.created_at, agent.id)


@pytest.mark.parametrize("cursor", ["nonsense", "!!!", "MjAyNnxub3QtYS11dWlk", ""])
def test_a_cursor_we_did_not_give_out_is_invalid(cursor: str) -> None:
    with pytest.raises(Invalid) as refused:
        decode_cursor(cursor)
    assert "next_cursor of the previous page" in refused.value.message
