"""The audit log: who did what security-relevant thing, readable by an org's owners and admins."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import AuditEntry, Role, User
from services.access import Actor, require_role
from services.errors import AuditPayload


def record(
    session: Session,
    action: str,
    *,
    org_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    target_type: str | None = None,
    target_id: uuid.UUID | str | None = None,
    client_ip: str | None = None,
    **details: Any,
) -> AuditEntry:
    entry = AuditEntry(
        org_id=org_id,
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        client_ip=client_ip,
        details={k: v for k, v in details.items() if v is not None},
    )
    session.add(entry)
    return entry


def for_error(
    action: str,
    *,
    org_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    target_type: str | None = None,
    target_id: uuid.UUID | str | None = None,
    client_ip: str | None = None,
    **details: Any,
) -> AuditPayload:
    """The entry of a refusal or failure, raised with the error (`audit=`) instead of added
    to the session: the caller's transaction rolls back, then the session scope writes only
    this entry, so a refused action is remembered and nothing half-done is committed."""
    return {
        "action": action,
        "org_id": org_id,
        "actor_id": actor_id,
        "target_type": target_type,
        "target_id": str(target_id) if target_id is not None else None,
        "client_ip": client_ip,
        "details": {k: v for k, v in details.items() if v is not None},
    }


def by_actor(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target_type: str,
    target_id: uuid.UUID | str,
    **details: Any,
) -> AuditEntry:
    """The usual entry: the acting person, in their org, from their address, on one target."""
    return record(
        session,
        action,
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type=target_type,
        target_id=target_id,
        client_ip=actor.client_ip,
        **details,
    )


def visible_entries(actor: Actor) -> SelectOfScalar[AuditEntry]:
    """Every audit read starts here: the actor's organization's entries, nothing else."""
    return select(AuditEntry).where(AuditEntry.org_id == actor.org_id)


def listable_entries(actor: Actor, *, action: str = "") -> SelectOfScalar[AuditEntry]:
    """The entries an actor may list (admins), those whose action starts with `action`, as
    a query the caller orders and pages (the log page by offset, the REST API by cursor)."""
    require_role(actor, Role.ADMIN)
    query = visible_entries(actor)
    if action:
        query = query.where(col(AuditEntry.action).startswith(action, autoescape=True))
    return query


def list_entries(
    session: Session, actor: Actor, *, offset: int = 0, limit: int = 50, action: str = ""
) -> tuple[list[AuditEntry], int]:
    query = listable_entries(actor, action=action)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(AuditEntry.created_at).desc()).offset(offset).limit(min(limit, 200))
    ).all()
    return list(rows), total


def actor_labels(session: Session, entries: list[AuditEntry]) -> dict[uuid.UUID, str]:
    """Who did each thing, as people know them ("Ada <ada@example.com>"), for one page of
    entries in one query. Entries whose account is gone are absent: the caller says so."""
    ids = {e.actor_id for e in entries if e.actor_id is not None}
    if not ids:
        return {}
    found = session.exec(select(User.id, User.name, User.email).where(col(User.id).in_(ids)))
    return {user_id: f"{name} <{email}>" for user_id, name, email in found.all()}
