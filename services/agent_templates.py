"""Built-in starting points for a new agent: a blank agent or one of a few common shapes.

Why templates are built per organization instead of stored as fixed JSON: a useful start
depends on what the org has — a model it has configured, its knowledge collections, whether
web search is set up on this install. A template never invents what does not exist (no
made-up collection or agent ids); what is still missing shows up as a publish problem in the
editor instead (see `agent_publishing.publish_problems`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from agent_platform.models import Agent
from services import agents
from services.access import Actor
from services.errors import NotFound
from services.llm import providers
from services.memory import list_collections
from services.tools.registry import builtin_names

FALLBACK_MODEL = "openai/gpt-4o-mini"
BLANK = "blank"


@dataclass(frozen=True)
class OrgFacts:
    """What a template may draw on; read once per creation."""

    model: str
    collections: list[str]
    builtins: set[str]


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    description: str
    icon: str  # a lucide icon name, as rx.icon takes it
    build: Callable[[OrgFacts], dict[str, Any]]

    def config(self, facts: OrgFacts) -> dict[str, Any]:
        return self.build(facts)


def _blank(facts: OrgFacts) -> dict[str, Any]:
    return {"model": facts.model, "instructions": "You are a helpful assistant."}


def _support(facts: OrgFacts) -> dict[str, Any]:
    return {
        "model": facts.model,
        "temperature": 0.3,
        "instructions": (
            "You are a friendly support assistant. Answer from the knowledge base: search it "
            "with knowledge_search before answering, quote what you found, and say plainly "
            "when the answer is not there instead of guessing. Keep answers short."
        ),
        "tools": [{"kind": "builtin", "name": "knowledge_search"}],
        # every collection the org has (at most 20, the config's limit); none → the editor
        # says a collection is needed before publishing
        "memory": {"collections": facts.collections[:20], "conversation": True, "window": 10},
    }


def _research(facts: OrgFacts) -> dict[str, Any]:
    tools = [
        {"kind": "builtin", "name": name}
        for name in ("web_search", "http_request")
        if name in facts.builtins
    ]
    search = "Search the web with web_search, then r" if "web_search" in facts.builtins else "R"
    return {
        "model": facts.model,
        "temperature": 0.2,
        "max_steps": 12,
        "instructions": (
            "You are a careful research assistant. "
            f"{search}ead the most relevant pages with http_request. Compare sources, "
            "cite every claim with its URL, and finish with a short summary and open "
            "questions."
        ),
        "tools": tools,
    }


EXTRACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "people": {"type": "array", "items": {"type": "string"}},
        "organizations": {"type": "array", "items": {"type": "string"}},
        "dates": {"type": "array", "items": {"type": "string"}},
        "amounts": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["summary", "people", "organizations", "dates", "amounts"],
    "additionalProperties": False,
}


def _extractor(facts: OrgFacts) -> dict[str, Any]:
    return {
        "model": facts.model,
        "temperature": 0,
        "instructions": (
            "Extract structured data from the text you are given. Answer only with JSON that "
            "matches the schema; use empty lists when nothing of a kind is present and never "
            "invent values. Edit the schema below to the fields you need."
        ),
        "memory": {"collections": [], "conversation": False, "window": 0},
        "output": {"format": "json", "json_schema": EXTRACTION_SCHEMA},
    }


def _router(facts: OrgFacts) -> dict[str, Any]:
    # No hand-offs yet: agent tools must name existing agents of the org, picked by a person.
    return {
        "model": facts.model,
        "temperature": 0,
        "instructions": (
            "You are a router. Read the request, decide which specialist agent handles it "
            "best, and hand it off with the request restated clearly. If none fits, answer "
            "briefly yourself or ask one clarifying question.\n\n"
            "To finish this agent: under 'Hand off to other agents' below, tick the agents "
            "it may hand off to, and describe here when to use each one."
        ),
    }


TEMPLATES: dict[str, Template] = {
    t.key: t
    for t in (
        Template(BLANK, "Blank agent", "A model and instructions; add the rest.", "file", _blank),
        Template(
            "support",
            "Support assistant",
            "Answers questions from your knowledge base and says when it does not know.",
            "life-buoy",
            _support,
        ),
        Template(
            "research",
            "Research assistant",
            "Searches the web, reads pages over HTTP and cites its sources.",
            "telescope",
            _research,
        ),
        Template(
            "extractor",
            "Data extractor",
            "Turns free text into JSON that follows a schema.",
            "braces",
            _extractor,
        ),
        Template(
            "router",
            "Router",
            "Hands each request to the right specialist agent.",
            "split",
            _router,
        ),
    )
}


def get_template(key: str) -> Template:
    template = TEMPLATES.get(key)
    if template is None:
        raise NotFound("Template not found.")
    return template


def default_model(session: Session, actor: Actor) -> str:
    """The org's first configured model, so a new agent can run at once when one exists."""
    for row in providers.list_providers(session, actor):
        if row.models:
            return f"{row.name}/{row.models[0]}"
    return FALLBACK_MODEL


def org_facts(session: Session, actor: Actor, *, model: str = "") -> OrgFacts:
    return OrgFacts(
        model=model.strip() or default_model(session, actor),
        collections=[c.name for c in list_collections(session, actor)],
        builtins=set(builtin_names()),
    )


def create_from_template(
    session: Session,
    actor: Actor,
    key: str,
    *,
    name: str = "",
    description: str = "",
    model: str = "",
    instructions: str = "",
) -> Agent:
    """A new agent (version 1) from a template; `model`/`instructions` override when given.

    Goes through `agents.create_agent`, so a template obeys the same rules (roles, plan
    limits, config validation, audit) as an agent made by hand."""
    template = get_template(key)
    config = template.config(org_facts(session, actor, model=model))
    if instructions.strip():
        config["instructions"] = instructions
    return agents.create_agent(
        session,
        actor,
        name=name.strip() or ("" if key == BLANK else template.name),
        description=description.strip() or ("" if key == BLANK else template.description),
        config=config,
    )
