"""Connections (the `integrations` table): create, sign in, check and remove.

The row keeps what is safe to show — provider, name, scopes, status, last used, last error,
non-secret settings — and a reference into the secret store for everything else. Creating,
re-connecting and removing need an admin; any member may see the list. Granting a connection to
an agent hands its credential's power to everyone who can run that agent, so it is an admin's
decision too, unless an admin opened that one connection to builders (`builders_may_use`).
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import Integration, IntegrationStatus, Role
from agent_platform.models.base import utcnow
from services import audit, private_hosts, secrets
from services.access import Actor, Permission, can, require
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.integrations import credentials, oauth
from services.integrations.catalog import Provider
from services.integrations.providers import get_provider
from services.outbound import (
    CROSS_ORIGIN_SAFE_HEADERS,
    OutboundError,
    OutboundRefused,
    default_guard,
)
from services.validation import parse

NAME_FIELD = Field(min_length=1, max_length=120)
M = TypeVar("M", bound=BaseModel)


def _public_url(value: str, field: str, info: ValidationInfo) -> str:
    """An http(s) URL the guard lets this organization reach (its private hosts included)."""
    value = value.strip()
    if not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    allow_hosts = tuple((info.context or {}).get("allow_hosts", ()))
    try:
        default_guard(allow_hosts).check_url(value)
    except OutboundRefused as exc:
        raise ValueError(f"is not allowed: {exc.message.removeprefix('Refused: ')}") from None
    except OutboundError as exc:
        raise ValueError(f"cannot be reached: {exc.message}") from None
    return value.rstrip("/") if field == "base_url" else value


HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,60}")
DEFAULT_HEADER = "X-API-Key"
CREDENTIAL_MAX = 4000
# The fields each kind of HTTP API credential shows; the others are neither checked nor kept.
CREDENTIAL_FIELDS: dict[str, tuple[str, ...]] = {
    "api_key": ("header_name", "api_key"),
    "bearer": ("token",),
    "basic": ("username", "password"),
}
# What the forms call each field, for messages people read (never a regex or a field key).
LABELS = {
    "name": "Name",
    "base_url": "Base URL",
    "auth_kind": "Authentication",
    "header_name": "Header name",
    "api_key": "API key",
    "token": "Token",
    "username": "Username",
    "password": "Password",
    "authorize_url": "Authorize URL",
    "token_url": "Token URL",
    "revoke_url": "Revoke URL",
    "client_id": "Client id",
    "client_secret": "Client secret",
    "scopes": "Scopes",
}


class ApiConnectionIn(BaseModel):
    """An HTTP API with a static credential: only the chosen kind's fields are checked."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = NAME_FIELD
    base_url: str
    auth_kind: Literal["api_key", "bearer", "basic"]
    header_name: str = Field(default="", validate_default=True)
    api_key: str = Field(default="", validate_default=True)
    token: str = Field(default="", validate_default=True)
    username: str = Field(default="", validate_default=True)
    password: str = Field(default="", validate_default=True)

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str, info: ValidationInfo) -> str:
        return _public_url(value, "base_url", info)

    @field_validator("header_name", "api_key", "token", "username", "password")
    @classmethod
    def _credential(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name not in CREDENTIAL_FIELDS.get(info.data.get("auth_kind", ""), ()):
            return ""  # a field of another kind: hidden in the form, so not the user's problem
        if info.field_name == "header_name":
            return _header_name(value or DEFAULT_HEADER)
        if not value:
            raise ValueError("is required")
        if len(value) > CREDENTIAL_MAX:
            raise ValueError(f"must be at most {CREDENTIAL_MAX} characters")
        return value

    def credential(self) -> dict[str, str]:
        return {
            k: getattr(self, k) for k in CREDENTIAL_FIELDS[self.auth_kind] if k != "header_name"
        }


def _header_name(value: str) -> str:
    if not HEADER_NAME.fullmatch(value):
        raise ValueError(
            "may contain only letters, digits and hyphens (at most 60), e.g. X-API-Key"
        )
    # The guard forwards a few ordinary headers across redirects; a key must not ride in one
    # of them to another host.
    if value.lower() in CROSS_ORIGIN_SAFE_HEADERS | {"host", "content-length", "cookie"}:
        raise ValueError(f"{value} cannot carry an API key; use a header such as X-API-Key")
    return value


def _parse_form(model: type[M], data: dict[str, Any], allow_hosts: tuple[str, ...] = ()) -> M:
    """`services.validation.parse` with the form's own labels ("Base URL must be …") and the
    organization's private hosts, which its URLs may point at."""
    return parse(model, data, labels=LABELS, context={"allow_hosts": allow_hosts})


class CustomOAuthIn(BaseModel):
    """Generic OAuth 2.0: the user's own app and endpoints."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = NAME_FIELD
    base_url: str
    authorize_url: str
    token_url: str
    revoke_url: str = ""
    client_id: str = Field(min_length=1, max_length=300)
    client_secret: str = Field(min_length=1, max_length=2000)
    scopes: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("base_url", "authorize_url", "token_url", "revoke_url")
    @classmethod
    def _urls(cls, value: str, info: Any) -> str:
        return (
            value
            if not value and info.field_name == "revoke_url"
            else _public_url(value, info.field_name, info)
        )


def visible_connections(actor: Actor) -> SelectOfScalar[Integration]:
    """Every connection read starts here: the actor's organization's, nothing else."""
    return select(Integration).where(Integration.org_id == actor.org_id)


def list_connections(session: Session, actor: Actor) -> list[Integration]:
    return list(session.exec(visible_connections(actor).order_by(col(Integration.name))).all())


def get_connection(session: Session, actor: Actor, integration_id: uuid.UUID) -> Integration:
    row = session.exec(visible_connections(actor).where(Integration.id == integration_id)).first()
    if row is None:
        raise NotFound("Connection not found.")
    return row


def _unique_name(session: Session, org_id: uuid.UUID, name: str, own: uuid.UUID | None) -> None:
    clash = session.exec(
        select(Integration.id).where(Integration.org_id == org_id, Integration.name == name)
    ).first()
    if clash is not None and clash != own:
        raise Conflict(
            f"A connection named {name!r} already exists.", fields={"name": "Name in use"}
        )


def _new_row(
    session: Session, actor: Actor, provider: Provider, name: str, **kw: Any
) -> Integration:
    _unique_name(session, actor.org_id, name, None)
    row = Integration(
        org_id=actor.org_id,
        provider=provider.key,
        name=name,
        credential_ref=secrets.new_ref(actor.org_id, "integration"),
        created_by_id=actor.user_id,
        **kw,
    )
    session.add(row)
    return row


def create_api_connection(session: Session, actor: Actor, data: dict[str, Any]) -> Integration:
    require(actor, Permission.INTEGRATIONS_MANAGE)
    parsed = _parse_form(ApiConnectionIn, data, private_hosts.org_entries(session, actor.org_id))
    settings = {"base_url": parsed.base_url}
    if parsed.auth_kind == "api_key":
        settings["header_name"] = parsed.header_name
    row = _new_row(
        session,
        actor,
        get_provider("http"),
        parsed.name,
        auth_kind=parsed.auth_kind,
        settings=settings,
        status=IntegrationStatus.ACTIVE,
    )
    credentials.save(session, row, parsed.credential())
    _audit(session, actor, "integration.connected", row)
    return row


def create_custom_oauth(session: Session, actor: Actor, data: dict[str, Any]) -> Integration:
    """The row exists (pending) before the sign-in so the client secret can wait in the
    secret store instead of in the browser or in Redis."""
    require(actor, Permission.INTEGRATIONS_MANAGE)
    parsed = _parse_form(CustomOAuthIn, data, private_hosts.org_entries(session, actor.org_id))
    row = _new_row(
        session,
        actor,
        get_provider("oauth2"),
        parsed.name,
        auth_kind="oauth2_custom",
        settings=parsed.model_dump(exclude={"client_secret", "name"}),
        scopes=parsed.scopes,
        status=IntegrationStatus.PENDING,
    )
    credentials.save(session, row, {"client_secret": parsed.client_secret})
    return row


def client_for(session: Session, row: Integration) -> oauth.OAuthClient | None:
    """The OAuth app a connection signs in with; None for static credentials."""
    if row.auth_kind == "oauth2":
        return oauth.app_client(get_provider(row.provider))
    if row.auth_kind == "oauth2_custom":
        return oauth.custom_client(row.settings, credentials.load(session, row))
    return None


def start_sign_in(
    session: Session,
    actor: Actor,
    redis: Any,
    *,
    provider_key: str = "",
    name: str = "",
    integration_id: uuid.UUID | None = None,
) -> str:
    """The authorize URL to send the browser to: a new connection to `provider_key`, or a
    (re)connect of an existing one."""
    require(actor, Permission.INTEGRATIONS_MANAGE)
    if integration_id is not None:
        row = get_connection(session, actor, integration_id)
        client = client_for(session, row)
        if client is None:
            raise Invalid(f"{row.name!r} uses a fixed credential; edit it instead.")
        provider_key, name = row.provider, row.name
    else:
        provider = get_provider(provider_key)
        if "oauth2" not in provider.auth_kinds:
            raise Invalid(f"{provider.label} is not connected with OAuth.")
        name = name.strip() or provider.label.split(" (")[0]
        _unique_name(session, actor.org_id, name, None)
        client = oauth.app_client(provider)
    return oauth.begin(
        redis,
        client,
        {
            "org_id": str(actor.org_id),
            "user_id": str(actor.user_id),
            "provider": provider_key,
            "name": name,
            "integration_id": str(integration_id) if integration_id else None,
        },
    )


def client_for_flow(session: Session, flow: oauth.PendingFlow) -> oauth.OAuthClient:
    if flow.integration_id:
        # Read as the organization that started the flow (an admin, see start_sign_in).
        actor = Actor(user_id=None, org_id=uuid.UUID(flow.org_id), role=Role.ADMIN)
        row = get_connection(session, actor, uuid.UUID(flow.integration_id))
        client = client_for(session, row)
        assert client is not None
        return client
    return oauth.app_client(get_provider(flow.provider))


def finish_sign_in(
    session: Session, flow: oauth.PendingFlow, tokens: oauth.TokenSet
) -> Integration:
    """Store the tokens of a completed sign-in: a new connection or a refreshed old one."""
    org_id, user_id = uuid.UUID(flow.org_id), uuid.UUID(flow.user_id)
    actor = Actor(user_id=user_id, org_id=org_id, role=Role.ADMIN)
    if flow.integration_id:
        row = get_connection(session, actor, uuid.UUID(flow.integration_id))
        old = credentials.load(session, row)  # a new grant replaces every token of the old one
        blob = {k: v for k, v in old.items() if k == "client_secret"}
    else:
        row = _new_row(session, actor, get_provider(flow.provider), flow.name)
        blob = {}
    blob.update(token_fields(tokens))
    row.scopes = tokens.scopes
    row.status = IntegrationStatus.ACTIVE
    row.last_error = None
    row.expires_at = _when(tokens.expires_at)
    if tokens.raw_account:
        row.settings = {**row.settings, "account": tokens.raw_account}
    session.add(row)
    session.flush()
    credentials.save(session, row, blob)
    _audit(session, actor, "integration.connected", row, scopes=tokens.scopes)
    return row


def store_tokens(session: Session, row: Integration, tokens: oauth.TokenSet) -> None:
    """After a refresh: the new tokens, and the new expiry the UI shows."""
    blob = credentials.load(session, row)
    blob.update(token_fields(tokens))
    credentials.save(session, row, blob)
    row.expires_at = _when(tokens.expires_at)
    session.add(row)


def record_check(
    session: Session,
    actor: Actor,
    integration_id: uuid.UUID,
    *,
    error: str | None,
    account: str = "",
    account_id: str = "",
) -> Integration:
    require(actor, Permission.INTEGRATIONS_MANAGE)
    row = get_connection(session, actor, integration_id)
    row.last_checked_at = utcnow()
    row.last_error = error
    if row.status != IntegrationStatus.PENDING:
        row.status = IntegrationStatus.ERROR if error else IntegrationStatus.ACTIVE
    if account or account_id:
        row.settings = {
            **row.settings,
            **({"account": account} if account else {}),
            **({"account_id": account_id} if account_id else {}),
        }
    session.add(row)
    return row


def removal(
    session: Session, actor: Actor, integration_id: uuid.UUID
) -> tuple[oauth.OAuthClient | None, dict[str, Any]]:
    """What revoking needs (done by the caller over the network before `remove`)."""
    require(actor, Permission.INTEGRATIONS_MANAGE)
    row = get_connection(session, actor, integration_id)
    try:
        client = client_for(session, row)
        blob = credentials.load(session, row)
    except Exception:  # noqa: BLE001 - an unreadable credential must still be removable
        return None, {}
    return client, blob


def remove(
    session: Session, actor: Actor, integration_id: uuid.UUID, *, revoke_error: str | None = None
) -> None:
    require(actor, Permission.INTEGRATIONS_MANAGE)
    row = get_connection(session, actor, integration_id)
    _audit(session, actor, "integration.removed", row, revoke_error=revoke_error)
    secrets.delete(session, row.credential_ref)
    session.delete(row)


def check_may_grant(actor: Actor, row: Integration) -> None:
    """The rule for giving an agent a connection's actions (checked when an agent is saved)."""
    require(actor, Permission.AGENTS_WRITE)
    if can(actor, Permission.INTEGRATIONS_MANAGE) or row.builders_may_use:
        return
    raise Forbidden(
        f"Only an admin can give agents the connection {row.name!r}. An admin can let "
        "builders use it on the Integrations page.",
        fields={"tools": "Needs an admin"},
    )


def set_builders_may_use(
    session: Session, actor: Actor, integration_id: uuid.UUID, *, allowed: bool
) -> Integration:
    require(actor, Permission.INTEGRATIONS_MANAGE)
    row = get_connection(session, actor, integration_id)
    if row.builders_may_use != allowed:
        row.builders_may_use = allowed
        session.add(row)
        _audit(session, actor, "integration.builders_may_use", row, allowed=allowed)
    return row


def token_fields(tokens: oauth.TokenSet) -> dict[str, Any]:
    fields: dict[str, Any] = {"access_token": tokens.access_token, "expires_at": tokens.expires_at}
    if tokens.refresh_token:
        fields["refresh_token"] = tokens.refresh_token
    return fields


def _when(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp else None


def _audit(session: Session, actor: Actor, action: str, row: Integration, **details: Any) -> None:
    audit.record(
        session,
        action,
        org_id=row.org_id,
        actor_id=actor.user_id,
        target_type="integration",
        target_id=row.id,
        client_ip=actor.client_ip,
        provider=row.provider,
        name=row.name,
        **details,
    )


def expires_in_words(row: Integration) -> str:
    if row.expires_at is None:
        return ""
    seconds = row.expires_at.timestamp() - time.time()
    if seconds <= 0:
        return "token expired (refreshed on next use)"
    return f"token renews in {int(seconds // 60)} min"
