"""Spend control: a budget per run and an organization's monthly spend cap with its alerts.

- A run's budget (`Execution.budget_usd`): the request's, else its agent's "maximum spend
  per run" setting. The engine stops the run cleanly once its cost reaches it.
- The monthly cap (`Organization.monthly_spend_cap_usd`) is the owner's own, so it applies
  with billing off too (off until set). A start reserves its budget in the one limiter
  (services.ratelimit.SpendMeter), atomically, so two starts cannot both pass the cap; a run
  settles its real cost when it ends. At 100 % new runs are refused, and so are new suite
  runs (services.testing.runner) and sub-agent hand-offs (services.tools.sub_agent, whose
  budget is what is left of the parent's, held inside the parent's reservation).
- Alerts at 80 % and 100 %: each once per organization, month and threshold (a unique
  `spend_alerts` row decides), shown in the app and posted to the organization's alert
  webhook through the quality-alert delivery (services.testing.alerts).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from agent_platform.db import after_commit, after_rollback
from agent_platform.models import (
    Execution,
    ExecutionStatus,
    Organization,
    QualityAlert,
    SpendAlert,
)
from agent_platform.models.base import utcnow
from agent_platform.redis_client import get_redis
from services import audit
from services.access import Actor, Permission, can, require
from services.errors import Invalid, NotFound
from services.money import format_money
from services.queue import queue
from services.ratelimit import SpendMeter
from services.testing import alerts
from services.validation import parse

log = logging.getLogger(__name__)

THRESHOLDS = (80, 100)
ALERT_JOB = "agent_platform.spend_jobs.record_spend_alerts"
MICROS = Decimal("1000000")
MAX_USD = Decimal("1000000")  # a budget or cap above a million dollars is a typo


def micros(amount: Decimal | None) -> int:
    return int((amount or Decimal("0")) * MICROS)


def month_start(at: datetime | None = None) -> datetime:
    return (at or utcnow()).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def spend_key(org_id: uuid.UUID, month: datetime) -> str:
    return f"ratelimit:spend:{org_id}:{month:%Y-%m}"


def parse_usd(value: Decimal | str | float | None, *, what: str) -> Decimal | None:
    """A dollar amount from a form or a request: None (empty) or more than 0, at most a
    million, to the micro-dollar."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = Decimal(str(value).strip().lstrip("$")).quantize(Decimal("0.000001"))
    except ArithmeticError:
        raise Invalid(f"{what} must be an amount in dollars, e.g. 0.50.") from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_USD:
        raise Invalid(f"{what} must be more than $0 and at most $1,000,000.")
    return amount


def month_spend(session: Session, org_id: uuid.UUID, month: datetime) -> Decimal:
    """What the organization's runs created this month cost (test runs too: real money)."""
    total = session.exec(
        select(func.coalesce(func.sum(Execution.cost), 0)).where(
            Execution.org_id == org_id, col(Execution.created_at) >= month
        )
    ).one()
    return Decimal(str(total))


def _in_flight(session: Session, org_id: uuid.UUID, month: datetime) -> Decimal:
    total = session.exec(
        select(func.coalesce(func.sum(Execution.budget_usd), 0)).where(
            Execution.org_id == org_id,
            col(Execution.created_at) >= month,
            col(Execution.status).in_([ExecutionStatus.QUEUED, ExecutionStatus.RUNNING]),
            col(Execution.test_run_id).is_(None),  # a test run's budget is its suite's share
        )
    ).one()
    return Decimal(str(total))


