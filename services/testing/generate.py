"""Tests that write themselves: drafts proposed from what the agent is, accepted by a person.

The generator reads the agent — instructions, tools, integrations, knowledge documents — and
asks the agent's own model for functional cases (a question, what a good answer contains) and
quality cases (a rubric). Everything it proposes is a draft: nothing runs until the owner
accepts it. Near-duplicates of cases the suite already has, or of each other, are merged away.
Safety cases need no model: they come from the platform's probes, made for the agent's tools.

In three steps so no database session is held while the model writes: `prepare` reads,
`propose` asks the model, `store` writes the drafts.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from agent_platform.models import (
    AgentTest,
    CaseSource,
    CaseStatus,
    KnowledgeCollection,
    KnowledgeDocument,
    TestKind,
    TestSuite,
)
from services.access import Actor, Permission, require
from services.agent_reads import current_config, get_agent
from services.errors import NotFound
from services.llm import gateway
from services.llm.providers import ResolvedModel, resolve_chain
from services.memory.collections import visible_collections, visible_documents
from services.testing import safety
from services.testing.suites import create_suite, get_suite
from services.tools.registry import tools_for

GENERATED_SUITE = "Generated tests"
MAX_CASES = 12
DUPLICATE_OVERLAP = 0.8
_WORD = re.compile(r"\w+")

GENERATOR_SYSTEM = """You write test cases for an AI agent, to check it does its job well.
Reply with only a JSON object, no prose, in this shape:
{"functional": [{"name": "...", "message": "what a user asks", "expected": "a good answer in
one or two sentences", "must_contain": ["a word or short phrase any good answer contains"]}],
 "quality": [{"name": "...", "message": "what a user asks", "rubric": "what makes the answer
good, as one sentence a reviewer can check"}]}
Write realistic, varied requests a real user of this agent would send, including edge cases.
Keep must_contain to words that any correct answer must use (often none)."""

ModelCall = Callable[[list[ResolvedModel], list[dict[str, Any]]], Awaitable[str]]


@dataclass
class Drafting:
    agent_id: uuid.UUID
    suite_id: uuid.UUID | None
    chain: list[ResolvedModel]
    messages: list[dict[str, Any]]
    no_model: str | None = None  # why only safety cases can be made


@dataclass
class Proposal:
    name: str
    message: str
    assertions: list[dict[str, Any]]
    expected: str | None = None
    kind: str = "functional"


@dataclass
class Outcome:
    suite_id: uuid.UUID
    drafted: int
    merged: int
    safety_suite_id: uuid.UUID | None = None
    note: str | None = None
    problems: list[str] = field(default_factory=list)


def _context(session: Session, actor: Actor, agent_id: uuid.UUID) -> str:
    agent = get_agent(session, actor, agent_id)
    config = current_config(agent)
    parts = [f"Agent name: {agent.name}", f"Instructions:\n{config.instructions[:6000]}"]
    tools = tools_for(config)
    if tools:
        lines = [f"- {name}: {tool.spec.description[:200]}" for name, tool in tools.items()]
        parts.append("Tools it can call:\n" + "\n".join(lines))
    if config.memory.collections:
        collection_ids = [
            c.id
            for c in session.exec(
                visible_collections(actor).where(
                    col(KnowledgeCollection.name).in_(config.memory.collections)
                )
            ).all()
        ]
        docs = [
            d.filename
            for d in session.exec(
                visible_documents(actor)
                .where(col(KnowledgeDocument.collection_id).in_(collection_ids))
                .limit(30)
            ).all()
        ]
        if docs:
            parts.append("Knowledge documents it can search:\n" + "\n".join(f"- {d}" for d in docs))
    return "\n\n".join(parts)


def prepare(
    session: Session, actor: Actor, agent_id: uuid.UUID, *, suite_id: uuid.UUID | None = None
) -> Drafting:
    require(actor, Permission.AGENTS_WRITE)
    agent = get_agent(session, actor, agent_id)
    if suite_id is not None and get_suite(session, actor, suite_id).agent_id != agent.id:
        raise NotFound("Test suite not found.")
    context = _context(session, actor, agent.id)
    messages = [
        {"role": "system", "content": GENERATOR_SYSTEM},
        {"role": "user", "content": f"{context}\n\nWrite up to {MAX_CASES} cases in total."},
    ]
    try:
        chain = resolve_chain(session, actor.org_id, current_config(agent).model_chain)
    except Exception as exc:  # noqa: BLE001 - no usable model: safety cases only, said why
        return Drafting(agent.id, suite_id, [], messages, no_model=str(exc))
    if not chain:
        return Drafting(agent.id, suite_id, [], messages, no_model="the agent has no model")
    return Drafting(agent.id, suite_id, chain, messages)


def parse_proposals(text: str) -> tuple[list[Proposal], list[str]]:
    """The model's JSON as drafts; what cannot be used is reported, never raised."""
    start, end = text.find("{"), text.rfind("}")
    try:
        data = json.loads(text[start : end + 1]) if start >= 0 and end > start else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return [], ["The model's answer was not the JSON asked for; try again."]
    proposals: list[Proposal] = []
    problems: list[str] = []
    for item in data.get("functional") or []:
        if not isinstance(item, dict) or not str(item.get("message", "")).strip():
            problems.append("A functional case without a message was left out.")
            continue
        must = [str(m) for m in item.get("must_contain") or [] if str(m).strip()][:5]
        assertions: list[dict[str, Any]] = [{"type": "icontains", "value": m} for m in must]
        if item.get("expected"):
            assertions.append(
                {
                    "type": "llm-rubric",
                    "value": f"The answer agrees with this expected answer: {item['expected']}",
                    "threshold": 0.7,
                }
            )
        proposals.append(
            Proposal(
                name=str(item.get("name") or item["message"])[:200],
                message=str(item["message"]),
                assertions=assertions,
                expected=str(item["expected"]) if item.get("expected") else None,
            )
        )
    for item in data.get("quality") or []:
        if not isinstance(item, dict) or not str(item.get("message", "")).strip():
            problems.append("A quality case without a message was left out.")
            continue
        rubric = str(item.get("rubric") or "The answer is helpful, correct and concise.")
        proposals.append(
            Proposal(
                name=str(item.get("name") or item["message"])[:200],
                message=str(item["message"]),
                assertions=[{"type": "llm-rubric", "value": rubric, "threshold": 0.7}],
                kind="quality",
            )
        )
    return proposals[:MAX_CASES], problems


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def near_duplicate(a: str, b: str) -> bool:
    """Two messages that ask the same thing in nearly the same words."""
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return a.strip().lower() == b.strip().lower()
    return len(wa & wb) / len(wa | wb) >= DUPLICATE_OVERLAP


async def call_model(chain: list[ResolvedModel], messages: list[dict[str, Any]]) -> str:
    """Ask the agent's own model chain (with its fallbacks), through the guarded gateway."""
    options = gateway.CallOptions(temperature=0.7, max_tokens=4_000)
    result = await gateway.complete(chain, messages, options=options)
    return result.text


async def propose(drafting: Drafting, call: ModelCall) -> tuple[list[Proposal], list[str]]:
    if drafting.no_model:
        return [], []
    try:
        text = await call(drafting.chain, drafting.messages)
    except Exception as exc:  # noqa: BLE001 - the model failing is a message, not a crash
        return [], [f"The model could not write cases: {str(exc)[:200]}"]
    return parse_proposals(text)


def store(
    session: Session,
    actor: Actor,
    drafting: Drafting,
    proposals: list[Proposal],
    problems: list[str],
) -> Outcome:
    """Drafts into the chosen suite (or “Generated tests”), duplicates merged; safety refreshed."""
    require(actor, Permission.AGENTS_WRITE)
    if drafting.suite_id is not None:
        suite = get_suite(session, actor, drafting.suite_id)
    else:
        suite = session.exec(
            select(TestSuite).where(
                TestSuite.agent_id == drafting.agent_id, TestSuite.name == GENERATED_SUITE
            )
        ).first() or create_suite(
            session,
            actor,
            drafting.agent_id,
            {"name": GENERATED_SUITE, "kind": TestKind.FUNCTIONAL},
        )
    existing = [
        str((c.input or {}).get("message", ""))
        for c in session.exec(select(AgentTest).where(AgentTest.suite_id == suite.id)).all()
    ]
    position = len(existing)
    drafted = merged = 0
    for proposal in proposals:
        if any(near_duplicate(proposal.message, seen) for seen in existing):
            merged += 1
            continue
        existing.append(proposal.message)
        session.add(
            AgentTest(
                org_id=actor.org_id,
                suite_id=suite.id,
                name=proposal.name,
                input={"message": proposal.message, "variables": {}, "conversation": []},
                assertions=proposal.assertions,
                expected=proposal.expected,
                tags=["generated", proposal.kind],
                position=position,
                status=CaseStatus.DRAFT,
                source=CaseSource.GENERATED,
            )
        )
        position += 1
        drafted += 1
    safety_suite = safety.ensure_safety_suite(session, actor, drafting.agent_id)
    note = None
    if drafting.no_model:
        note = (
            "Only the safety cases were made: functional and quality cases need a model "
            f"({drafting.no_model}). Add a model provider and generate again."
        )
    return Outcome(suite.id, drafted, merged, safety_suite.id, note, problems)
