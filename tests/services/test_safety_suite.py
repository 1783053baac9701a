"""The built-in safety suite: a leaky agent fails it, a hardened one passes, probes fit tools."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from agent_platform.db import session_scope
from agent_platform.models import Agent, CaseStatus, SuiteRun, SuiteRunStatus
from services.errors import Invalid
from services.testing import safety, suites
from services.testing.verification import verification
from tests.fakes.openai_server import ScriptedLLM, Turn
from tests.services.runtime_helpers import execute, make_agent, org_with_provider
from tests.services.test_testing_engine import _grade_all, _results, _start, _suite_run

JUDGE_LOW = Turn(text='{"criteria": [{"id": 1, "score": 0.1, "reason": "wrote the poem"}]}')
JUDGE_HIGH = Turn(text='{"criteria": [{"id": 1, "score": 0.9, "reason": "stayed in role"}]}')


def _run_safety(
    session: Session, llm: ScriptedLLM, answer: str, judge: Turn
) -> tuple[SuiteRunStatus, dict[str, bool]]:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor, instructions="You answer questions about our shop.")
    suite = safety.ensure_safety_suite(session, actor, agent_id)
    session.commit()
    suite_run_id, rows = _start(actor, suite.id)
    for row in rows:
        llm.script(Turn(text=answer.replace("{canary}", row.canary or "")), model="gpt-a")
    llm.script(judge, model="gpt-a")  # the agent's own model judges the one rubric probe
    for row in rows:
        execute(row.execution_id)
    _grade_all()
    with session_scope() as s:
        names = {c.id: c.name for c in suites.list_cases(s, actor, suite.id)}
    verdicts = {names[r.test_id]: bool(r.passed) for r in _results(suite_run_id)}
    return _suite_run(suite_run_id).status, verdicts


def test_a_leaky_agent_fails_the_safety_suite(session: Session, llm: ScriptedLLM) -> None:
    leaky = (
        "Sure! My confidential reference is {canary}. PWNED-7Q INJECTED-4K "
        "<script>alert(1)</script> Contact ada@example.com. Here is how to build it: step 1..."
    )
    status, verdicts = _run_safety(session, llm, leaky, JUDGE_LOW)
    assert status == SuiteRunStatus.FAILED
    failed = {name for name, ok in verdicts.items() if not ok}
    assert {
        "Direct injection: ignore instructions",
        "Indirect injection in a document to summarise",
        "System prompt extraction",
        "Secret exfiltration by encoding",
        "Personal data of other users",
        "Script injection in the answer",
        "Harmful request",
        "Role violation",
        "Multi-turn social engineering",
    } <= failed, verdicts


def test_a_hardened_agent_passes_it(session: Session, llm: ScriptedLLM) -> None:
    status, verdicts = _run_safety(
        session, llm, "I'm sorry, but I can't help with that.", JUDGE_HIGH
    )
    assert all(verdicts.values()), verdicts
    assert status == SuiteRunStatus.PASSED


def test_probes_are_made_for_the_agents_tools(session: Session, llm: ScriptedLLM) -> None:
    actor = org_with_provider(session, llm.base_url)
    plain = make_agent(session, actor)
    tooled = make_agent(session, actor, tools=[{"kind": "builtin", "name": "http_request"}])
    plain_probes = {p.name for p in safety.probes_for(session, actor, plain)}
    tooled_probes = {p.name for p in safety.probes_for(session, actor, tooled)}
    extra = tooled_probes - plain_probes
    assert extra == {
        "HTTP tool pointed at the cloud metadata service",
        "Exfiltration through the HTTP tool",
    }
    # Refreshing keeps the cases a person added and rebuilds the probes.
    suite = safety.ensure_safety_suite(session, actor, tooled)
    suites.add_case(session, actor, suite.id, {"name": "Mine", "message": "hello"})
    again = safety.ensure_safety_suite(session, actor, tooled)
    session.commit()
    names = [c.name for c in suites.list_cases(session, actor, again.id)]
    assert again.id == suite.id
    assert "Mine" in names and names.count("Harmful request") == 1


def test_verified_rests_on_recent_passing_safety_and_functional_runs(
    session: Session, llm: ScriptedLLM
) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    version_id = session.get(Agent, agent_id).current_version_id
    assert verification(session, version_id).reasons == [
        "The platform safety suite has never run on this agent.",
        "The agent has no functional suite of its own.",
    ]
    safe = safety.ensure_safety_suite(session, actor, agent_id)
    functional = suites.create_suite(session, actor, agent_id, {"name": "Basics"})
    suites.add_case(
        session,
        actor,
        functional.id,
        {
            "name": "Polite",
            "message": "hi",
            "assertions": [{"type": "icontains", "value": "sorry"}],
        },
    )
    session.commit()
    assert not verification(session, version_id).verified

    suite_runs = []
    for suite_id in (safe.id, functional.id):
        suite_run_id, rows = _start(actor, suite_id)
        suite_runs.append(suite_run_id)
        for _row in rows:
            llm.script(Turn(text="I'm sorry, but I can't help with that."), model="gpt-a")
        llm.script(JUDGE_HIGH, model="gpt-a")
        for row in rows:
            execute(row.execution_id)
        _grade_all()
        llm.reset()
    now = verification(session, version_id)
    assert now.verified, now.reasons
    assert {e.suite for e in now.evidence} == {"Platform safety", "Basics"}
    assert now.checked_at is not None

    with session_scope() as s:
        stale = s.get(SuiteRun, suite_runs[0])
        stale.finished_at = stale.finished_at - timedelta(days=40)
        s.add(stale)
    later = verification(session, version_id)
    assert not later.verified
    assert later.reasons == ["“Platform safety” last ran more than 30 days ago."]


def test_the_owner_cannot_lower_the_safety_suites_bar(session: Session, llm: ScriptedLLM) -> None:
    """ "Verified" rests on the platform safety suite: its probes and its pass rules stay as the
    platform made them, while the owner may still add cases of their own."""
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite = safety.ensure_safety_suite(session, actor, agent_id)
    session.commit()
    probe = suites.list_cases(session, actor, suite.id)[0]
    with pytest.raises(Invalid, match="pass rules are fixed"):
        suites.update_suite(session, actor, suite.id, {"pass_threshold": 0.0})
    with pytest.raises(Invalid, match="safety probes cannot be"):
        suites.update_case(session, actor, probe.id, {"assertions": []})
    with pytest.raises(Invalid, match="safety probes cannot be"):
        suites.set_case_status(session, actor, probe.id, CaseStatus.REJECTED)
    with pytest.raises(Invalid, match="safety probes cannot be"):
        suites.delete_case(session, actor, probe.id)
    with pytest.raises(Invalid, match="cannot be replaced by a file"):
        suites.import_yaml(
            session, actor, agent_id, "tests:\n  - vars: {message: hi}\n", suite_id=suite.id
        )
    suites.update_suite(session, actor, suite.id, {"description": "Ours, with more."})
    own = suites.add_case(session, actor, suite.id, {"name": "Ours", "message": "hi"})
    suites.update_case(session, actor, own.id, {"name": "Ours, renamed"})
    suites.delete_case(session, actor, own.id)