def take_spend_allowance(session: Session, org_id: uuid.UUID, *, reserve: Decimal | None) -> None:
    """Refuse a new run once the month's spend reached the organization's cap; otherwise hold
    the run's budget against it until the run ends (given back if the start rolls back)."""
    org = session.get(Organization, org_id)
    cap = org.monthly_spend_cap_usd if org is not None else None
    if cap is None:
        return
    month = month_start()
    key = spend_key(org_id, month)
    meter = SpendMeter(get_redis())
    amount = micros(reserve)

    def seed() -> tuple[int, int]:
        return micros(month_spend(session, org_id, month)), micros(
            _in_flight(session, org_id, month)
        )

    took = meter.take(key, cap=micros(cap), amount=amount, seed=seed)
    if took.seeded and took.spent >= micros(cap) * THRESHOLDS[0] // 100:
        enqueue_alert_check(org_id, month)  # the 80 % line may have been passed unseen
    left = Decimal(micros(cap) - took.spent - took.reserved) / MICROS
    if not took.taken and not took.over_cap:
        raise Invalid(
            f"This run's budget of {format_money(reserve)} is more than what is left of your "
            f"organization's monthly spend cap ({format_money(max(left, Decimal(0)))}); "
            "set a smaller budget, or an admin can raise the cap in Settings → Usage."
        )
    if not took.taken:
        raise Invalid(_cap_reached(cap, Decimal(took.spent) / MICROS))
    if amount:
        after_rollback(session, lambda: meter.release(key, amount))


def refuse_when_cap_reached(session: Session, org_id: uuid.UUID) -> None:
    """For a run whose budget is already held against the cap (a sub-agent run, inside its
    parent's reservation): refused once this month's spend reached the cap. Reservations do
    not count here, so the parent's own cannot refuse its hand-off."""
    org = session.get(Organization, org_id)
    cap = org.monthly_spend_cap_usd if org is not None else None
    if cap is None:
        return
    spent = month_spend(session, org_id, month_start())
    if spent >= cap:
        raise Invalid(_cap_reached(cap, spent))


def _cap_reached(cap: Decimal, spent: Decimal) -> str:
    return (
        f"Your organization reached its monthly spend cap of {format_money(cap)} "
        f"({format_money(spent)} spent this month); new runs start again next month, or an "
        "admin can raise the cap in Settings → Usage."
    )


