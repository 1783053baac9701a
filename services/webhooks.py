"""Webhook triggers: a secret URL per trigger that starts a run when something calls it.

Why shaped like this:
- The URL token is shown once and stored only as its SHA-256 (like API keys): the database
  alone cannot call anyone's trigger. The signing secret lives in the secret store
  (`secret_ref`), never in a row, a log or a response after the one that created it.
- Calls to the URL are `services.webhook_calls`; what a call's bytes mean is
  `services.webhook_delivery`.
- Every read goes through `visible_webhooks(actor)`: another organization's trigger is a 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import Execution, TriggerTarget, WebhookTrigger
from agent_platform.settings import get_settings
from services import audit, secrets
from services.access import Actor, Permission, require
from services.agent_reads import get_agent
from services.errors import Forbidden, NotFound
from services.tokens import new_token, token_hash
from services.validation import SafeName, parse
from services.webhook_delivery import check_mapping

TOKEN_PREFIX = "wh_"
SECRET_PREFIX = "whsec_"


class WebhookSettings(BaseModel):
    """What a person sets on a trigger (all optional on update)."""

    name: SafeName = Field(min_length=1, max_length=120)
    require_signature: bool = True
    tolerance_seconds: int = Field(default=300, ge=5, le=3600)
    input_mapping: dict[str, Any] = Field(default_factory=dict)
    rate_limit_per_minute: int = Field(default=60, ge=1, le=10_000)
    max_wait_seconds: int = Field(default=30, ge=0, le=120)
    enabled: bool = True


class WebhookUpdate(BaseModel):
    name: SafeName | None = Field(default=None, min_length=1, max_length=120)
    require_signature: bool | None = None
    tolerance_seconds: int | None = Field(default=None, ge=5, le=3600)
    input_mapping: dict[str, Any] | None = None
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=10_000)
    max_wait_seconds: int | None = Field(default=None, ge=0, le=120)
    enabled: bool | None = None


@dataclass(frozen=True)
class IssuedWebhook:
    """A trigger with what is shown once: its URL token and/or signing secret ("" = kept)."""

    trigger: WebhookTrigger
    token: str
    secret: str


def hook_url(token: str) -> str:
    """The address callers POST to (BASE_URL + the route in agent_platform/api/webhooks.py)."""
    return f"{get_settings().resolved_base_url}/api/v1/hooks/{token}"


def visible_webhooks(actor: Actor) -> SelectOfScalar[WebhookTrigger]:
    """Every trigger read starts here: the actor's organization's triggers, nothing else."""
    return select(WebhookTrigger).where(WebhookTrigger.org_id == actor.org_id)


def get_webhook(session: Session, actor: Actor, trigger_id: uuid.UUID) -> WebhookTrigger:
    trigger = session.exec(visible_webhooks(actor).where(WebhookTrigger.id == trigger_id)).first()
    if trigger is None:
        raise NotFound("Trigger not found.")
    return trigger


def list_webhooks(
    session: Session, actor: Actor, *, agent_id: uuid.UUID | None = None
) -> list[WebhookTrigger]:
    query = visible_webhooks(actor)
    if agent_id is not None:
        query = query.where(WebhookTrigger.agent_id == get_agent(session, actor, agent_id).id)
    return list(session.exec(query.order_by(col(WebhookTrigger.created_at).desc())).all())


def _audit(session: Session, actor: Actor, action: str, trigger: WebhookTrigger, **kw: Any) -> None:
    audit.by_actor(
        session,
        actor,
        action,
        target_type="webhook_trigger",
        target_id=trigger.id,
        agent_id=str(trigger.agent_id),
        name=trigger.name,
        **kw,
    )


def _new_token(trigger: WebhookTrigger) -> str:
    token = new_token(TOKEN_PREFIX)
    trigger.token_hash = token_hash(token)
    trigger.token_hint = token[-6:]
    return token


def create_webhook(
    session: Session,
    actor: Actor,
    agent_id: uuid.UUID,
    *,
    data: dict[str, Any],
    created_by_id: uuid.UUID | None = None,
) -> IssuedWebhook:
    """A new trigger on an agent; its URL token and signing secret are returned only here.

    `created_by_id` is whom calls act as: the actor by default (an API key, which has no
    person of its own, passes its creator)."""
    require(actor, Permission.AGENTS_WRITE)
    settings = parse(WebhookSettings, data)
    agent = get_agent(session, actor, agent_id)
    creator = actor.user_id or created_by_id
    if creator is None:
        raise Forbidden("A trigger acts as the person who made it; sign in to create one.")
    trigger = WebhookTrigger(
        org_id=actor.org_id,
        agent_id=agent.id,
        target_type=TriggerTarget.AGENT,
        created_by_id=creator,
        token_hash="",
        **{**settings.model_dump(), "input_mapping": check_mapping(settings.input_mapping)},
    )
    token = _new_token(trigger)
    signing_secret = new_token(SECRET_PREFIX)
    trigger.secret_ref = secrets.new_ref(actor.org_id, "webhook")
    secrets.put(session, trigger.secret_ref, signing_secret, org_id=actor.org_id)
    session.add(trigger)
    session.flush()
    _audit(session, actor, "webhook.created", trigger)
    return IssuedWebhook(trigger=trigger, token=token, secret=signing_secret)


def update_webhook(
    session: Session, actor: Actor, trigger_id: uuid.UUID, *, data: dict[str, Any]
) -> WebhookTrigger:
    """Change settings (enable/disable among them); only the fields given change."""
    require(actor, Permission.AGENTS_WRITE)
    trigger = get_webhook(session, actor, trigger_id)
    changes = parse(WebhookUpdate, data).model_dump(exclude_unset=True, exclude_none=True)
    if "input_mapping" in changes:
        changes["input_mapping"] = check_mapping(changes["input_mapping"])
    for field, value in changes.items():
        setattr(trigger, field, value)
    session.add(trigger)
    _audit(session, actor, "webhook.updated", trigger, fields=sorted(changes))
    return trigger


def rotate_webhook(
    session: Session,
    actor: Actor,
    trigger_id: uuid.UUID,
    *,
    token: bool = True,
    secret: bool = True,
) -> IssuedWebhook:
    """A new URL token and/or signing secret; the old ones stop working at the commit."""
    require(actor, Permission.AGENTS_WRITE)
    trigger = get_webhook(session, actor, trigger_id)
    new_url_token = _new_token(trigger) if token else ""
    signing_secret = ""
    if secret:
        signing_secret = new_token(SECRET_PREFIX)
        if trigger.secret_ref is None:
            trigger.secret_ref = secrets.new_ref(actor.org_id, "webhook")
        secrets.put(session, trigger.secret_ref, signing_secret, org_id=actor.org_id)
    session.add(trigger)
    _audit(session, actor, "webhook.rotated", trigger, token=token, secret=secret)
    return IssuedWebhook(trigger=trigger, token=new_url_token, secret=signing_secret)


def delete_webhook(session: Session, actor: Actor, trigger_id: uuid.UUID) -> None:
    """The row now; the signing secret with the commit (the secret store defers its delete
    until then, so a rolled-back delete keeps a working trigger). Its runs stay."""
    require(actor, Permission.AGENTS_WRITE)
    trigger = get_webhook(session, actor, trigger_id)
    if trigger.secret_ref:
        secrets.delete(session, trigger.secret_ref)
    _audit(session, actor, "webhook.deleted", trigger)
    session.delete(trigger)


def recent_deliveries(
    session: Session, actor: Actor, trigger_id: uuid.UUID, *, limit: int = 10
) -> list[Execution]:
    """The trigger's latest runs, newest first."""
    trigger = get_webhook(session, actor, trigger_id)
    return list(
        session.exec(
            select(Execution)
            .where(Execution.org_id == trigger.org_id, Execution.webhook_trigger_id == trigger.id)
            .order_by(col(Execution.created_at).desc())
            .limit(min(limit, 50))
        ).all()
    )
