"""Integrations over REST (/api/v1): the provider catalog, connections, agents' grants and the
actions waiting for a person's approval — what the Integrations page and the agent editor do,
through the same services (`services.integrations.*`, `services.agents`).

    GET    /integrations/providers         the catalog: how each provider connects, its actions
    GET    /integrations                   the organization's connections (cursor pages)
    POST   /integrations                   an HTTP API with a static credential, or your own
                                           OAuth app (then a sign_in_url to open)
    POST   /integrations/sign-in           a new OAuth connection to a catalog provider: the URL
    GET    /integrations/{id}              one connection
    PATCH  /integrations/{id}              let builders grant it to agents (builders_may_use)
    POST   /integrations/{id}/sign-in      reconnect (a new consent): the URL
    POST   /integrations/{id}/check        make the provider's check call, record the outcome
    DELETE /integrations/{id}              revoke at the provider, then remove
    GET    /agents/{id}/grants             an agent's integration grants and what it may be given
    PUT    /agents/{id}/grants             replace them (a new agent version)
    GET    /approvals                      open approval requests (?run_id=)
    GET    /approvals/{id}
    POST   /approvals/{id}/approve | /decline

Secrets are write-only: tokens, API keys, passwords and client secrets go to the secret store
and never come back. Reads need any key; changes need the write scope (and the role the
service asks for: connections are an admin's). A key has no person of its own, so where a
person is needed — finishing an OAuth sign-in in the browser, "another person approves" — the
key acts for the member who created it.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from agent_platform.db import session_scope
from agent_platform.models import ActionApproval, Integration
from agent_platform.redis_client import get_redis
from services import agent_editor, agent_versions, agents
from services.access import Actor
from services.agent_reads import current_config, get_agent
from services.api_keys import KeyPrincipal
from services.errors import NotFound
from services.integrations import approvals, connections, lifecycle, oauth
from services.integrations.catalog import Provider
from services.integrations.providers import PROVIDERS

from .pagination import Page, Paging, keyset, paged
from .v1 import ApiActor, ApiPrincipal, RequestSession, WriteActor

router = APIRouter(prefix="/api/v1", tags=["integrations"])


@router.get("/integrations/oauth/callback", include_in_schema=False)
def oauth_callback(state: str = "", code: str = "", error: str = "") -> RedirectResponse:
    """Forward to the Integrations page, which finishes the sign-in as the signed-in user
    (services/integrations/sign_in.py says why it must not happen here)."""
    query = {"oauth_state": state[:200], "oauth_code": code[:2000]}
    if error:
        query["oauth_error"] = "denied"
    return RedirectResponse("/integrations?" + urlencode(query), 303)


# --- models --------------------------------------------------------------------------------


class ActionOut(BaseModel):
    name: str = Field(description="e.g. slack.post_message: the name a grant uses")
    description: str
    parameters: dict[str, Any] = Field(description="JSON schema of the action's arguments")
    scopes: list[str] = Field(description="OAuth scopes the connection must have been granted")
    side_effect: bool = Field(description="changes something outside: may need an approval")


class ProviderOut(BaseModel):
    key: str
    label: str
    auth_kinds: list[str]
    connect_with: Literal["sign-in", "form"] = Field(
        description="sign-in: POST /integrations/sign-in; form: POST /integrations"
    )
    ready: bool = Field(
        description="false: this instance has no OAuth app for the provider (an operator must "
        "configure one)"
    )
    actions: list[ActionOut]


class ConnectionOut(BaseModel):
    """A connection as the API shows it: never its credential."""

    id: str
    name: str
    provider: str
    auth_kind: str
    status: str
    scopes: list[str]
    account: str
    base_url: str | None
    builders_may_use: bool = Field(description="builders may grant it to agents (else admins)")
    expires_at: datetime | None = Field(description="when the access token must be refreshed")
    last_used_at: datetime | None
    last_checked_at: datetime | None
    last_error: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: Integration) -> ConnectionOut:
        base = row.settings.get("base_url")
        return cls(
            id=str(row.id),
            name=row.name,
            provider=row.provider,
            auth_kind=row.auth_kind,
            status=row.status.value,
            scopes=[str(scope) for scope in row.scopes],
            account=str(row.settings.get("account", "")),
            base_url=str(base) if base else None,
            builders_may_use=row.builders_may_use,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            last_checked_at=row.last_checked_at,
            last_error=row.last_error,
            created_at=row.created_at,
        )


class ConnectionCreate(BaseModel):
    """One of the two credential forms. Only the fields of the chosen kind are read; every
    secret field is write-only."""

    form: Literal["http", "oauth2"] = Field(
        default="http",
        description="http: an HTTP API with a static credential; oauth2: your "
        "own OAuth 2.0 app (answered with a sign_in_url to open)",
    )
    name: str
    base_url: str
    auth_kind: Literal["api_key", "bearer", "basic"] = Field(
        default="bearer", description="form http: how the API checks the credential"
    )
    header_name: str = Field(default="", description="api_key: the header (X-API-Key)")
    api_key: str = Field(default="", description="api_key: write-only")
    token: str = Field(default="", description="bearer: write-only")
    username: str = Field(default="", description="basic")
    password: str = Field(default="", description="basic: write-only")
    authorize_url: str = Field(default="", description="form oauth2")
    token_url: str = Field(default="", description="form oauth2")
    revoke_url: str = Field(default="", description="form oauth2, optional")
    client_id: str = Field(default="", description="form oauth2")
    client_secret: str = Field(default="", description="form oauth2: write-only")
    scopes: list[str] = Field(default_factory=list, description="form oauth2")


class ConnectionSaved(BaseModel):
    connection: ConnectionOut
    sign_in_url: str | None = Field(
        description="your own OAuth app: open it in a browser signed in as the key's creator "
        "to give consent; null for a static credential"
    )


class SignInStart(BaseModel):
    provider: str = Field(description="a catalog provider connected by sign-in, e.g. slack")
    name: str = Field(default="", max_length=120, description="empty: the provider's name")


class SignInOut(BaseModel):
    sign_in_url: str = Field(
        description="open in a browser signed in as the key's creator; the Integrations page "
        "finishes the connection"
    )


class ConnectionPatch(BaseModel):
    builders_may_use: bool


class CheckOut(BaseModel):
    ok: bool
    problem: str | None = Field(description="what the provider answered, when the check failed")
    account: str
    connection: ConnectionOut


class RemovedOut(BaseModel):
    revoked: bool = Field(description="false: the provider did not confirm the revocation")
    problem: str | None


class GrantIn(BaseModel):
    connection_id: uuid.UUID
    action: str = Field(description="an action of the connection's provider, e.g. http.request")
    approval: bool = Field(default=False, description="ask a person before each call")


class GrantsIn(BaseModel):
    grants: list[GrantIn] = Field(max_length=100)
    based_on_version: int | None = Field(
        default=None,
        description="the version the change was made on: refused (409) if another save came "
        "in between",
    )


class GrantOut(BaseModel):
    connection_id: str
    connection_name: str
    provider: str
    action: str
    approval: bool


class GrantChoiceOut(BaseModel):
    connection_id: str
    connection_name: str
    provider: str
    action: str
    description: str
    side_effect: bool


class GrantsOut(BaseModel):
    agent_id: str
    grants: list[GrantOut]
    available: list[GrantChoiceOut] = Field(description="every action of every connection")
    current_version: int | None
    new_version: int | None = Field(
        default=None, description="the version this change made; null: unchanged or a read"
    )


class ApprovalOut(BaseModel):
    id: str
    run_id: str
    connection_id: str | None
    connection_name: str | None = Field(description="null: the connection was removed")
    action: str
    arguments: dict[str, Any] = Field(description="as the model asked, credentials redacted")
    status: str
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None


# --- helpers -------------------------------------------------------------------------------


def _id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{what} not found.") from None


def _person(actor: Actor, principal: KeyPrincipal) -> Actor:
    """The actor for steps that need a person: the key's creator, with the key's role."""
    return dataclasses.replace(actor, user_id=principal.creator_id)


def _provider_out(provider: Provider) -> ProviderOut:
    sign_in = provider.auth_kinds == ("oauth2",)
    return ProviderOut(
        key=provider.key,
        label=provider.label,
        auth_kinds=list(provider.auth_kinds),
        connect_with="sign-in" if sign_in else "form",
        ready=not sign_in or oauth.app_configured(provider),
        actions=[
            ActionOut(
                name=a.name,
                description=a.description,
                parameters=a.parameters,
                scopes=list(a.scopes),
                side_effect=a.side_effect,
            )
            for a in provider.actions
        ],
    )


def _approval_out(row: ActionApproval, names: dict[uuid.UUID, str]) -> ApprovalOut:
    return ApprovalOut(
        id=str(row.id),
        run_id=str(row.execution_id),
        connection_id=str(row.integration_id) if row.integration_id else None,
        connection_name=names.get(row.integration_id) if row.integration_id else None,
        action=row.action,
        arguments=dict(row.arguments),
        status=row.status.value,
        created_at=row.created_at,
        expires_at=row.expires_at,
        decided_at=row.decided_at,
    )


def _names(session: Session, actor: Actor) -> dict[uuid.UUID, str]:
    return {row.id: row.name for row in connections.list_connections(session, actor)}


# --- catalog and connections ---------------------------------------------------------------


@router.get("/integrations/providers", response_model=list[ProviderOut])
def list_providers(actor: ApiActor) -> list[ProviderOut]:
    return [_provider_out(p) for p in PROVIDERS.values()]


@router.get("/integrations", response_model=Page[ConnectionOut])
def list_integrations(
    session: RequestSession, actor: ApiActor, params: Paging
) -> Page[ConnectionOut]:
    statement = connections.visible_connections(actor)
    rows = session.exec(keyset(statement, Integration.created_at, Integration.id, params)).all()
    return Page[ConnectionOut](**paged([ConnectionOut.of(r) for r in rows], rows, params))


@router.post("/integrations", response_model=ConnectionSaved, status_code=201)
def create_integration(
    body: ConnectionCreate, actor: WriteActor, principal: ApiPrincipal
) -> ConnectionSaved:
    values = body.model_dump(exclude={"form", "auth_kind", "scopes"})
    values["scopes"] = " ".join(body.scopes)
    saved = lifecycle.save(
        session_scope,
        _person(actor, principal) if body.form == "oauth2" else actor,
        get_redis(),
        form=body.form,
        auth_kind=body.auth_kind,
        values=values,
    )
    with session_scope() as session:
        row = session.exec(
            connections.visible_connections(actor).where(Integration.name == saved.name)
        ).one()
        return ConnectionSaved(connection=ConnectionOut.of(row), sign_in_url=saved.sign_in_url)


@router.post("/integrations/sign-in", response_model=SignInOut)
def start_sign_in(
    body: SignInStart, session: RequestSession, actor: WriteActor, principal: ApiPrincipal
) -> SignInOut:
    if body.provider not in PROVIDERS:
        raise NotFound(f"There is no integration provider {body.provider!r}.")
    url = connections.start_sign_in(
        session,
        _person(actor, principal),
        get_redis(),
        provider_key=body.provider,
        name=body.name,
    )
    return SignInOut(sign_in_url=url)


@router.get("/integrations/{integration_id}", response_model=ConnectionOut)
def get_integration(integration_id: str, session: RequestSession, actor: ApiActor) -> ConnectionOut:
    row = connections.get_connection(session, actor, _id(integration_id, "Connection"))
    return ConnectionOut.of(row)


@router.patch("/integrations/{integration_id}", response_model=ConnectionOut)
def update_integration(
    integration_id: str, body: ConnectionPatch, session: RequestSession, actor: WriteActor
) -> ConnectionOut:
    row = connections.set_builders_may_use(
        session, actor, _id(integration_id, "Connection"), allowed=body.builders_may_use
    )
    return ConnectionOut.of(row)


@router.post("/integrations/{integration_id}/sign-in", response_model=SignInOut)
def reconnect_integration(
    integration_id: str, session: RequestSession, actor: WriteActor, principal: ApiPrincipal
) -> SignInOut:
    url = connections.start_sign_in(
        session,
        _person(actor, principal),
        get_redis(),
        integration_id=_id(integration_id, "Connection"),
    )
    return SignInOut(sign_in_url=url)


@router.post("/integrations/{integration_id}/check", response_model=CheckOut)
async def check_integration(integration_id: str, actor: WriteActor) -> CheckOut:
    """The provider may take seconds to answer: no transaction stays open meanwhile."""
    connection_id = _id(integration_id, "Connection")
    checked = await lifecycle.check(session_scope, actor, connection_id)
    with session_scope() as session:
        row = connections.get_connection(session, actor, connection_id)
        return CheckOut(
            ok=checked.problem is None,
            problem=checked.problem,
            account=checked.account,
            connection=ConnectionOut.of(row),
        )


@router.delete("/integrations/{integration_id}", response_model=RemovedOut)
async def remove_integration(integration_id: str, actor: WriteActor) -> RemovedOut:
    """Removed even when the provider does not confirm the revocation (then `revoked` is
    false and `problem` says what it answered; the removal is audited either way)."""
    problem = await lifecycle.remove(session_scope, actor, _id(integration_id, "Connection"))
    return RemovedOut(revoked=problem is None, problem=problem)


# --- grants --------------------------------------------------------------------------------


def _grants_out(
    session: Session, actor: Actor, agent_id: uuid.UUID, new_version: int | None = None
) -> GrantsOut:
    agent = get_agent(session, actor, agent_id)
    granted = [t for t in current_config(agent).tools if t.kind == "integration"]
    return GrantsOut(
        agent_id=str(agent.id),
        grants=[
            GrantOut(
                connection_id=str(t.settings.get("connection", "")),
                connection_name=str(t.settings.get("connection_name", "")),
                provider=str(t.settings.get("provider", "")),
                action=t.name,
                approval=bool(t.settings.get("approval", False)),
            )
            for t in granted
        ],
        available=[
            GrantChoiceOut(
                connection_id=str(c.connection_id),
                connection_name=c.connection_name,
                provider=c.provider,
                action=c.action.name,
                description=c.action.description,
                side_effect=c.action.side_effect,
            )
            for c in agent_editor.grant_choices(session, actor)
        ],
        current_version=agent_versions.version_number(session, actor, agent.current_version_id),
        new_version=new_version,
    )


@router.get("/agents/{agent_id}/grants", response_model=GrantsOut)
def get_grants(agent_id: str, session: RequestSession, actor: ApiActor) -> GrantsOut:
    return _grants_out(session, actor, _id(agent_id, "Agent"))


@router.put("/agents/{agent_id}/grants", response_model=GrantsOut)
def replace_grants(
    agent_id: str, body: GrantsIn, session: RequestSession, actor: WriteActor
) -> GrantsOut:
    """The agent's integration grants become exactly `grants` (its other tools stay); a new
    grant must be one the key may make (an admin's, unless the connection is open to
    builders), as in the agent editor."""
    agent = get_agent(session, actor, _id(agent_id, "Agent"))
    config = current_config(agent).model_dump(mode="json")
    config["tools"] = [t for t in config["tools"] if t["kind"] != "integration"] + [
        {
            "kind": "integration",
            "name": g.action,
            "settings": {"connection": str(g.connection_id), "approval": g.approval},
        }
        for g in body.grants
    ]
    based_on = None
    if body.based_on_version is not None:
        based_on = agent_versions.get_version(session, actor, agent.id, body.based_on_version).id
    agent, version = agents.update_agent(session, actor, agent.id, config=config, based_on=based_on)
    session.flush()
    return _grants_out(session, actor, agent.id, version.version if version else None)


# --- approvals -----------------------------------------------------------------------------


@router.get("/approvals", response_model=list[ApprovalOut])
def list_approvals(
    session: RequestSession,
    actor: ApiActor,
    run_id: str | None = Query(default=None, description="only this run's requests"),
    limit: int = Query(default=50, ge=1, le=100),
) -> list[ApprovalOut]:
    """Open requests, oldest first (a request past its deadline is no longer open)."""
    run = _id(run_id, "Run") if run_id else None
    rows = approvals.pending(session, actor, run_id=run, limit=limit)
    names = _names(session, actor)
    return [_approval_out(row, names) for row in rows]


@router.get("/approvals/{approval_id}", response_model=ApprovalOut)
def get_approval(approval_id: str, session: RequestSession, actor: ApiActor) -> ApprovalOut:
    row = approvals.get_approval(session, actor, _id(approval_id, "Approval request"))
    approvals.outcome(session, row.id)  # one past its deadline reads as expired
    session.refresh(row)
    return _approval_out(row, _names(session, actor))


def _decide(
    approval_id: str, session: Session, actor: Actor, principal: KeyPrincipal, *, approve: bool
) -> ApprovalOut:
    row = approvals.decide(
        session,
        _person(actor, principal),
        _id(approval_id, "Approval request"),
        approve=approve,
    )
    return _approval_out(row, _names(session, actor))


@router.post("/approvals/{approval_id}/approve", response_model=ApprovalOut)
def approve(
    approval_id: str, session: RequestSession, actor: WriteActor, principal: ApiPrincipal
) -> ApprovalOut:
    """The run goes on. Refused (403) when the key's creator started the run, unless the
    organization allows self-approval: "ask a person first" means another person."""
    return _decide(approval_id, session, actor, principal, approve=True)


@router.post("/approvals/{approval_id}/decline", response_model=ApprovalOut)
def decline(
    approval_id: str, session: RequestSession, actor: WriteActor, principal: ApiPrincipal
) -> ApprovalOut:
    return _decide(approval_id, session, actor, principal, approve=False)