def settle_after_commit(session: Session, run: Execution) -> None:
    """Once the run's end is committed: its reservation released, its cost counted, and the
    alert check queued when this cost crossed 80 % or 100 % of the cap."""
    org_id, month = run.org_id, month_start(run.created_at)
    # Only runs started through start_run/replay reserved their budget against the cap; a
    # test run's budget is its allowance out of its suite's budget (services.testing), a
    # sub-agent run's is out of its parent's (services.tools.sub_agent).
    own = run.test_run_id is None and "parent_run_id" not in (run.input or {})
    reserved = micros(run.budget_usd) if own else 0
    spent = micros(run.cost)

    def settle() -> None:
        result = SpendMeter(get_redis()).settle(
            spend_key(org_id, month), reserved=reserved, spent=spent
        )
        if result is None or spent == 0:
            return
        cap = _cached_cap(org_id, month)
        before, after = result
        if cap and any(before < cap * t // 100 <= after for t in THRESHOLDS):
            enqueue_alert_check(org_id, month)

    after_commit(session, settle)


def _cached_cap(org_id: uuid.UUID, month: datetime) -> int | None:
    """The cap the last reservation saw (kept beside the counter), so settling needs no query."""
    raw: Any = get_redis().hget(spend_key(org_id, month), "cap")
    return int(raw) if raw is not None else None


def enqueue_alert_check(org_id: uuid.UUID, month: datetime) -> None:
    queue("default").enqueue(
        ALERT_JOB, str(org_id), f"{month:%Y-%m}", result_ttl=300, failure_ttl=86400
    )


def record_alerts(session: Session, org_id: uuid.UUID, month: datetime) -> list[int]:
    """The alerts this month's spend calls for and has not had yet: each threshold once per
    month, however many checks run at once (the unique row decides). Returns those sent."""
    org = session.get(Organization, org_id)
    if org is None or org.monthly_spend_cap_usd is None:
        return []
    cap = org.monthly_spend_cap_usd
    spent = month_spend(session, org_id, month)
    sent: list[int] = []
    for threshold in THRESHOLDS:
        if spent * 100 < cap * threshold:
            continue
        row = SpendAlert(
            org_id=org_id, month=f"{month:%Y-%m}", threshold=threshold, spent=spent, cap=cap
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            continue  # sent already (or by a check running right now)
        alerts.raise_alert(
            session,
            org_id=org_id,
            agent_id=None,
            kind=f"spend_{threshold}",
            message=_alert_message(threshold, spent, cap),
            details={"month": f"{month:%Y-%m}", "spent": str(spent), "cap": str(cap)},
            webhook_url=org.alert_webhook_url,
        )
        sent.append(threshold)
    return sent


def recent_alerts(session: Session, actor: Actor, *, limit: int = 5) -> list[QualityAlert]:
    """The organization's latest spend alerts (any member may read them)."""
    return list(
        session.exec(
            alerts.visible_alerts(actor)
            .where(col(QualityAlert.kind).in_([f"spend_{t}" for t in THRESHOLDS]))
            .order_by(col(QualityAlert.created_at).desc())
            .limit(limit)
        ).all()
    )


def _alert_message(threshold: int, spent: Decimal, cap: Decimal) -> str:
    if threshold >= 100:
        return (
            f"Monthly spend cap reached: {format_money(spent)} of {format_money(cap)}. "
            "New runs are refused until next month or until an admin raises the cap."
        )
    return (
        f"{threshold} % of the monthly spend cap used: {format_money(spent)} of "
        f"{format_money(cap)}."
    )


class SpendSettingsInput(BaseModel):
    monthly_spend_cap_usd: Decimal | None = None
    alert_webhook_url: str | None = Field(default=None, max_length=500)


@dataclass(frozen=True)
class SpendSettings:
    monthly_spend_cap_usd: Decimal | None
    alert_webhook_url: str | None  # None to anyone but an admin: a webhook URL is a secret
    alert_webhook_set: bool


def get_spend_settings(session: Session, actor: Actor) -> SpendSettings:
    """Any member sees the cap and whether alerts go to a webhook; only an admin sees the
    webhook's URL (a Slack-style URL lets whoever has it post into the channel)."""
    org = session.get(Organization, actor.org_id)
    if org is None:
        raise NotFound("Organization not found.")
    url = org.alert_webhook_url
    shown = url if can(actor, Permission.ORG_MANAGE) else None
    return SpendSettings(org.monthly_spend_cap_usd, shown, url is not None)


def set_spend_settings(
    session: Session,
    actor: Actor,
    *,
    monthly_spend_cap_usd: Decimal | str | float | None,
    alert_webhook_url: str | None,
) -> SpendSettings:
    """An org admin sets (or clears, with None/empty) the monthly cap and the alert webhook.
    A new cap takes effect at the next start (the limiter reads it from here)."""
    require(actor, Permission.ORG_MANAGE)
    cap = parse_usd(monthly_spend_cap_usd, what="The monthly spend cap")
    url = (alert_webhook_url or "").strip() or None
    parse(SpendSettingsInput, {"alert_webhook_url": url})
    if url is not None and not url.startswith(("https://", "http://")):
        raise Invalid(
            "The alert webhook must be an http(s) URL.", fields={"alert_webhook_url": "Not a URL"}
        )
    org = session.get(Organization, actor.org_id)
    if org is None:
        raise NotFound("Organization not found.")
    old: dict[str, Any] = {"cap": str(org.monthly_spend_cap_usd), "webhook": org.alert_webhook_url}
    org.monthly_spend_cap_usd, org.alert_webhook_url = cap, url
    session.add(org)
    audit.record(
        session,
        "org.spend_cap_changed",
        org_id=org.id,
        actor_id=actor.user_id,
        target_type="org",
        target_id=org.id,
        old=old["cap"],
        new=str(cap),
        webhook_changed=old["webhook"] != url,
        client_ip=actor.client_ip,
    )
    org_id, month = org.id, month_start()
    # The limiter counts again from the database with the new cap, and a lower cap may be
    # passed already: check the alerts now.
    after_commit(session, lambda: _forget_and_check(org_id, month))
    return SpendSettings(cap, url, url is not None)


def _forget_and_check(org_id: uuid.UUID, month: datetime) -> None:
    get_redis().delete(spend_key(org_id, month))
    enqueue_alert_check(org_id, month)
