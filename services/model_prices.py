"""An organization's own prices for its models (self-hosted, fine-tuned, or too new for
LiteLLM's price map), per million tokens in US dollars.

Why the org's price wins over LiteLLM's map: the org knows what it actually pays (a discount,
a reseller, its own GPU hours); the map only knows list prices. A model with neither has an
unknown cost, shown as "unknown", never as $0.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import ModelPrice
from agent_platform.models.base import utcnow
from services import audit
from services.access import Actor, Permission, require
from services.errors import NotFound
from services.llm import chain_cache
from services.validation import parse

MAX_PRICE = Decimal("100000")  # per million tokens; far above any real price


class PriceInput(BaseModel):
    model: str = Field(min_length=3, max_length=200)
    input_per_million: Decimal = Field(ge=0, le=MAX_PRICE, decimal_places=6)
    output_per_million: Decimal = Field(ge=0, le=MAX_PRICE, decimal_places=6)

    @field_validator("model")
    @classmethod
    def _ref(cls, value: str) -> str:
        provider, _, name = value.strip().partition("/")
        if not provider or not name.strip():
            raise ValueError("use the model as agents name it: <provider>/<model>")
        return f"{provider.strip().lower()}/{name.strip()}"


def visible_prices(actor: Actor) -> SelectOfScalar[ModelPrice]:
    """Every price read starts here: the actor's organization's prices, nothing else."""
    return select(ModelPrice).where(ModelPrice.org_id == actor.org_id)


def get_price(session: Session, actor: Actor, price_id: uuid.UUID) -> ModelPrice:
    row = session.exec(visible_prices(actor).where(ModelPrice.id == price_id)).first()
    if row is None:
        raise NotFound("Price not found.")
    return row


def list_prices(session: Session, actor: Actor) -> list[ModelPrice]:
    """Any member may read them (they explain the costs everyone sees)."""
    return list(session.exec(visible_prices(actor).order_by(col(ModelPrice.model))).all())


def set_price(
    session: Session,
    actor: Actor,
    *,
    model: str,
    input_per_million: str | Decimal,
    output_per_million: str | Decimal,
) -> ModelPrice:
    """Add or replace the price of one model; costs of later calls use it (earlier ones keep
    what was known when they ran)."""
    require(actor, Permission.PROVIDERS_MANAGE)
    data = parse(
        PriceInput,
        {
            "model": model,
            "input_per_million": str(input_per_million).strip().lstrip("$") or None,
            "output_per_million": str(output_per_million).strip().lstrip("$") or None,
        },
    )
    row = session.exec(visible_prices(actor).where(ModelPrice.model == data.model)).first()
    old = (
        {"input": str(row.input_per_million), "output": str(row.output_per_million)}
        if row
        else None
    )
    if row is None:
        row = ModelPrice(
            org_id=actor.org_id,
            model=data.model,
            input_per_million=data.input_per_million,
            output_per_million=data.output_per_million,
        )
    else:
        row.input_per_million = data.input_per_million
        row.output_per_million = data.output_per_million
        row.updated_at = utcnow()
    session.add(row)
    session.flush()
    chain_cache.changed(session, actor.org_id)  # cached resolutions carry the old price
    audit.record(
        session,
        "model_price.set",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="model",
        target_id=data.model,
        client_ip=actor.client_ip,
        old=old,
        new={"input": str(data.input_per_million), "output": str(data.output_per_million)},
    )
    return row


def delete_price(session: Session, actor: Actor, price_id: uuid.UUID) -> None:
    require(actor, Permission.PROVIDERS_MANAGE)
    row = get_price(session, actor, price_id)
    session.delete(row)
    chain_cache.changed(session, actor.org_id)
    audit.record(
        session,
        "model_price.deleted",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="model",
        target_id=row.model,
        client_ip=actor.client_ip,
    )


def price_of(session: Session, org_id: uuid.UUID, ref: str) -> tuple[Decimal, Decimal] | None:
    """The org's (input, output) price per million tokens of `ref`, or None."""
    row = session.exec(
        select(ModelPrice).where(ModelPrice.org_id == org_id, ModelPrice.model == ref)
    ).first()
    return (row.input_per_million, row.output_per_million) if row else None
