"""An organization's LLM providers: credentials in the secret store, never shown again."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import ProviderCredential, ProviderKind
from agent_platform.models.base import utcnow
from services import audit, model_prices, private_hosts, secrets
from services.access import Actor, Permission, require
from services.errors import Conflict, Invalid, NotFound
from services.llm import chain_cache
from services.outbound import OutboundError, OutboundRefused, default_guard
from services.validation import parse

NEEDS_BASE = {ProviderKind.AZURE, ProviderKind.OLLAMA, ProviderKind.OPENAI_COMPATIBLE}
NEEDS_KEY = {ProviderKind.OPENAI, ProviderKind.ANTHROPIC, ProviderKind.GEMINI, ProviderKind.AZURE}
LITELLM_PREFIX = {
    ProviderKind.OPENAI: "openai",
    ProviderKind.ANTHROPIC: "anthropic",
    ProviderKind.GEMINI: "gemini",
    ProviderKind.AZURE: "azure",
    ProviderKind.OLLAMA: "ollama_chat",
    ProviderKind.OPENAI_COMPATIBLE: "openai",
}
LABEL = {
    ProviderKind.OPENAI: "OpenAI",
    ProviderKind.ANTHROPIC: "Anthropic",
    ProviderKind.GEMINI: "Google Gemini",
    ProviderKind.AZURE: "Azure OpenAI",
    ProviderKind.OLLAMA: "Ollama",
    ProviderKind.OPENAI_COMPATIBLE: "OpenAI-compatible server",
}


class ProviderInput(BaseModel):
    name: str = Field(min_length=1, max_length=60)
    kind: ProviderKind
    api_key: str = Field(default="", max_length=4000)
    api_base: str = Field(default="", max_length=500)
    api_version: str = Field(default="", max_length=40)
    models: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        value = value.strip().lower()
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", value):
            raise ValueError("use lowercase letters, digits, '-', '_' or '.'")
        return value

    @field_validator("models")
    @classmethod
    def _models(cls, values: list[str]) -> list[str]:
        return [v.strip() for v in values if v.strip()]

    @model_validator(mode="after")
    def _required(self) -> ProviderInput:
        if self.kind in NEEDS_BASE and not self.api_base:
            raise ValueError(f"{LABEL[self.kind]} needs a base URL")
        if self.kind == ProviderKind.AZURE and not self.api_version:
            raise ValueError("Azure OpenAI needs an API version, e.g. 2024-10-21")
        return self


@dataclass(frozen=True)
class ResolvedModel:
    """Everything LiteLLM needs for one model of a chain (holds a secret: never log it)."""

    ref: str
    label: str
    litellm_model: str
    api_base: str | None
    api_key: str | None
    api_version: str | None
    # The org's own private hosts: the gateway's guard adds them to the instance's list.
    allow_hosts: tuple[str, ...] = ()
    # The org's own (input, output) price per million tokens, when it entered one.
    price: tuple[Decimal, Decimal] | None = None

    def __repr__(self) -> str:  # keep the key out of logs and tracebacks
        return f"ResolvedModel({self.ref!r})"


def _check_base_url(url: str, allow_hosts: tuple[str, ...]) -> None:
    """Refuse at save what the guard would refuse at every call, in words: a private address
    the org has not opened, or a host name that does not resolve (a typo, usually)."""
    try:
        default_guard(allow_hosts).check_url(url)
    except OutboundRefused as exc:
        message = exc.message
        if "address" in message or "loopback" in message:
            message += (
                ". If this is your own server, an admin can add it under "
                "'Private hosts this organization may reach'."
            )
        raise Invalid(message, fields={"api_base": message}) from None
    except OutboundError:
        host = httpx.URL(url).host
        message = (
            f"The host {host!r} could not be found: check the base URL for typos, "
            "or that this server can look the name up."
        )
        raise Invalid(message, fields={"api_base": message}) from None


def visible_providers(actor: Actor) -> SelectOfScalar[ProviderCredential]:
    """Every model-provider read starts here: the actor's organization's, nothing else."""
    return select(ProviderCredential).where(ProviderCredential.org_id == actor.org_id)


def list_providers(session: Session, actor: Actor) -> list[ProviderCredential]:
    return list(session.exec(visible_providers(actor).order_by(col(ProviderCredential.name))).all())


def get_provider(session: Session, actor: Actor, provider_id: uuid.UUID) -> ProviderCredential:
    row = session.exec(visible_providers(actor).where(ProviderCredential.id == provider_id)).first()
    if row is None:
        raise NotFound("Provider not found.")
    return row


def save_provider(
    session: Session, actor: Actor, data: dict[str, Any], *, provider_id: uuid.UUID | None = None
) -> ProviderCredential:
    """Create or update; an empty api_key on update keeps the stored one."""
    require(actor, Permission.PROVIDERS_MANAGE)
    parsed = parse(ProviderInput, data)
    row = get_provider(session, actor, provider_id) if provider_id else None
    clash = session.exec(
        visible_providers(actor).where(ProviderCredential.name == parsed.name)
    ).first()
    if clash and (row is None or clash.id != row.id):
        raise Conflict(f"A provider named {parsed.name!r} exists.", fields={"name": "Taken"})
    if parsed.api_base:
        _check_base_url(parsed.api_base, private_hosts.org_entries(session, actor.org_id))
    if parsed.kind in NEEDS_KEY and not parsed.api_key and (row is None or not row.secret_ref):
        raise Invalid(f"{LABEL[parsed.kind]} needs an API key.", fields={"api_key": "Required"})
    if row is None:
        row = ProviderCredential(org_id=actor.org_id, name=parsed.name, created_by_id=actor.user_id)
    row.name, row.kind = parsed.name, parsed.kind
    row.api_base = parsed.api_base.rstrip("/") or None
    row.api_version = parsed.api_version or None
    row.models = parsed.models
    # Before the key is written: on a rollback its token is replaced after Vault's undo (undo
    # hooks run newest first), so no run keeps a key that was never saved.
    chain_cache.changed(session, actor.org_id)
    if parsed.api_key:
        row.secret_ref = row.secret_ref or secrets.new_ref(actor.org_id, "llm")
        secrets.put(session, row.secret_ref, parsed.api_key, org_id=actor.org_id)
        row.key_hint = secrets.hint(parsed.api_key)
    session.add(row)
    session.flush()
    audit.record(
        session,
        "provider.saved",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="provider",
        target_id=row.id,
        name=row.name,
        kind=row.kind.value,
    )
    return row


def delete_provider(session: Session, actor: Actor, provider_id: uuid.UUID) -> None:
    require(actor, Permission.PROVIDERS_MANAGE)
    row = get_provider(session, actor, provider_id)
    chain_cache.changed(session, actor.org_id)
    if row.secret_ref:
        secrets.delete(session, row.secret_ref)
    session.delete(row)
    audit.record(
        session,
        "provider.deleted",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="provider",
        target_id=provider_id,
    )


def resolve(
    session: Session,
    org_id: uuid.UUID,
    ref: str,
    *,
    allow_hosts: tuple[str, ...] | None = None,
) -> ResolvedModel:
    """`<provider name>/<model>` → what LiteLLM needs, with the key read from the secret store.
    `allow_hosts`: the org's private hosts when the caller has read them already."""
    name, _, model = ref.partition("/")
    row = session.exec(
        select(ProviderCredential).where(
            ProviderCredential.org_id == org_id, ProviderCredential.name == name
        )
    ).first()
    if row is None:
        raise Invalid(
            f"No model provider named {name!r} is configured. "
            "Add it in Settings → Model providers, or pick another model."
        )
    # No address check here: the gateway's guarded client checks every connection it opens
    # (each model of a chain on its own, so a refused one falls back to the next).
    return ResolvedModel(
        ref=ref,
        label=LABEL[row.kind],
        litellm_model=f"{LITELLM_PREFIX[row.kind]}/{model}",
        api_base=row.api_base,
        api_key=secrets.get(session, row.secret_ref) if row.secret_ref else "not-needed",
        api_version=row.api_version,
        allow_hosts=(
            private_hosts.org_entries(session, org_id) if allow_hosts is None else allow_hosts
        ),
        price=model_prices.price_of(session, org_id, ref),
    )


