"""Sellers are paid for service runs (issue 15): each billed run earns its seller the run's price
minus the platform's fee; after a month ends, the periodic job transfers each seller's month
to its Stripe connected account once. Against the Stripe fake over real HTTP (its
`POST /v1/transfers` speaks Stripe's wire format and honours Idempotency-Key)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from rq_scheduler import Scheduler
from sqlmodel import select

from agent_platform import billing_jobs, worker
from agent_platform.api import create_api
from agent_platform.db import session_scope
from agent_platform.models import Execution, ExecutionStatus, SellerAccount, ServicePayout
from agent_platform.redis_client import get_redis
from agent_platform.settings import get_settings
from services import api_keys
from services.access import Actor
from services.billing import connect, earnings, service_payouts
from services.marketplace import listings, moderation
from tests.factories import make_user, personal_actor
from tests.services.marketplace_helpers import (
    Market,
    give_provider,
    live_listing,
    make_market,
    published_agent,
)

NOW = datetime.now(UTC)
THIS_MONTH = datetime(NOW.year, NOW.month, 1, tzinfo=UTC)
LAST_MONTH = THIS_MONTH - timedelta(days=1)  # the last day of the month that ended


@dataclass
class Sellers:
    market: Market
    listing_id: uuid.UUID  # the first seller's service, $0.25 a run
    other: Actor  # a second seller
    other_listing_id: uuid.UUID  # its service, $1.00 a run


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


@pytest.fixture
def sellers(stripe) -> Sellers:
    with session_scope() as session:
        market = make_market(session)
        listing = live_listing(session, market, {"kind": "service", "price_cents": 25})
        other = personal_actor(session, make_user(session, email="olga@example.com"))
        give_provider(session, other)
        agent_id = published_agent(session, other, name="Olga's bot")
        theirs = listings.publish_listing(
            session,
            other,
            agent_id,
            {"title": "Olga answers", "kind": "service", "price_cents": 100},
        )
        moderation.approve_listing(session, market.admin.id, theirs.id)
        return Sellers(market, listing.id, other, theirs.id)


def ran(
    listing_id: uuid.UUID,
    buyer: Actor,
    *,
    at: datetime,
    price: int,
    status: ExecutionStatus = ExecutionStatus.SUCCEEDED,
) -> None:
    """A finished run of a service listing in the buyer's organization."""
    with session_scope() as session:
        session.add(
            Execution(
                org_id=buyer.org_id,
                status=status,
                service_listing_id=listing_id,
                service_price_cents=price,
                finished_at=at,
            )
        )


def onboarded(stripe, actor: Actor) -> str:
    """The seller onboards at Stripe and its account can receive payouts."""
    with session_scope() as session:
        connect.start_onboarding(session, actor)
        account_id = session.get(SellerAccount, actor.org_id).stripe_account_id
    stripe.enable_charges(account_id)
    with session_scope() as session:
        connect.refresh_seller(session, actor)
    return account_id


def key_of(actor: Actor) -> dict[str, str]:
    with session_scope() as session:
        made = api_keys.create_key(
            session, actor, name="ci", role="admin", scopes=["read", "run", "write", "admin"]
        )
        return {"Authorization": f"Bearer {made.secret}"}


class TestRevenue:
    def test_billed_runs_times_their_price_minus_the_fee_rounded_half_up(self, sellers, client):
        m = sellers.market
        for _ in range(3):
            ran(sellers.listing_id, m.buyer, at=LAST_MONTH, price=25)
        ran(sellers.listing_id, m.buyer, at=LAST_MONTH, price=40)  # started after a price change
        ran(sellers.listing_id, m.buyer, at=LAST_MONTH, price=25, status=ExecutionStatus.FAILED)
        ran(sellers.listing_id, m.buyer, at=NOW, price=25)
        ran(sellers.other_listing_id, m.buyer, at=LAST_MONTH, price=100)  # the other seller's
        with session_scope() as session:
            mine = earnings.earnings(session, m.seller)
        # last month: 3 × 25 + 40 = 115, fee 10 % = 11.5 → 12 (half up), net 103
        [now_month, last] = mine.service_months
        assert (last.month, last.runs, last.gross_cents) == (LAST_MONTH.strftime("%Y-%m"), 4, 115)
        assert (last.fee_cents, last.net_cents, last.paid_cents) == (12, 103, 0)
        assert (now_month.runs, now_month.gross_cents, now_month.fee_cents) == (1, 25, 3)
        assert (mine.service_runs, mine.service_gross_cents, mine.service_net_cents) == (
            5,
            140,
            125,
        )
        answer = client.get("/api/v1/billing/earnings", headers=key_of(m.seller))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["service_runs"], body["service_net_cents"]) == (5, 125)
        assert body["service_months"][1]["fee_cents"] == 12
        assert body["gross_cents"] == 0  # template sales are counted apart


