"""Agents and their versions over REST (/api/v1): list, get, create, update, archive, delete,
publish, versions, diffs, restore, YAML export and import. HTTP only; every rule is in the
services the builder uses (`agents`, `agent_versions`, `agent_publishing`, `agent_yaml`).

Reads need any key; changes need the write scope. Another organization's agent is a 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from agent_platform.models import Agent, AgentStatus, AgentVersion
from services import agent_listing, agent_publishing, agent_versions, agent_yaml, agents
from services.access import Actor
from services.agent_reads import get_agent, visible_versions
from services.errors import NotFound

from .pagination import Page, Paging, keyset, paged
from .v1 import ApiActor, RequestSession, WriteActor

router = APIRouter(prefix="/api/v1", tags=["agents"])


class AgentSummary(BaseModel):
    id: str
    name: str
    description: str
    status: str
    model: str
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None


class AgentOut(AgentSummary):
    config: dict[str, Any]
    current_version: int | None


class AgentSaved(AgentOut):
    new_version: int | None = Field(description="the version this save made; null: unchanged")


class AgentIn(BaseModel):
    name: str
    description: str = ""
    config: dict[str, Any] = Field(default_factory=dict)


class AgentPatch(BaseModel):
    name: str | None = None
    description: str | None = None
    config: dict[str, Any] | None = None
    based_on_version: int | None = Field(
        default=None,
        description="the version the change was made on: refused (409) if another save came "
        "in between",
    )


class VersionOut(BaseModel):
    version: int
    created_at: datetime
    model: str
    current: bool


class VersionDetail(VersionOut):
    config: dict[str, Any]


class DiffRowOut(BaseModel):
    path: str
    old: Any
    new: Any
    kind: str


class DiffOut(BaseModel):
    from_version: int
    to_version: int
    changes: list[DiffRowOut]


def _agent_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("Agent not found.") from None


def _summary(agent: Agent) -> AgentSummary:
    return AgentSummary(
        id=str(agent.id),
        name=agent.name,
        description=agent.description,
        status=agent.status.value,
        model=str(agent.config.get("model", "")),
        created_at=agent.created_at,
        updated_at=agent.updated_at,
        archived_at=agent.archived_at,
    )


def _out(session: Session, actor: Actor, agent: Agent) -> AgentOut:
    number = agent_versions.version_number(session, actor, agent.current_version_id)
    return AgentOut(
        **_summary(agent).model_dump(), config=dict(agent.config), current_version=number
    )


def _saved(
    session: Session, actor: Actor, agent: Agent, version: AgentVersion | None
) -> AgentSaved:
    session.flush()
    return AgentSaved(
        **_out(session, actor, agent).model_dump(),
        new_version=version.version if version else None,
    )


class YamlResponse(PlainTextResponse):
    """A YAML file (an agent's, a suite's), documented as application/yaml."""

    media_type = "application/yaml"


def yaml_file(keys: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI answer of a YAML file: a mapping with these top-level keys (clients that
    parse it get an object, not a string)."""
    schema = {"type": "object", "description": f"YAML with the keys {keys}"}
    return {200: {"content": {"application/yaml": {"schema": schema}}}}


MAX_VERSION = 2**31 - 1  # the column's range: a larger number names no version
VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION)]

YamlText = Annotated[
    str, Body(media_type="application/yaml", description="name, description, config")
]


@router.get("/agents", response_model=Page[AgentSummary])
def list_agents(
    session: RequestSession,
    actor: ApiActor,
    paging: Paging,
    search: Annotated[str, Query(max_length=200, description="in name and description")] = "",
    status: Annotated[
        AgentStatus | None, Query(description="empty: every agent that is not archived")
    ] = None,
) -> Page[AgentSummary]:
    query = agent_listing.agent_list_query(actor, search=search, status=status)
    rows = session.exec(keyset(query, Agent.created_at, Agent.id, paging)).all()
    return Page[AgentSummary](**paged([_summary(a) for a in rows], rows, paging))


@router.post("/agents", response_model=AgentSaved, status_code=201)
def create_agent(session: RequestSession, actor: WriteActor, body: AgentIn) -> AgentSaved:
    agent = agents.create_agent(
        session, actor, name=body.name, description=body.description, config=body.config
    )
    return _saved(session, actor, agent, None)


@router.post("/agents/import", response_model=AgentSaved, status_code=201)
def import_agent(text: YamlText, session: RequestSession, actor: WriteActor) -> AgentSaved:
    """A new agent from an agent file (YAML: name, description, config)."""
    agent = agent_yaml.import_yaml(session, actor, text)
    return _saved(session, actor, agent, None)


@router.get("/agents/{agent_id}", response_model=AgentOut)
def get_agent_detail(agent_id: str, session: RequestSession, actor: ApiActor) -> AgentOut:
    return _out(session, actor, get_agent(session, actor, _agent_id(agent_id)))


@router.patch("/agents/{agent_id}", response_model=AgentSaved)
def update_agent(
    agent_id: str, body: AgentPatch, session: RequestSession, actor: WriteActor
) -> AgentSaved:
    based_on = None
    if body.based_on_version is not None:
        based_on = agent_versions.get_version(
            session, actor, _agent_id(agent_id), body.based_on_version
        ).id
    agent, version = agents.update_agent(
        session,
        actor,
        _agent_id(agent_id),
        name=body.name,
        description=body.description,
        config=body.config,
        based_on=based_on,
    )
    return _saved(session, actor, agent, version)


