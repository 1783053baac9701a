"""The run page says which version of the agent ran, what a replay repeats, and that a test
run is one (linking its suite run)."""

from __future__ import annotations

import uuid

import pytest
from reflex.state import State
from sqlmodel import Session, select

from agent_platform.models import Execution, ExecutionStatus
from services import accounts, agent_versions, agents, runs
from services.testing import runner, suites
from state.runs import RunDetailState
from tests.factories import PASSWORD, limiter, make_user, personal_actor


def _finished(session: Session, run: Execution) -> Execution:
    run.status = ExecutionStatus.SUCCEEDED
    run.output = {"text": "done"}
    session.add(run)
    session.flush()
    return run


@pytest.fixture
def page(session: Session, monkeypatch: pytest.MonkeyPatch):
    user = make_user(session)
    actor = personal_actor(session, user)
    agent = agents.create_agent(session, actor, name="Versioned", config={"model": "a/one"})
    first = agent.current_version_id
    agents.update_agent(session, actor, agent.id, config={"temperature": 0.1})
    original = _finished(
        session,
        Execution(
            org_id=actor.org_id,
            agent_id=agent.id,
            agent_version_id=first,
            triggered_by_id=user.id,
            input={"message": "hi"},
        ),
    )
    replayed = _finished(session, runs.replay(session, actor, original.id))
    token = accounts.login(session, limiter(), email=user.email, password=PASSWORD).token
    session.commit()
    root = State(_reflex_internal_init=True)
    state = root.get_substate(RunDetailState.get_full_name().split(".")[1:])
    assert isinstance(state, RunDetailState)
    state.auth_token = token
    shown = {"id": ""}
    monkeypatch.setattr(RunDetailState, "_id", lambda self: shown["id"])

    def open_run(run_id: uuid.UUID) -> dict[str, str]:
        shown["id"] = str(run_id)
        state.load()
        assert state.error == "", state.error
        return dict(state.run)

    return open_run, original, replayed, actor


def test_a_run_names_the_version_it_ran_not_the_current_one(page) -> None:
    open_run, original, _replayed, _actor = page
    shown = open_run(original.id)
    assert shown["version"] == "1"
    assert shown["replay_of"] == ""


def test_a_replay_links_to_the_run_it_repeats(page) -> None:
    open_run, original, replayed, _actor = page
    shown = open_run(replayed.id)
    assert shown["replay_of"] == str(original.id)
    assert shown["version"] == "1"


def test_another_orgs_version_has_no_number(page, session) -> None:
    _open, original, _replayed, _actor = page
    stranger = personal_actor(session, make_user(session, name="Mallory"))
    assert agent_versions.version_number(session, stranger, original.agent_version_id) is None


def test_a_test_run_is_marked_and_links_to_its_suite_run(page, session) -> None:
    open_run, original, _replayed, actor = page
    assert open_run(original.id)["suite_run"] == ""  # a production run is not marked
    suite = suites.create_suite(session, actor, original.agent_id, {"name": "Smoke"})
    suites.add_case(session, actor, suite.id, {"name": "Hello", "message": "hi"})
    suite_run = runner.start_suite_run(session, actor, suite.id)
    session.commit()
    [test_run] = session.exec(select(Execution).where(Execution.test_run_id == suite_run.id)).all()
    shown = open_run(test_run.id)
    assert shown["suite_run"] == f"/tests?suite={suite.id}&run={suite_run.id}"