class TestMonthlyPayout:
    def test_each_seller_is_paid_its_ended_month_once(self, stripe, sellers, client):
        m = sellers.market
        first = onboarded(stripe, m.seller)
        second = onboarded(stripe, sellers.other)
        for _ in range(4):
            ran(sellers.listing_id, m.buyer, at=LAST_MONTH, price=25)
        ran(sellers.listing_id, m.buyer, at=NOW, price=25)  # this month: not yet
        ran(sellers.other_listing_id, m.buyer, at=LAST_MONTH, price=100)

        assert billing_jobs.pay_service_earnings() == 2
        month = LAST_MONTH.strftime("%Y-%m")
        by_account = {t["destination"]: t for t in stripe.transfers.values()}
        assert by_account[first]["amount"] == 90  # 100 - 10
        assert by_account[second]["amount"] == 90
        assert {t["currency"] for t in by_account.values()} == {"usd"}
        keys = {p.headers["idempotency-key"] for p in stripe.seen("/v1/transfers")}
        assert keys == {
            f"service-payout-{m.seller.org_id}-{month}",
            f"service-payout-{sellers.other.org_id}-{month}",
        }

        assert billing_jobs.pay_service_earnings() == 0  # a second run pays nothing more
        assert len(stripe.transfers) == 2
        assert len(stripe.seen("/v1/transfers")) == 2
        with session_scope() as session:
            rows = session.exec(select(ServicePayout)).all()
            assert sorted((r.org_id, r.month, r.amount_cents) for r in rows) == sorted(
                [(m.seller.org_id, month, 90), (sellers.other.org_id, month, 90)]
            )
            mine = earnings.earnings(session, m.seller)
        assert mine.service_paid_cents == 90 and mine.service_net_cents == 90 + 22
        answer = client.get("/api/v1/billing/earnings", headers=key_of(m.seller))
        assert answer.json()["service_paid_cents"] == 90

    def test_a_transfer_whose_commit_was_lost_is_the_same_transfer_again(self, stripe, sellers):
        m = sellers.market
        onboarded(stripe, m.seller)
        ran(sellers.listing_id, m.buyer, at=LAST_MONTH, price=25)
        month = LAST_MONTH.strftime("%Y-%m")
        with pytest.raises(RuntimeError), session_scope() as session:
            assert service_payouts.pay_month(session, m.seller.org_id, month) is not None
            raise RuntimeError("the job's commit fails")
        assert billing_jobs.pay_service_earnings() == 1
        assert len(stripe.transfers) == 1  # Stripe answered the first transfer again
        with session_scope() as session:
            [row] = session.exec(select(ServicePayout)).all()
        assert row.stripe_transfer_id == next(iter(stripe.transfers))

    def test_a_seller_that_cannot_receive_payouts_is_skipped_and_paid_later(self, stripe, sellers):
        m = sellers.market
        with session_scope() as session:
            connect.start_onboarding(session, m.seller)  # onboarding not finished
            account_id = session.get(SellerAccount, m.seller.org_id).stripe_account_id
        ran(sellers.listing_id, m.buyer, at=LAST_MONTH, price=25)

        assert billing_jobs.pay_service_earnings() == 0
        assert stripe.transfers == {}
        stripe.enable_charges(account_id)
        with session_scope() as session:
            connect.refresh_seller(session, m.seller)
        assert billing_jobs.pay_service_earnings() == 1
        [transfer] = stripe.transfers.values()
        assert (transfer["destination"], transfer["amount"]) == (account_id, 22)  # 25 - 3

    def test_nothing_is_paid_without_stripe(self, sellers, monkeypatch):
        m = sellers.market
        onboarded_without_stripe = SellerAccount(
            org_id=m.seller.org_id, stripe_account_id="acct_x", payouts_enabled=True
        )
        with session_scope() as session:
            session.add(onboarded_without_stripe)
        ran(sellers.listing_id, m.buyer, at=LAST_MONTH, price=25)
        monkeypatch.delenv("STRIPE_SECRET_KEY")
        get_settings.cache_clear()
        assert billing_jobs.pay_service_earnings() == 0

    def test_the_job_is_registered_with_the_periodic_jobs_once(self):
        scheduler = Scheduler(connection=get_redis(), queue_name="default")
        worker.schedule_periodic_jobs(scheduler)
        worker.schedule_periodic_jobs(scheduler)
        jobs = [job for job in scheduler.get_jobs() if job.id == worker.SERVICE_PAYOUTS_JOB]
        assert len(jobs) == 1
        assert jobs[0].meta.get("interval") == worker.SERVICE_PAYOUTS_EVERY_SECONDS


class TestIsolation:
    def test_another_org_cannot_read_a_sellers_payout_or_its_earnings(
        self, stripe, sellers, client
    ):
        m = sellers.market
        onboarded(stripe, m.seller)
        ran(sellers.listing_id, m.buyer, at=LAST_MONTH, price=25)
        billing_jobs.pay_service_earnings()
        with session_scope() as session:
            [row] = session.exec(select(ServicePayout)).all()
        own = client.get(f"/api/v1/billing/service-payouts/{row.id}", headers=key_of(m.seller))
        assert own.status_code == 200 and own.json()["amount_cents"] == 22
        theirs = client.get(f"/api/v1/billing/service-payouts/{row.id}", headers=key_of(m.buyer))
        assert theirs.status_code == 404
        other = client.get(
            f"/api/v1/billing/service-payouts/{row.id}", headers=key_of(sellers.other)
        )
        assert other.status_code == 404
        buyer_view = client.get("/api/v1/billing/earnings", headers=key_of(m.buyer)).json()
        assert (buyer_view["service_runs"], buyer_view["service_months"]) == (0, [])
