"""Version history of an agent: who saved what, what changed between two versions, restore.

Versions are immutable (see `agents.new_version`); restoring an old one saves its config again
as a new version, so history is never rewritten and runs keep the versions they used.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlmodel import Session, col, select

from agent_platform.models import AgentConfig, AgentVersion, Role, User
from services.access import Actor, require_role
from services.agent_publishing import keep_publishable
from services.agent_reads import visible_versions
from services.agents import audit_agent, check_agent_tools, get_agent, new_version, validate_config
from services.errors import Invalid, NotFound
from services.read_scope import where_of

DiffKind = Literal["added", "removed", "changed", "same"]


def list_versions(session: Session, actor: Actor, agent_id: uuid.UUID) -> list[AgentVersion]:
    agent = get_agent(session, actor, agent_id)
    return list(
        session.exec(
            visible_versions(actor)
            .where(AgentVersion.agent_id == agent.id)
            .order_by(col(AgentVersion.version).desc())
        ).all()
    )


@dataclass(frozen=True)
class VersionInfo:
    version: int
    created_at: datetime
    author_name: str  # empty when the author's account is gone
    author_email: str
    model: str
    current: bool


def version_history(
    session: Session, actor: Actor, agent_id: uuid.UUID, *, limit: int = 50
) -> list[VersionInfo]:
    """Newest first, with who saved each version (one query, authors joined in)."""
    agent = get_agent(session, actor, agent_id)
    rows = session.exec(
        select(AgentVersion, User.name, User.email)
        .outerjoin(User, col(User.id) == AgentVersion.created_by_id)
        .where(where_of(visible_versions(actor)), AgentVersion.agent_id == agent.id)
        .order_by(col(AgentVersion.version).desc())
        .limit(max(1, min(limit, 500)))
    ).all()
    return [
        VersionInfo(
            version=v.version,
            created_at=v.created_at,
            author_name=name or "",
            author_email=email or "",
            model=str(v.config.get("model", "")),
            current=v.id == agent.current_version_id,
        )
        for v, name, email in rows
    ]


def get_version(session: Session, actor: Actor, agent_id: uuid.UUID, number: int) -> AgentVersion:
    agent = get_agent(session, actor, agent_id)
    version = session.exec(
        visible_versions(actor).where(
            AgentVersion.agent_id == agent.id, AgentVersion.version == number
        )
    ).first()
    if version is None:
        raise NotFound(f"Version {number} not found.")
    return version


def version_number(session: Session, actor: Actor, version_id: uuid.UUID | None) -> int | None:
    """The number people know a version by; a run keeps only its version's id. None when the
    version is gone (its agent deleted) or belongs to another organization."""
    if version_id is None:
        return None
    version = session.exec(visible_versions(actor).where(AgentVersion.id == version_id)).first()
    return version.version if version else None


@dataclass(frozen=True)
class DiffRow:
    path: str  # dotted, e.g. "memory.window", "tools[builtin:calculator]"
    old: Any  # None when the field is absent on that side
    new: Any
    kind: DiffKind


def _tool_key(tool: dict[str, Any]) -> str:
    """Tools are a set, compared by (kind, name); a grant also names its connection, since
    the same action may be granted on two connections."""
    key = f"{tool.get('kind', 'builtin')}:{tool.get('name', '')}"
    if tool.get("kind") == "integration":
        settings = tool.get("settings") or {}
        key += f"@{settings.get('connection_name') or settings.get('connection', '')}"
    return key


# settings copied in at save time (labels, names): already in a tool's summary row
COPIED = {"label", "provider", "connection_name"}


def _tool_summary(tool: dict[str, Any]) -> str:
    settings = tool.get("settings") or {}
    if tool.get("kind") == "agent":
        return f"hand-off to {settings.get('label') or tool.get('name')}"
    if tool.get("kind") == "integration":
        return f"{tool.get('name')} on {settings.get('connection_name') or 'a connection'}"
    return str(tool.get("name", ""))


def flatten_config(config: dict[str, Any]) -> dict[str, Any]:
    """Leaves by dotted path; lists stay one value (except tools, keyed by (kind, name)),
    None leaves are left out so "not set" and "absent" read the same."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif value is not None:
            flat[prefix] = value

    for key, value in config.items():
        if key == "tools" and isinstance(value, list):
            for tool in value:
                path = f"tools[{_tool_key(tool)}]"
                while path in flat:  # the same tool listed twice stays visible
                    path += "+"
                flat[path] = _tool_summary(tool)
                settings = tool.get("settings") or {}
                walk(f"{path}.settings", {k: v for k, v in settings.items() if k not in COPIED})
        else:
            walk(key, value)
    return flat


