"""Usage and spend control over REST (/api/v1): this month's usage against the plan's limits,
and the organization's monthly spend cap with its alert webhook. HTTP only; the rules are in
`services.usage` and `services.spend`.

Reading needs any key; changing the cap needs the admin scope (and an owner's or admin's key),
and so does reading the alert webhook's URL (a secret: others see only whether one is set).
"""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services import spend, usage
from services.api_keys import Scope

from .v1 import AdminActor, ApiActor, ApiPrincipal, RequestSession

router = APIRouter(prefix="/api/v1", tags=["usage"])


class MeterOut(BaseModel):
    key: str = Field(description="runs, concurrent_runs, agents or seats")
    label: str
    used: int
    limit: int | None = Field(description="None: unlimited")


class UsageOut(BaseModel):
    month: str = Field(description="the calendar month counted, UTC (YYYY-MM)")
    tier: str
    plans_enabled: bool = Field(description="false: no tier limits apply (billing is off)")
    next_tier: str | None = Field(description="with plans on, the tier an upgrade gives")
    meters: list[MeterOut]
    tokens: int = Field(description="tokens used by this month's runs, test runs included")
    cost: str = Field(description="USD spent by this month's runs, test runs included")
    test_runs: int
    spend_cap: str | None = Field(description="the monthly spend cap in USD (None: no cap)")
    spend_percent: int | None


class SpendCapOut(BaseModel):
    monthly_spend_cap_usd: str | None
    alert_webhook_url: str | None = Field(
        description="only to a key with the admin scope made by an owner or admin (the URL is "
        "a secret); null otherwise, or when there is none"
    )
    alert_webhook_set: bool = Field(description="whether spend alerts are POSTed to a webhook")


class SpendCapIn(BaseModel):
    monthly_spend_cap_usd: Decimal | None = Field(
        default=None,
        description="USD a month; new runs are refused once this month's spend reaches it, "
        "with alerts at 80 % and 100 %. null: no cap.",
    )
    alert_webhook_url: str | None = Field(
        default=None, description="Where the spend alerts are POSTed (null: in the app only)."
    )


@router.get("/usage", response_model=UsageOut)
def get_usage(session: RequestSession, actor: ApiActor) -> UsageOut:
    found = usage.usage_of(session, actor)
    return UsageOut(
        month=found.month,
        tier=found.tier,
        plans_enabled=found.plans_enabled,
        next_tier=found.next_tier,
        meters=[
            MeterOut(key=m.key, label=m.label, used=m.used, limit=m.limit if m.limit >= 0 else None)
            for m in found.meters
        ],
        tokens=found.tokens,
        cost=str(found.cost),
        test_runs=found.test_runs,
        spend_cap=str(found.spend_cap) if found.spend_cap is not None else None,
        spend_percent=found.spend_percent,
    )


def _cap_out(settings: spend.SpendSettings, *, show_webhook: bool = True) -> SpendCapOut:
    cap = settings.monthly_spend_cap_usd
    return SpendCapOut(
        monthly_spend_cap_usd=str(cap) if cap is not None else None,
        alert_webhook_url=settings.alert_webhook_url if show_webhook else None,
        alert_webhook_set=settings.alert_webhook_set,
    )


@router.get("/org/spend-cap", response_model=SpendCapOut)
def get_spend_cap(session: RequestSession, principal: ApiPrincipal) -> SpendCapOut:
    # The webhook URL is a secret: the service shows it to admins, and here only to a key
    # that may also change it (the admin scope).
    return _cap_out(
        spend.get_spend_settings(session, principal.actor),
        show_webhook=principal.has(Scope.ADMIN),
    )


@router.put("/org/spend-cap", response_model=SpendCapOut)
def put_spend_cap(body: SpendCapIn, session: RequestSession, actor: AdminActor) -> SpendCapOut:
    return _cap_out(
        spend.set_spend_settings(
            session,
            actor,
            monthly_spend_cap_usd=body.monthly_spend_cap_usd,
            alert_webhook_url=body.alert_webhook_url,
        )
    )