def resolve_chain(
    session: Session,
    org_id: uuid.UUID,
    refs: list[str],
    *,
    allow_hosts: tuple[str, ...] | None = None,
) -> list[ResolvedModel]:
    """The org's private hosts are read once for the chain (the session's identity map holds
    the organization only weakly, so each read was a query), or not at all when given."""
    if allow_hosts is None:
        allow_hosts = private_hosts.org_entries(session, org_id)
    return [resolve(session, org_id, ref, allow_hosts=allow_hosts) for ref in refs]


def resolve_chain_cached(
    session: Session, org_id: uuid.UUID, refs: list[str]
) -> tuple[tuple[str, ...], list[ResolvedModel]]:
    """The org's private hosts and `resolve_chain(refs)` (prices included), from this
    process's cache while the org's resolution token is unchanged (services.llm.chain_cache
    says why that is safe); a run's hot path then reads no provider row, organization, price
    or secret."""
    key = tuple(refs)
    current = chain_cache.token(org_id)
    cached = chain_cache.lookup(org_id, key, current) if current is not None else None
    if cached is None:
        allow_hosts = private_hosts.org_entries(session, org_id)
        chain = resolve_chain(session, org_id, refs, allow_hosts=allow_hosts)
        if current is not None:
            chain_cache.store(org_id, key, current, (allow_hosts, tuple(chain)))
        return allow_hosts, chain
    allow_hosts, models = cached
    return allow_hosts, list(models)


def configured_names(session: Session, org_id: uuid.UUID) -> set[str]:
    return set(
        session.exec(
            select(ProviderCredential.name).where(ProviderCredential.org_id == org_id)
        ).all()
    )


def connection_target(
    session: Session, actor: Actor, provider_id: uuid.UUID, *, model: str = ""
) -> ResolvedModel:
    """The model a connection test talks to (the first listed, unless one is given)."""
    require(actor, Permission.PROVIDERS_MANAGE)
    row = get_provider(session, actor, provider_id)
    model = model or (row.models[0] if row.models else "")
    if not model:
        raise Invalid(
            "List at least one model for this provider to test it.", fields={"models": "Required"}
        )
    return resolve(session, actor.org_id, f"{row.name}/{model}")


def record_check(
    session: Session, actor: Actor, provider_id: uuid.UUID, *, error: str | None
) -> ProviderCredential:
    row = get_provider(session, actor, provider_id)
    row.last_error = error
    row.last_checked_at = utcnow()
    session.add(row)
    return row
