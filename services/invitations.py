"""Invitations: a single-use, expiring link that makes its holder a member with a given role."""

from __future__ import annotations

import uuid
from datetime import timedelta

from pydantic import BaseModel, EmailStr
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import Invitation, Membership, Organization, Role, User
from agent_platform.models.base import utcnow
from services import audit
from services.access import Actor, Permission, require
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.organizations import limits_for, member_count, visible_members
from services.plan_limits import limit_reached
from services.read_scope import where_of
from services.tokens import new_token, token_hash
from services.validation import parse


class InviteInput(BaseModel):
    email: EmailStr
    role: Role


def _check_member_limit(session: Session, org_id: uuid.UUID) -> None:
    """Checked when inviting and again when accepting: several links may be out at once.
    Under a lock on the organization's row, so two acceptances of the last seat cannot both
    pass (see agents._check_agent_limit)."""
    limits = limits_for(session, org_id)
    if limits is None or limits.max_members < 0:
        return
    session.get(Organization, org_id, with_for_update=True, populate_existing=True)
    if member_count(session, org_id) >= limits.max_members:
        raise Invalid(
            limit_reached(
                limits,
                allows=f"{limits.max_members:,} members",
                more="more seats",
                instead="Remove a member",
            )
        )


def create_invitation(
    session: Session, actor: Actor, *, email: str, role: str, days: int = 7
) -> tuple[Invitation, str]:
    """Returns the invitation and its token; the token is shown once and only its hash kept."""
    require(actor, Permission.ORG_MANAGE)
    data = parse(InviteInput, {"email": email.strip().lower(), "role": role})
    if data.role == Role.OWNER and actor.role != Role.OWNER:
        raise Forbidden("Only an owner can invite another owner.")
    email_norm = str(data.email).lower()
    already = session.exec(
        select(Membership.id)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(where_of(visible_members(actor)), User.email == email_norm)
    ).first()
    if already:
        raise Conflict(f"{email_norm} is already a member.", fields={"email": "Already a member"})
    _check_member_limit(session, actor.org_id)
    # A lost link is replaced, not duplicated: older pending links for this email stop working.
    for older in session.exec(
        visible_invitations(actor).where(
            Invitation.email == email_norm,
            col(Invitation.accepted_at).is_(None),
            col(Invitation.revoked_at).is_(None),
        )
    ).all():
        older.revoked_at = utcnow()
        session.add(older)
    token = new_token("inv_")
    invitation = Invitation(
        org_id=actor.org_id,
        email=email_norm,
        role=data.role,
        token_hash=token_hash(token),
        invited_by_id=actor.user_id,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(invitation)
    session.flush()
    audit.record(
        session,
        "invitation.created",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="invitation",
        target_id=invitation.id,
        email=email_norm,
        role=data.role.value,
        client_ip=actor.client_ip,
    )
    return invitation, token


def visible_invitations(actor: Actor) -> SelectOfScalar[Invitation]:
    """Every invitation read by id or list starts here: the actor's organization's only.
    (Accepting reads by the secret token instead: whoever holds the link may use it.)"""
    return select(Invitation).where(Invitation.org_id == actor.org_id)


def get_invitation(session: Session, actor: Actor, invitation_id: uuid.UUID) -> Invitation:
    invitation = session.exec(
        visible_invitations(actor).where(Invitation.id == invitation_id)
    ).first()
    if invitation is None:
        raise NotFound("Invitation not found.")
    return invitation


def pending_invitations(actor: Actor) -> SelectOfScalar[Invitation]:
    """The invitations an actor may list (admins): neither accepted nor revoked yet."""
    require(actor, Permission.ORG_MANAGE)
    return visible_invitations(actor).where(
        col(Invitation.accepted_at).is_(None),
        col(Invitation.revoked_at).is_(None),
    )


def list_pending(session: Session, actor: Actor) -> list[Invitation]:
    query = pending_invitations(actor).order_by(col(Invitation.created_at).desc())
    return list(session.exec(query).all())


def revoke_invitation(session: Session, actor: Actor, invitation_id: uuid.UUID) -> None:
    require(actor, Permission.ORG_MANAGE)
    invitation = get_invitation(session, actor, invitation_id)
    invitation.revoked_at = utcnow()
    session.add(invitation)
    audit.record(
        session,
        "invitation.revoked",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="invitation",
        target_id=invitation.id,
        client_ip=actor.client_ip,
    )


def _usable(session: Session, token: str) -> Invitation:
    invitation = session.exec(
        select(Invitation).where(Invitation.token_hash == token_hash(token))
    ).first()
    if invitation is None or invitation.revoked_at is not None:
        raise NotFound("This invitation link is not valid.")
    if invitation.accepted_at is not None:
        raise Invalid("This invitation has already been used.")
    if invitation.expires_at <= utcnow():
        raise Invalid("This invitation has expired; ask for a new one.")
    return invitation


def preview(session: Session, token: str) -> tuple[Invitation, Organization]:
    invitation = _usable(session, token)
    org = session.get(Organization, invitation.org_id)
    if org is None:
        raise NotFound("This invitation link is not valid.")
    return invitation, org


def accept(session: Session, user: User, token: str) -> Membership:
    """Any signed-in user holding the link may accept it, once, before it expires."""
    invitation = _usable(session, token)
    existing = session.exec(
        select(Membership).where(
            Membership.org_id == invitation.org_id, Membership.user_id == user.id
        )
    ).first()
    if existing is None:
        _check_member_limit(session, invitation.org_id)
    invitation.accepted_at = utcnow()
    invitation.accepted_by_id = user.id
    session.add(invitation)
    if existing is not None:
        return existing
    membership = Membership(org_id=invitation.org_id, user_id=user.id, role=invitation.role)
    session.add(membership)
    audit.record(
        session,
        "invitation.accepted",
        org_id=invitation.org_id,
        actor_id=user.id,
        target_type="invitation",
        target_id=invitation.id,
        role=invitation.role.value,
    )
    return membership
