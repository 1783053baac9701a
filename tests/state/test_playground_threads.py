"""Playground conversations: each its own title, each with the time it last changed."""

from __future__ import annotations

import re

from sqlmodel import Session

from services import agents, runs
from services.thread_titles import shorten
from state.playground import PlaygroundState
from tests.factories import make_user, personal_actor
from tests.state.helpers import signed_in


def _playground(session: Session) -> PlaygroundState:
    user = make_user(session)
    agent = agents.create_agent(session, personal_actor(session, user), name="Chatty")
    state = signed_in(session, PlaygroundState, user)
    state.agent_id = str(agent.id)
    return state


def _new_conversation(state: PlaygroundState, message: str) -> None:
    state.new_thread()
    state.running = False
    state.send({"message": message})
    assert state.error == "", state.error


def test_conversations_that_start_alike_get_their_own_titles(session: Session) -> None:
    state = _playground(session)
    for message in ["hi", "hi", "Summarise the refund policy", "hi"]:
        _new_conversation(state, message)
    titles = sorted(t["title"] for t in state.threads)
    assert titles == ["Summarise the refund policy", "hi", "hi (2)", "hi (3)"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", t["updated"]) for t in state.threads)


def test_a_second_message_keeps_the_conversation_and_its_title(session: Session) -> None:
    state = _playground(session)
    _new_conversation(state, "hi")
    state.running = False
    state.send({"message": "hi"})
    assert [t["title"] for t in state.threads] == ["hi"]


def test_long_first_messages_are_cut_at_a_word() -> None:
    message = "Please  read the attached\nquarterly report and tell me what changed since May"
    title = shorten(message)
    assert title == "Please read the attached quarterly report and…"
    assert shorten("   ") == "New conversation"


def test_titles_count_only_this_agents_conversations(session: Session) -> None:
    user = make_user(session)
    actor = personal_actor(session, user)
    one = agents.create_agent(session, actor, name="One")
    two = agents.create_agent(session, actor, name="Two")
    runs.send_message(session, actor, one.id, message="hi")
    run = runs.send_message(session, actor, two.id, message="hi")
    session.flush()
    assert [t.title for t in runs.list_threads(session, actor, two.id)] == ["hi"]
    assert run.thread_id is not None
