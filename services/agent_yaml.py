"""Agents as YAML files that live in git: one shape, `name`, `description`, `config`.

Export writes the agent's current config (without the canvas layout, which only places boxes
on the screen and would make every diff in git noisy); import reads the same shape back and
goes through `agents.create_agent` / `update_agent`, so a file obeys every rule a save in the
builder obeys (model references, tools and their grants, plan limits, publishability).

Errors name the place in the file: a YAML syntax error its line, a wrong config field its
path (`config.temperature`). Anchors and aliases are refused: an agent file has no use for
them, and nested aliases can make a few bytes expand to billions of values.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import yaml
from sqlmodel import Session

from agent_platform.models import Agent, AgentVersion
from services import agents
from services.access import Actor
from services.agent_reads import current_config, get_agent
from services.errors import Invalid

MAX_YAML_CHARS = 1_000_000
KEYS = ("name", "description", "config")


@dataclass(frozen=True)
class AgentDocument:
    name: str
    description: str
    config: dict[str, Any]


def export_yaml(session: Session, actor: Actor, agent_id: uuid.UUID) -> str:
    agent = get_agent(session, actor, agent_id)
    config = current_config(agent).model_dump(mode="json", exclude={"layout"})
    document = {"name": agent.name, "description": agent.description, "config": config}
    return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100))


def _refuse(message: str, field: str = "yaml") -> Invalid:
    return Invalid(message, fields={field: message})


def _load(text: str) -> Any:
    if len(text) > MAX_YAML_CHARS:
        raise _refuse(f"The agent file is longer than {MAX_YAML_CHARS:,} characters.")
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                line = mark.line + 1 if mark else "?"
                raise _refuse(f"Line {line}: anchors and aliases (*name) are not allowed here.")
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"Line {mark.line + 1}: " if mark else ""
        raise _refuse(f"{where}this is not valid YAML ({exc.problem or 'syntax error'}).") from None
    except yaml.YAMLError:
        raise _refuse("This is not valid YAML.") from None


def parse_document(text: str) -> AgentDocument:
    """The name, description and (validated) config of an agent file, or one `Invalid` whose
    fields name each problem (`name`, `config.temperature`, …)."""
    data = _load(text)
    if not isinstance(data, dict):
        raise _refuse("An agent file is a mapping with name, description and config.")
    unknown = sorted(str(k) for k in data if k not in KEYS)
    if unknown:
        raise _refuse(
            f"Unknown top-level field {', '.join(unknown)}; an agent file has {', '.join(KEYS)}.",
            unknown[0],
        )
    name, description, config = data.get("name"), data.get("description") or "", data.get("config")
    fields: dict[str, str] = {}
    if not isinstance(name, str) or not name.strip():
        fields["name"] = "Name is required (text)."
    if not isinstance(description, str):
        fields["description"] = "Description must be text."
    if config is None:
        config = {}
    if not isinstance(config, dict):
        fields["config"] = "Config must be a mapping of settings (model, instructions, …)."
    else:
        try:
            agents.validate_config(config)
        except Invalid as exc:
            fields.update({f"config.{k}": v for k, v in exc.fields.items()})
    if fields:
        raise Invalid("Please correct the agent file: " + " ".join(fields.values()), fields=fields)
    assert isinstance(name, str) and isinstance(description, str) and isinstance(config, dict)
    return AgentDocument(name=name.strip(), description=description, config=config)


def import_yaml(session: Session, actor: Actor, text: str) -> Agent:
    """A new agent (version 1) from an agent file."""
    document = parse_document(text)
    return agents.create_agent(
        session,
        actor,
        name=document.name,
        description=document.description,
        config=document.config,
    )


def apply_yaml(
    session: Session, actor: Actor, agent_id: uuid.UUID, text: str
) -> tuple[Agent, AgentVersion | None]:
    """An existing agent updated from an agent file (a new version when the config differs).
    The canvas layout is kept: files do not carry it."""
    document = parse_document(text)
    agent = get_agent(session, actor, agent_id)
    config = dict(document.config)
    if "layout" not in config and agent.config.get("layout"):
        config["layout"] = agent.config["layout"]
    return agents.update_agent(
        session,
        actor,
        agent.id,
        name=document.name,
        description=document.description,
        config=config,
    )
