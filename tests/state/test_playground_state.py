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


def _clears_message_box(events: object) -> bool:
    """Whether the handler's answer tells the browser to empty the message box."""
    specs = events if isinstance(events, list) else [events]
    return any(
        getattr(getattr(spec, "handler", None), "fn", None) is not None
        and spec.handler.fn.__qualname__.endswith("_set_value")
        and "ref_chat_input" in str(spec.args)
        for spec in specs
    )


def test_refused_budget_keeps_the_message_and_budget_as_typed(session: Session) -> None:
    state, _ = _signed_in_playground(session)
    for budget in ("abc", "-1", "0"):
        events = state.send({"message": "Plan my week", "budget_usd": budget})
        assert state.error != "" and not state.running
        assert not _clears_message_box(events)  # the form does not reset itself either
    assert state.thread_id == "" and state.threads == []


def test_started_run_empties_only_the_message_box(session: Session) -> None:
    state, _ = _signed_in_playground(session)
    events = state.send({"message": "Plan my week", "budget_usd": "0.50"})
    assert state.error == "" and state.running
    assert _clears_message_box(events)
