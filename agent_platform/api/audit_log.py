"""The organization's audit log over REST (/api/v1/audit-log), newest first: who did what,
when, from where. Admins only (the rule is in `services.audit`); paged by cursor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from agent_platform.models import AuditEntry
from services import audit

from .pagination import Page, Paging, keyset, paged
from .v1 import ApiActor, RequestSession

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditEntryOut(BaseModel):
    id: str
    action: str
    actor_id: str | None = Field(description="null: an API key, the platform, or a gone account")
    actor: str = Field(description="who, as people know them; empty when unknown")
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]
    client_ip: str | None
    created_at: datetime


@router.get("/audit-log", response_model=Page[AuditEntryOut])
def list_audit_log(
    session: RequestSession,
    actor: ApiActor,
    paging: Paging,
    action: str = Query(
        default="", max_length=80, description="entries whose action starts with this"
    ),
) -> Page[AuditEntryOut]:
    query = audit.listable_entries(actor, action=action)
    rows = list(session.exec(keyset(query, AuditEntry.created_at, AuditEntry.id, paging)).all())
    labels = audit.actor_labels(session, rows)
    items = [
        AuditEntryOut(
            id=str(e.id),
            action=e.action,
            actor_id=str(e.actor_id) if e.actor_id else None,
            actor=labels.get(e.actor_id, "") if e.actor_id else "",
            target_type=e.target_type,
            target_id=e.target_id,
            details=dict(e.details or {}),
            client_ip=e.client_ip,
            created_at=e.created_at,
        )
        for e in rows
    ]
    return Page[AuditEntryOut](**paged(items, rows, paging))
