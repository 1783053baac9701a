"""API keys and access tokens over REST: exchange a key for a 15-minute token; list, create
and revoke keys (admin scope). HTTP only; the rules are in `services.api_keys`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Header
from fastapi.responses import Response
from pydantic import BaseModel, Field

from agent_platform.models import ApiKey
from services import api_keys
from services.access_tokens import TOKEN_MINUTES
from services.api_keys import KEY_PREFIX
from services.errors import Unauthenticated

from .pagination import Page, Paging, keyset, paged
from .v1 import AdminActor, ApiPrincipal, RequestSession, bearer

router = APIRouter(prefix="/api/v1", tags=["auth"])


class TokenIn(BaseModel):
    scopes: list[str] | None = Field(
        default=None, description="Fewer scopes than the key has; empty: all of the key's."
    )


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    expires_at: datetime
    scopes: list[str]


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    role: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class ApiKeyIn(BaseModel):
    name: str
    role: str = "builder"
    scopes: list[str] = Field(default_factory=lambda: list(api_keys.DEFAULT_SCOPES))
    expires_in_days: int | None = Field(default=None, description="empty: never expires")


class CreatedKeyOut(ApiKeyOut):
    secret: str = Field(description="Shown once: store it now, it cannot be read again.")


def _key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=str(key.id),
        name=key.name,
        prefix=key.prefix,
        role=key.role.value,
        scopes=list(key.scopes),
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        expires_at=key.expires_at,
    )


@router.post("/auth/token", response_model=TokenOut)
def exchange_token(
    session: RequestSession,
    principal: ApiPrincipal,
    body: Annotated[TokenIn | None, Body()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> TokenOut:
    """Exchange an API key for an access token; a token cannot be exchanged for another (it
    would never have to end)."""
    if not bearer(authorization).startswith(KEY_PREFIX):
        raise Unauthenticated("Exchange an API key (ap_…) for a token, not another token.")
    issued = api_keys.exchange_for_token(session, principal, scopes=body.scopes if body else None)
    return TokenOut(
        access_token=issued.token,
        expires_in=TOKEN_MINUTES * 60,
        expires_at=issued.expires_at,
        scopes=issued.scopes,
    )


@router.get("/api-keys", response_model=Page[ApiKeyOut])
def list_keys(session: RequestSession, actor: AdminActor, paging: Paging) -> Page[ApiKeyOut]:
    rows = session.exec(
        keyset(api_keys.listable_keys(actor), ApiKey.created_at, ApiKey.id, paging)
    ).all()
    return Page[ApiKeyOut](**paged([_key_out(k) for k in rows], rows, paging))


@router.post("/api-keys", response_model=CreatedKeyOut, status_code=201)
def create_key(
    session: RequestSession, actor: AdminActor, principal: ApiPrincipal, body: ApiKeyIn
) -> CreatedKeyOut:
    created = api_keys.create_key(
        session,
        actor,
        name=body.name,
        role=body.role,
        scopes=body.scopes,
        expires_in_days=body.expires_in_days,
        creator_id=principal.creator_id,
    )
    session.flush()
    return CreatedKeyOut(**_key_out(created.key).model_dump(), secret=created.secret)


@router.delete("/api-keys/{key_id}", status_code=204)
def revoke_key(session: RequestSession, actor: AdminActor, key_id: uuid.UUID) -> Response:
    api_keys.revoke_key(session, actor, key_id)
    return Response(status_code=204)
