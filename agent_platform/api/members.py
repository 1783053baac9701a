"""Members and invitations over REST (/api/v1): list members, change a role, remove a member;
list, create and revoke invitations. HTTP only; the rules (who may change whom, the last
owner, the member limit) are in `services.organizations` and `services.invitations`.

Listing members needs any key; every change, and the invitations, need the admin scope.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import col, select

from agent_platform.models import Invitation, Membership, User
from agent_platform.settings import get_settings
from services import invitations, organizations

from .pagination import Page, Paging, keyset, paged
from .v1 import AdminActor, ApiActor, RequestSession

router = APIRouter(prefix="/api/v1", tags=["members"])


class MemberOut(BaseModel):
    id: str = Field(description="the membership's id (what PATCH and DELETE take)")
    user_id: str
    email: str
    name: str
    role: str
    joined_at: datetime


class RoleIn(BaseModel):
    role: str


class InvitationOut(BaseModel):
    id: str
    email: str
    role: str
    created_at: datetime
    expires_at: datetime


class InvitationIn(BaseModel):
    email: str
    role: str = "builder"


class CreatedInvitation(InvitationOut):
    accept_url: str = Field(description="Shown once: send it to the person invited.")


def _member_out(membership: Membership, user: User) -> MemberOut:
    return MemberOut(
        id=str(membership.id),
        user_id=str(user.id),
        email=user.email,
        name=user.name,
        role=membership.role.value,
        joined_at=membership.created_at,
    )


def _invitation_out(invitation: Invitation) -> InvitationOut:
    return InvitationOut(
        id=str(invitation.id),
        email=invitation.email,
        role=invitation.role.value,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
    )


@router.get("/members", response_model=Page[MemberOut])
def list_members(
    session: RequestSession,
    actor: ApiActor,
    paging: Paging,
    search: str = Query(default="", max_length=200, description="in email and name"),
) -> Page[MemberOut]:
    """Newest members first."""
    query = (
        select(Membership, User)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(organizations.member_filter(actor, search=search))
    )
    rows = session.exec(keyset(query, Membership.created_at, Membership.id, paging)).all()
    items = [_member_out(m, u) for m, u in rows]
    return Page[MemberOut](**paged(items, [m for m, _ in rows], paging))


@router.patch("/members/{membership_id}", response_model=MemberOut)
def change_role(
    membership_id: uuid.UUID, body: RoleIn, session: RequestSession, actor: AdminActor
) -> MemberOut:
    membership = organizations.change_role(session, actor, membership_id, role=body.role)
    return _member_out(membership, session.get_one(User, membership.user_id))


@router.delete("/members/{membership_id}", status_code=204)
def remove_member(membership_id: uuid.UUID, session: RequestSession, actor: AdminActor) -> Response:
    """Their API keys are revoked with them."""
    organizations.remove_member(session, actor, membership_id)
    return Response(status_code=204)


@router.get("/invitations", response_model=Page[InvitationOut])
def list_invitations(
    session: RequestSession, actor: AdminActor, paging: Paging
) -> Page[InvitationOut]:
    """Pending invitations (neither accepted nor revoked), newest first."""
    query = invitations.pending_invitations(actor)
    rows = session.exec(keyset(query, Invitation.created_at, Invitation.id, paging)).all()
    return Page[InvitationOut](**paged([_invitation_out(i) for i in rows], rows, paging))


@router.post("/invitations", response_model=CreatedInvitation, status_code=201)
def create_invitation(
    body: InvitationIn, session: RequestSession, actor: AdminActor
) -> CreatedInvitation:
    settings = get_settings()
    invitation, token = invitations.create_invitation(
        session, actor, email=body.email, role=body.role, days=settings.invite_days
    )
    return CreatedInvitation(
        **_invitation_out(invitation).model_dump(),
        accept_url=f"{settings.resolved_base_url}/invite?token={token}",
    )


@router.delete("/invitations/{invitation_id}", status_code=204)
def revoke_invitation(
    invitation_id: uuid.UUID, session: RequestSession, actor: AdminActor
) -> Response:
    invitations.revoke_invitation(session, actor, invitation_id)
    return Response(status_code=204)