def _layout_summary(old: dict[str, Any], new: dict[str, Any]) -> tuple[str | None, str | None]:
    """The canvas picture as one row, not a row per node coordinate: where the nodes sit never
    changes what the agent does, and a moved node would otherwise bury the real changes."""
    before, after = old.get("layout") or {}, new.get("layout") or {}
    if not before and not after:
        return None, None
    moved = sum(1 for node, at in after.items() if node in before and before[node] != at)
    summary = f"{len(after)} nodes placed"
    if moved:
        summary += f", {moved} moved"
    return (f"{len(before)} nodes placed" if before else None), (summary if after else None)


def diff_configs(
    old: dict[str, Any], new: dict[str, Any], *, include_same: bool = False
) -> list[DiffRow]:
    """Rows in config field order (then by path); unchanged ones only with `include_same`,
    for a side-by-side view of the whole config."""
    before = flatten_config({k: v for k, v in old.items() if k != "layout"})
    after = flatten_config({k: v for k, v in new.items() if k != "layout"})
    before_layout, after_layout = _layout_summary(old, new)
    if before_layout is not None:
        before["layout"] = before_layout
    if after_layout is not None:
        after["layout"] = after_layout
    fields = list(AgentConfig.model_fields)

    def rank(path: str) -> int:
        head = path.split(".")[0].split("[")[0]
        return fields.index(head) if head in fields else len(fields)

    paths = sorted(before.keys() | after.keys(), key=lambda path: (rank(path), path))
    rows: list[DiffRow] = []
    for path in paths:
        if path not in after:
            rows.append(DiffRow(path, before[path], None, "removed"))
        elif path not in before:
            rows.append(DiffRow(path, None, after[path], "added"))
        elif before[path] != after[path]:
            rows.append(DiffRow(path, before[path], after[path], "changed"))
        elif include_same:
            rows.append(DiffRow(path, before[path], after[path], "same"))
    return rows


def diff_versions(
    session: Session,
    actor: Actor,
    agent_id: uuid.UUID,
    a: int,
    b: int,
    *,
    include_same: bool = False,
) -> list[DiffRow]:
    """What changed from version `a` to version `b` of one agent (old = a, new = b)."""
    old = get_version(session, actor, agent_id, a)
    new = get_version(session, actor, agent_id, b)
    return diff_configs(old.config, new.config, include_same=include_same)


def restore_version(
    session: Session, actor: Actor, agent_id: uuid.UUID, number: int
) -> AgentVersion:
    """Makes an old config current again as a NEW version: history is never rewritten, and
    runs keep pointing at the versions they used. The old config is checked like any save
    (a connection it granted may be gone since)."""
    require_role(actor, Role.BUILDER)
    agent = get_agent(session, actor, agent_id)
    old = get_version(session, actor, agent_id, number)
    parsed = check_agent_tools(
        session, actor, validate_config(dict(old.config)), current=agent.config
    )
    if parsed.model_dump(mode="json") == agent.config:
        raise Invalid(f"Version {number} is already the current configuration.")
    keep_publishable(session, actor, agent, parsed)
    version = new_version(session, actor, agent, parsed)
    audit_agent(
        session, actor, "agent.version_restored", agent.id, restored=number, version=version.version
    )
    return version
