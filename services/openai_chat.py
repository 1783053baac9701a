"""OpenAI's Chat Completions in terms of our agents and runs: the `model` a client names is an
agent, its `messages` become a run's input, and the run's end becomes the completion.

Why a module of its own: these are the rules of the compatibility layer (which agents count as
models and under which ids, which message is the input, what is refused), kept apart from the
HTTP shapes in agent_platform/api/openai_compat.py.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col

from agent_platform.models import Agent, AgentStatus, Execution, ExecutionStep
from services.access import Actor
from services.agent_reads import get_agent, visible_agents
from services.errors import Invalid, NotFound
from services.run_reads import get_run, visible_steps

MAX_CONVERSATION_CHARS = 200_000
ROLES = ("system", "developer", "user", "assistant", "tool", "function")


class ChatMessage(BaseModel):
    """One message as OpenAI clients send it; fields we do not use are allowed and ignored."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class ChatInput:
    message: str
    conversation: list[dict[str, str]]


@dataclass(frozen=True)
class AgentModel:
    """An agent as a model: `id` is what a client passes as `model`."""

    id: str
    agent: Agent


def slug(name: str) -> str:
    """`Support Bot v2` -> `support-bot-v2`: a name as it fits a `model` string."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _runnable(session: Session, actor: Actor) -> list[Agent]:
    return list(
        session.exec(
            visible_agents(actor)
            .where(
                col(Agent.status) != AgentStatus.ARCHIVED,
                col(Agent.current_version_id).is_not(None),
            )
            .order_by(col(Agent.created_at), col(Agent.id))
        ).all()
    )


def list_models(session: Session, actor: Actor) -> list[AgentModel]:
    """The organization's runnable agents, each under its name's slug — or its id when another
    agent's name makes the same slug, so every listed id names exactly one agent."""
    agents = _runnable(session, actor)
    counts: dict[str, int] = {}
    for agent in agents:
        counts[slug(agent.name)] = counts.get(slug(agent.name), 0) + 1
    return [
        AgentModel(id=s if s and counts[s] == 1 else str(a.id), agent=a)
        for a in agents
        for s in [slug(a.name)]
    ]


def find_agent(session: Session, actor: Actor, model: str) -> Agent:
    """The agent a `model` string names: its id, its name (any case) or its name's slug."""
    ref = model.strip()
    if not ref:
        raise Invalid("Name an agent as the model: its id or its name.", fields={"model": "empty"})
    try:
        return get_agent(session, actor, uuid.UUID(ref))
    except ValueError:
        pass
    matches = [
        a for a in _runnable(session, actor) if a.name.lower() == ref.lower() or slug(a.name) == ref
    ]
    if not matches:
        raise NotFound(
            f"No agent called '{ref[:120]}' in this organization: GET /api/v1/openai/models "
            "lists the agents you can use as models."
        )
    if len(matches) > 1:
        raise Invalid(
            f"Several agents are called '{ref[:120]}'; use the agent's id as the model.",
            fields={"model": "ambiguous"},
        )
    return matches[0]


def _text(message: ChatMessage) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    parts: list[str] = []
    for part in message.content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise Invalid(
                "Only text content is supported: send each message's content as text.",
                fields={"messages": "non-text content"},
            )
        parts.append(part["text"])
    return "".join(parts)


def chat_input(messages: list[ChatMessage]) -> ChatInput:
    """The run's input: the last message (the user's) is the message; earlier user and
    assistant turns are the conversation before it. System and developer messages are left out
    (the agent has its own instructions), as are tool messages (it calls its own tools)."""
    for message in messages:
        if message.role not in ROLES:
            raise Invalid(
                f"Unknown message role '{message.role[:40]}': use user, assistant or system.",
                fields={"messages": "unknown role"},
            )
    turns = [
        {"role": m.role, "content": _text(m)} for m in messages if m.role in ("user", "assistant")
    ]
    if not messages or messages[-1].role != "user" or not turns[-1]["content"].strip():
        raise Invalid(
            "The last message must be the user's, with text: it is what the agent answers.",
            fields={"messages": "no user message last"},
        )
    conversation = [t for t in turns[:-1] if t["content"]]
    if sum(len(t["content"]) for t in conversation) > MAX_CONVERSATION_CHARS:
        raise Invalid(
            f"The earlier messages are too long: at most {MAX_CONVERSATION_CHARS:,} characters "
            "together. Send fewer turns.",
            fields={"messages": "too long"},
        )
    return ChatInput(message=turns[-1]["content"], conversation=conversation)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def usage_of(session: Session, actor: Actor, run_id: uuid.UUID) -> Usage:
    """Tokens of every model call of the run, prompt and completion apart (a step recorded
    before the split was kept counts as prompt)."""
    run: Execution = get_run(session, actor, run_id)
    steps = session.exec(
        visible_steps(actor).where(
            ExecutionStep.execution_id == run.id, col(ExecutionStep.kind) == "model"
        )
    ).all()
    prompt = completion = 0
    for step in steps:
        response = step.response or {}
        done = int(response.get("completion_tokens") or 0)
        completion += done
        prompt += int(response.get("prompt_tokens") or step.tokens - done)
    return Usage(prompt_tokens=prompt, completion_tokens=completion)
