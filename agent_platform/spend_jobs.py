"""RQ job: the monthly spend alerts an organization is due (services.spend enqueues it)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agent_platform.db import session_scope
from services import spend


def record_spend_alerts(org_id: str, month: str) -> list[int]:
    """Send the 80 % / 100 % alerts of `month` ("2026-12") not sent yet; idempotent."""
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    with session_scope() as session:
        return spend.record_alerts(session, uuid.UUID(org_id), start)