@router.delete("/agents/{agent_id}", status_code=204)
def delete_agent(agent_id: str, session: RequestSession, actor: WriteActor) -> Response:
    agents.delete_agent(session, actor, _agent_id(agent_id))
    return Response(status_code=204)


@router.post("/agents/{agent_id}/archive", response_model=AgentOut)
def archive_agent(agent_id: str, session: RequestSession, actor: WriteActor) -> AgentOut:
    """Archived agents cannot run and leave the default list; versions and runs stay."""
    agent = agents.archive_agent(session, actor, _agent_id(agent_id))
    return _out(session, actor, agent)


@router.post("/agents/{agent_id}/unarchive", response_model=AgentOut)
def unarchive_agent(agent_id: str, session: RequestSession, actor: WriteActor) -> AgentOut:
    """Back as a draft (publishing is checked again)."""
    agent = agents.unarchive_agent(session, actor, _agent_id(agent_id))
    return _out(session, actor, agent)


@router.post("/agents/{agent_id}/publish", response_model=AgentOut)
def publish_agent(agent_id: str, session: RequestSession, actor: WriteActor) -> AgentOut:
    """After the builder's own checks; a refusal (422) lists what to fix."""
    agent = agent_publishing.publish_agent(session, actor, _agent_id(agent_id))
    return _out(session, actor, agent)


@router.post("/agents/{agent_id}/unpublish", response_model=AgentOut)
def unpublish_agent(agent_id: str, session: RequestSession, actor: WriteActor) -> AgentOut:
    agent = agent_publishing.unpublish_agent(session, actor, _agent_id(agent_id))
    return _out(session, actor, agent)


@router.get("/agents/{agent_id}/versions", response_model=Page[VersionOut])
def list_versions(
    agent_id: str, session: RequestSession, actor: ApiActor, paging: Paging
) -> Page[VersionOut]:
    """Newest first."""
    agent = get_agent(session, actor, _agent_id(agent_id))
    query = visible_versions(actor).where(AgentVersion.agent_id == agent.id)
    rows = session.exec(keyset(query, AgentVersion.created_at, AgentVersion.id, paging)).all()
    items = [_version_out(v, agent) for v in rows]
    return Page[VersionOut](**paged(items, rows, paging))


def _version_out(version: AgentVersion, agent: Agent) -> VersionOut:
    return VersionOut(
        version=version.version,
        created_at=version.created_at,
        model=str(version.config.get("model", "")),
        current=version.id == agent.current_version_id,
    )


@router.get("/agents/{agent_id}/versions/{number}", response_model=VersionDetail)
def get_version(
    agent_id: str, number: VersionNumber, session: RequestSession, actor: ApiActor
) -> VersionDetail:
    ident = _agent_id(agent_id)
    version = agent_versions.get_version(session, actor, ident, number)
    agent = get_agent(session, actor, ident)
    return VersionDetail(**_version_out(version, agent).model_dump(), config=dict(version.config))


@router.post("/agents/{agent_id}/versions/{number}/restore", response_model=AgentSaved)
def restore_version(
    agent_id: str, number: VersionNumber, session: RequestSession, actor: WriteActor
) -> AgentSaved:
    """The old config becomes current again as a new version (history is never rewritten)."""
    ident = _agent_id(agent_id)
    version = agent_versions.restore_version(session, actor, ident, number)
    return _saved(session, actor, get_agent(session, actor, ident), version)


@router.get("/agents/{agent_id}/diff", response_model=DiffOut)
def diff_versions(
    agent_id: str,
    session: RequestSession,
    actor: ApiActor,
    from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_VERSION)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_VERSION)],
    include_same: bool = False,
) -> DiffOut:
    """What changed from version `from` to version `to` (dotted paths, e.g. `memory.window`)."""
    rows = agent_versions.diff_versions(
        session, actor, _agent_id(agent_id), from_version, to_version, include_same=include_same
    )
    return DiffOut(
        from_version=from_version,
        to_version=to_version,
        changes=[DiffRowOut(path=r.path, old=r.old, new=r.new, kind=r.kind) for r in rows],
    )


@router.get(
    "/agents/{agent_id}/export",
    response_class=YamlResponse,
    responses=yaml_file("name, description, config"),
)
def export_agent(agent_id: str, session: RequestSession, actor: ApiActor) -> YamlResponse:
    """The agent file (YAML: name, description, config) to keep in git."""
    return YamlResponse(agent_yaml.export_yaml(session, actor, _agent_id(agent_id)))


@router.put("/agents/{agent_id}/import", response_model=AgentSaved)
def apply_agent_file(
    agent_id: str, text: YamlText, session: RequestSession, actor: WriteActor
) -> AgentSaved:
    """Update an agent from an agent file: a new version when its config differs."""
    agent, version = agent_yaml.apply_yaml(session, actor, _agent_id(agent_id), text)
    return _saved(session, actor, agent, version)
