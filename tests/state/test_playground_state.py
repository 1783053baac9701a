"""The playground's send: a refused message leaves no conversation behind, anywhere."""

from __future__ import annotations

from sqlmodel import Session, select

from agent_platform.models import Thread
from services import agents
from state.playground import PlaygroundState
from tests.factories import make_user, personal_actor
from tests.state.helpers import signed_in


def _signed_in_playground(session: Session) -> tuple[PlaygroundState, str]:
    user = make_user(session)
    agent = agents.create_agent(session, personal_actor(session, user), name="Chatty")
    state = signed_in(session, PlaygroundState, user)
    state.agent_id = str(agent.id)
    return state, str(agent.id)


def test_refused_oversized_message_leaves_no_ghost_conversation(session: Session) -> None:
    state, _ = _signed_in_playground(session)
    state.send({"message": "x" * 100_001})
    assert state.error.startswith("The message is too long: 100,001 characters, at most 100,000.")
    assert state.thread_id == ""
    assert state.threads == []
    assert state.messages == []
    session.expire_all()
    assert session.exec(select(Thread)).all() == []


def test_accepted_message_opens_its_conversation(session: Session) -> None:
    state, agent_id = _signed_in_playground(session)
    state.send({"message": "Hello there"})
    assert state.error == ""
    assert state.thread_id != ""
    assert [t["title"] for t in state.threads] == ["Hello there"]
    session.expire_all()
    threads = session.exec(select(Thread)).all()
    assert [(str(t.id), str(t.agent_id)) for t in threads] == [(state.thread_id, agent_id)]
    first_thread = state.thread_id
    state.running = False
    state.send({"message": "And again"})
    assert state.thread_id == first_thread and len(state.threads) == 1
