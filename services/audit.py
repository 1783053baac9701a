"""The audit log: who did what security-relevant thing, readable by an org's owners and admins."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, col, func, select

from agent_platform.models import AuditEntry, Role
from services.access import Actor, require_role


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


def list_entries(
    session: Session, actor: Actor, *, offset: int = 0, limit: int = 50, action: str = ""
) -> tuple[list[AuditEntry], int]:
    require_role(actor, Role.ADMIN)
    query = select(AuditEntry).where(AuditEntry.org_id == actor.org_id)
    if action:
        query = query.where(col(AuditEntry.action).startswith(action, autoescape=True))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(AuditEntry.created_at).desc()).offset(offset).limit(min(limit, 200))
    ).all()
    return list(rows), total
