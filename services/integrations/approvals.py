"""A person's yes or no before a side-effecting action runs.

Why rows, not in-memory futures: the run waits in an agent worker while the decision comes
from a web process (or after a restart of either); the database is the one place both see.

Separation of duties: "ask a person first" means another person. Whoever started the run may
decline it but not approve it, unless the organization explicitly allows self-approval.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import ActionApproval, ApprovalStatus, Execution, Organization, Role
from agent_platform.models.base import utcnow
from services import audit
from services.access import Actor, require_role
from services.errors import Conflict, Forbidden, NotFound
from services.run_reads import get_run


def request(
    session: Session,
    *,
    org_id: uuid.UUID,
    run_id: uuid.UUID,
    integration_id: uuid.UUID,
    action: str,
    arguments: dict[str, Any],
    timeout_seconds: int,
) -> ActionApproval:
    row = ActionApproval(
        org_id=org_id,
        execution_id=run_id,
        integration_id=integration_id,
        action=action,
        arguments=arguments,
        expires_at=utcnow() + timedelta(seconds=timeout_seconds),
    )
    session.add(row)
    return row


def outcome(session: Session, approval_id: uuid.UUID) -> ApprovalStatus:
    """The decision so far; a pending approval past its deadline becomes expired here."""
    session.exec(
        update(ActionApproval)
        .where(
            col(ActionApproval.id) == approval_id,
            col(ActionApproval.status) == ApprovalStatus.PENDING,
            col(ActionApproval.expires_at) <= utcnow(),
        )
        .values(status=ApprovalStatus.EXPIRED)
    )
    status = session.exec(
        select(col(ActionApproval.status)).where(ActionApproval.id == approval_id)
    ).first()
    return status if status is not None else ApprovalStatus.DENIED


def visible_approvals(actor: Actor) -> SelectOfScalar[ActionApproval]:
    """Every approval read starts here: the actor's organization's requests, nothing else."""
    return select(ActionApproval).where(ActionApproval.org_id == actor.org_id)


def get_approval(session: Session, actor: Actor, approval_id: uuid.UUID) -> ActionApproval:
    row = session.exec(visible_approvals(actor).where(ActionApproval.id == approval_id)).first()
    if row is None:
        raise NotFound("Approval request not found.")
    return row


def pending(
    session: Session, actor: Actor, *, run_id: uuid.UUID | None = None, limit: int = 50
) -> list[ActionApproval]:
    """Open requests, of one run when `run_id` is given (another organization's run is
    NotFound, like any id of theirs)."""
    query = visible_approvals(actor).where(
        ActionApproval.status == ApprovalStatus.PENDING,
        col(ActionApproval.expires_at) > utcnow(),
    )
    if run_id is not None:
        query = query.where(ActionApproval.execution_id == get_run(session, actor, run_id).id)
    return list(session.exec(query.order_by(col(ActionApproval.created_at)).limit(limit)).all())


def decide(
    session: Session, actor: Actor, approval_id: uuid.UUID, *, approve: bool
) -> ActionApproval:
    require_role(actor, Role.BUILDER)
    row = get_approval(session, actor, approval_id)
    if approve:
        current = outcome(session, approval_id)  # an overdue request says so, not "not yours"
        if current != ApprovalStatus.PENDING:
            raise Conflict(f"This request was already {current.value}.")
        _check_not_own_run(session, actor, row)
    decision = ApprovalStatus.APPROVED if approve else ApprovalStatus.DENIED
    # One conditional UPDATE: of two people deciding at once (or a decision racing the
    # deadline) exactly one wins, and the loser is told so.
    changed = session.exec(
        update(ActionApproval)
        .where(
            col(ActionApproval.id) == approval_id,
            col(ActionApproval.org_id) == actor.org_id,
            col(ActionApproval.status) == ApprovalStatus.PENDING,
            col(ActionApproval.expires_at) > utcnow(),
        )
        .values(status=decision, decided_by_id=actor.user_id, decided_at=utcnow())
    ).rowcount
    if changed != 1:
        current = outcome(session, approval_id)
        raise Conflict(f"This request was already {current.value}.")
    session.refresh(row)
    audit.record(
        session,
        "integration.approval",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="run",
        target_id=row.execution_id,
        client_ip=actor.client_ip,
        action_name=row.action,
        decision=row.status.value,
    )
    return row


def _check_not_own_run(session: Session, actor: Actor, row: ActionApproval) -> None:
    run = session.get(Execution, row.execution_id)
    if run is None or run.triggered_by_id is None or run.triggered_by_id != actor.user_id:
        return
    org = session.get(Organization, actor.org_id)
    if org is not None and org.allow_self_approval:
        return
    raise Forbidden(
        "You started this run, so another member must approve this action. "
        "(You can still decline it; an admin can allow self-approval in Settings.)"
    )
