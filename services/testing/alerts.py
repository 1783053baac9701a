"""Quality alerts: written with the change that caused them, posted to a webhook after commit.

Delivery goes through the outbound guard (the organization's private hosts included), from a
job, so a slow or refusing webhook never holds up grading; the outcome is kept on the alert.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.db import after_commit
from agent_platform.models import QualityAlert
from agent_platform.models.base import utcnow
from services import private_hosts
from services.access import Actor, Permission, can
from services.outbound import OutboundError, default_guard
from services.queue import queue

DELIVER_JOB = "agent_platform.worker.deliver_quality_alert"
WEBHOOK_TIMEOUT_S = 10.0


def shown_webhook(actor: Actor, url: str | None) -> str | None:
    """An alert webhook URL as `actor` may see it: only to those who may change it. Such URLs
    (Slack's, most chat tools') are credentials: whoever holds one can post as the alert."""
    return url if can(actor, Permission.AGENTS_WRITE) else None


def visible_alerts(actor: Actor) -> SelectOfScalar[QualityAlert]:
    """Every alert read starts here: the actor's organization's, nothing else."""
    return select(QualityAlert).where(QualityAlert.org_id == actor.org_id)


def recent_alerts(session: Session, actor: Actor, *, limit: int = 20) -> list[QualityAlert]:
    return list(
        session.exec(
            visible_alerts(actor).order_by(col(QualityAlert.created_at).desc()).limit(limit)
        ).all()
    )


def raise_alert(
    session: Session,
    *,
    org_id: uuid.UUID,
    agent_id: uuid.UUID | None,
    kind: str,
    message: str,
    details: dict[str, Any],
    webhook_url: str | None,
) -> QualityAlert:
    alert = QualityAlert(
        org_id=org_id,
        agent_id=agent_id,
        kind=kind,
        message=message[:500],
        details=details,
        webhook_url=webhook_url or None,
    )
    session.add(alert)
    session.flush()
    if alert.webhook_url:
        alert_id = alert.id

        def enqueue() -> None:
            queue("default").enqueue(
                DELIVER_JOB, str(alert_id), job_id=f"alert-{alert_id}", failure_ttl=86400
            )

        after_commit(session, enqueue)
    return alert


def payload(alert: QualityAlert) -> dict[str, Any]:
    return {
        "type": f"quality.{alert.kind}",
        "alert_id": str(alert.id),
        "agent_id": str(alert.agent_id) if alert.agent_id else None,
        "message": alert.message,
        "details": alert.details,
        "created_at": alert.created_at.isoformat(),
    }


async def post(url: str, body: dict[str, Any], allow_hosts: tuple[str, ...]) -> str | None:
    """POST the alert; None when the receiver took it, else why not, in words."""
    guard = default_guard(allow_hosts)
    try:
        async with guard.client(refuse_redirects=True, timeout=WEBHOOK_TIMEOUT_S) as client:
            response = await client.post(url, json=body)
    except OutboundError as exc:
        return f"refused: {exc}"[:500]
    except Exception as exc:  # noqa: BLE001 - any network failure is recorded, not raised
        return f"could not reach the webhook ({exc.__class__.__name__})"
    if response.status_code >= 300:
        return f"the webhook answered HTTP {response.status_code}"
    return None


def record_delivery(session: Session, alert_id: uuid.UUID, error: str | None) -> None:
    alert = session.get(QualityAlert, alert_id)
    if alert is None:
        return
    alert.delivered_at = utcnow() if error is None else None
    alert.delivery_error = error
    session.add(alert)


def delivery_target(
    session: Session, alert_id: uuid.UUID
) -> tuple[str, dict[str, Any], tuple[str, ...]] | None:
    alert = session.get(QualityAlert, alert_id)
    if alert is None or not alert.webhook_url or alert.delivered_at is not None:
        return None
    hosts = tuple(private_hosts.org_entries(session, alert.org_id))
    return alert.webhook_url, payload(alert), hosts
