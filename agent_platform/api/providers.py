"""Model providers over REST (/api/v1/providers): list, get, create, update, delete. The API
key is write-only: it goes to the secret store and comes back only as a hint (`sk-…1234`).
HTTP only; the rules (names, base URLs through the outbound guard, who may) are in
`services.llm.providers`. Reads need any key; changes need the admin scope.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from agent_platform.models import ProviderCredential
from services.llm import providers

from .pagination import Page, Paging, keyset, paged
from .v1 import AdminActor, ApiActor, RequestSession

router = APIRouter(prefix="/api/v1", tags=["providers"])


class ProviderOut(BaseModel):
    id: str
    name: str
    kind: str
    api_base: str | None
    api_version: str | None
    models: list[str]
    key_hint: str | None = Field(description="the key's first and last characters; never the key")
    last_checked_at: datetime | None
    last_error: str | None
    created_at: datetime


class ProviderIn(BaseModel):
    name: str
    kind: str
    api_key: str = Field(default="", description="write-only; empty on update keeps the stored one")
    api_base: str = ""
    api_version: str = ""
    models: list[str] = Field(default_factory=list)


def _out(row: ProviderCredential) -> ProviderOut:
    return ProviderOut(
        id=str(row.id),
        name=row.name,
        kind=row.kind.value,
        api_base=row.api_base,
        api_version=row.api_version,
        models=[str(m) for m in row.models],
        key_hint=row.key_hint,
        last_checked_at=row.last_checked_at,
        last_error=row.last_error,
        created_at=row.created_at,
    )


@router.get("/providers", response_model=Page[ProviderOut])
def list_providers(session: RequestSession, actor: ApiActor, paging: Paging) -> Page[ProviderOut]:
    query = providers.visible_providers(actor)
    rows = session.exec(
        keyset(query, ProviderCredential.created_at, ProviderCredential.id, paging)
    ).all()
    return Page[ProviderOut](**paged([_out(r) for r in rows], rows, paging))


@router.get("/providers/{provider_id}", response_model=ProviderOut)
def get_provider(provider_id: uuid.UUID, session: RequestSession, actor: ApiActor) -> ProviderOut:
    return _out(providers.get_provider(session, actor, provider_id))


@router.post("/providers", response_model=ProviderOut, status_code=201)
def create_provider(body: ProviderIn, session: RequestSession, actor: AdminActor) -> ProviderOut:
    return _out(providers.save_provider(session, actor, body.model_dump()))


@router.put("/providers/{provider_id}", response_model=ProviderOut)
def update_provider(
    provider_id: uuid.UUID, body: ProviderIn, session: RequestSession, actor: AdminActor
) -> ProviderOut:
    row = providers.save_provider(session, actor, body.model_dump(), provider_id=provider_id)
    return _out(row)


@router.delete("/providers/{provider_id}", status_code=204)
def delete_provider(provider_id: uuid.UUID, session: RequestSession, actor: AdminActor) -> Response:
    providers.delete_provider(session, actor, provider_id)
    return Response(status_code=204)
