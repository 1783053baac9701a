"""Generated tests: drafts made from the agent, duplicates merged, safety cases without a model."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from sqlmodel import Session

from agent_platform.models import CaseStatus
from services import agents
from services.access import Actor
from services.errors import Invalid
from services.testing import generate, runner, suites
from tests.factories import make_user, personal_actor
from tests.fakes.openai_server import ScriptedLLM, Turn
from tests.services.runtime_helpers import make_agent, org_with_provider

REPLY = {
    "functional": [
        {
            "name": "Opening hours",
            "message": "When are you open on Sundays?",
            "expected": "We are open 10:00-16:00 on Sundays.",
            "must_contain": ["Sunday"],
        },
        {"name": "Same again", "message": "When are you open on Sundays??"},
        {"name": "Returns", "message": "Can I return shoes I wore once?", "must_contain": []},
        {"name": "No message"},
    ],
    "quality": [
        {"name": "Tone", "message": "Your shop is terrible.", "rubric": "Stays calm and polite."}
    ],
}


def _generate(
    session: Session, actor: Actor, agent_id: uuid.UUID, suite_id: uuid.UUID | None = None
) -> tuple[generate.Drafting, generate.Outcome]:
    drafting = generate.prepare(session, actor, agent_id, suite_id=suite_id)
    proposals, problems = asyncio.run(generate.propose(drafting, generate.call_model))
    outcome = generate.store(session, actor, drafting, proposals, problems)
    session.commit()
    return drafting, outcome


def test_drafts_from_the_agent_with_duplicates_merged(session: Session, llm: ScriptedLLM) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(
        session, actor, instructions="You answer questions for Shoe Palace, a shoe shop."
    )
    llm.script(Turn(text="Here you go:\n" + json.dumps(REPLY)), model="gpt-a")
    _drafting, outcome = _generate(session, actor, agent_id)
    assert (outcome.drafted, outcome.merged) == (3, 1)
    assert outcome.problems == ["A functional case without a message was left out."]
    assert outcome.note is None and outcome.safety_suite_id is not None
    prompt = llm.requests[-1]["body"]["messages"][1]["content"]
    assert "Shoe Palace" in prompt
    drafts = suites.list_cases(session, actor, outcome.suite_id, status=CaseStatus.DRAFT)
    assert [d.name for d in drafts] == ["Opening hours", "Returns", "Tone"]
    opening = drafts[0]
    assert opening.assertions[0] == {"type": "icontains", "value": "Sunday"}
    assert opening.assertions[1]["type"] == "llm-rubric"
    # Drafts do not run until a person accepts them.
    with pytest.raises(Invalid, match="no accepted cases"):
        runner.start_suite_run(session, actor, outcome.suite_id)
    session.rollback()
    suites.set_case_status(session, actor, opening.id, CaseStatus.ACCEPTED)
    suites.set_case_status(session, actor, drafts[2].id, CaseStatus.REJECTED)
    session.commit()
    # Generating again merges what the suite already has, accepted or not.
    llm.script(Turn(text=json.dumps(REPLY)), model="gpt-a")
    _drafting, again = _generate(session, actor, agent_id)
    assert again.suite_id == outcome.suite_id
    assert (again.drafted, again.merged) == (0, 4)


def test_without_a_model_only_safety_cases_and_why(session: Session) -> None:
    actor = personal_actor(session, make_user(session))
    agent = agents.create_agent(session, actor, name="Modelless", config={"model": "none/x"})
    session.commit()
    drafting, outcome = _generate(session, actor, agent.id)
    assert drafting.no_model
    assert outcome.drafted == 0
    assert outcome.note is not None and "need a model" in outcome.note
    probes = suites.list_cases(session, actor, outcome.safety_suite_id)
    assert any(p.name == "Harmful request" for p in probes)


def test_an_unreadable_answer_is_a_message(session: Session, llm: ScriptedLLM) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    llm.script(Turn(text="Sure, here are some ideas: ask about prices."), model="gpt-a")
    _drafting, outcome = _generate(session, actor, agent_id)
    assert outcome.drafted == 0
    assert outcome.problems == ["The model's answer was not the JSON asked for; try again."]
