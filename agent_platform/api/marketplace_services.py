"""Service listings over REST (/api/v1/marketplace): subscribe, set the most a run may spend,
and run the seller's version. HTTP only: the rules live in services/marketplace/service_runs.py.

    GET    /listings/{id}/subscription    your organization's subscription (404: none)
    POST   /listings/{id}/subscription    subscribe, with max_spend_per_run_usd (201)
    PATCH  /listings/{id}/subscription    change max_spend_per_run_usd
    DELETE /listings/{id}/subscription    unsubscribe
    POST   /listings/{id}/runs            a run in your organization (run scope); read it, its
                                          steps and events under /api/v1/runs/{id}

A service run's steps hold no instructions, model or tools' settings: the answer, status,
cost and the names of the tools called.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from agent_platform.models import ServiceSubscription
from services.errors import NotFound
from services.marketplace import service_runs

from .runs import RunOut, run_out
from .v1 import ApiActor, RequestSession, RunStarter, WriteActor

router = APIRouter(prefix="/api/v1/marketplace", tags=["marketplace"])


class SubscriptionIn(BaseModel):
    max_spend_per_run_usd: Decimal = Field(
        description="The most one run may spend, in USD (more than 0): a run stops cleanly "
        "(cancelled, its steps kept) once its cost reaches it."
    )


class SubscriptionOut(BaseModel):
    id: str
    listing_id: str
    max_spend_per_run_usd: str
    created_at: datetime
    updated_at: datetime


class ServiceRunIn(BaseModel):
    message: str = Field(description="The user's message: the run's input.")
    variables: dict[str, str] = Field(default_factory=dict)


def _out(row: ServiceSubscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=str(row.id),
        listing_id=str(row.listing_id),
        max_spend_per_run_usd=str(row.max_spend_per_run_usd),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.get("/listings/{listing_id}/subscription", response_model=SubscriptionOut)
def get_subscription(
    session: RequestSession, actor: ApiActor, listing_id: uuid.UUID
) -> SubscriptionOut:
    row = service_runs.subscription_of(session, actor, listing_id)
    if row is None:
        raise NotFound("Your organization has not subscribed to this service.")
    return _out(row)


@router.post("/listings/{listing_id}/subscription", response_model=SubscriptionOut, status_code=201)
def subscribe(
    session: RequestSession, actor: WriteActor, listing_id: uuid.UUID, body: SubscriptionIn
) -> SubscriptionOut:
    return _out(
        service_runs.subscribe(
            session, actor, listing_id, max_spend_per_run_usd=body.max_spend_per_run_usd
        )
    )


@router.patch("/listings/{listing_id}/subscription", response_model=SubscriptionOut)
def change_subscription(
    session: RequestSession, actor: WriteActor, listing_id: uuid.UUID, body: SubscriptionIn
) -> SubscriptionOut:
    return _out(service_runs.set_max_spend(session, actor, listing_id, body.max_spend_per_run_usd))


@router.delete("/listings/{listing_id}/subscription", status_code=204)
def unsubscribe(session: RequestSession, actor: WriteActor, listing_id: uuid.UUID) -> Response:
    service_runs.unsubscribe(session, actor, listing_id)
    return Response(status_code=204)


@router.post("/listings/{listing_id}/runs", response_model=RunOut, status_code=201)
def run_service(
    session: RequestSession, actor: RunStarter, listing_id: uuid.UUID, body: ServiceRunIn
) -> RunOut:
    run = service_runs.start_service_run(
        session, actor, listing_id, message=body.message, variables=body.variables
    )
    return run_out(run)
