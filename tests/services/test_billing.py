"""Money (issue 15 §5): Connect onboarding, buying through Checkout, fulfilment on the webhook,
refunds, plans and earnings — against localstripe and the Stripe fake over real HTTP, with
webhooks signed by Stripe's real scheme and processed by the real RQ queue."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import delete, select

from agent_platform import billing_jobs
from agent_platform.api import create_api
from agent_platform.db import session_scope
from agent_platform.models import (
    Agent,
    AuditEntry,
    EventStatus,
    Execution,
    ExecutionStatus,
    MarketplaceInstall,
    Organization,
    Purchase,
    PurchaseStatus,
    SellerAccount,
    SellerPayout,
    StripeEvent,
    Tier,
)
from agent_platform.models.base import utcnow
from agent_platform.settings import get_settings
from services import agents, api_keys
from services.billing import connect, earnings, usage
from services.errors import Forbidden, NotFound
from services.marketplace import installs, listings, reviews, search
from tests.factories import make_user, personal_actor
from tests.fakes.stripe_server import event
from tests.services.billing_helpers import SECRET_KEY, deliver, post_event, run_jobs
from tests.services.marketplace_helpers import live_listing, make_market

PRICE = 1500


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


def key_of(actor, role: str = "admin") -> dict[str, str]:
    scopes = ["read", "run", "write", "admin"] if role == "admin" else None
    with session_scope() as session:
        created = api_keys.create_key(session, actor, name="ci", role=role, scopes=scopes)
        return {"Authorization": f"Bearer {created.secret}"}


@pytest.fixture
def market():
    with session_scope() as session:
        made = make_market(session)
        listing = live_listing(session, made, {"price_cents": PRICE})
    made.listing_id = listing.id
    return made


def seller_onboarded(stripe, market) -> str:
    """The seller onboards and finishes at Stripe; `account.updated` tells us."""
    with session_scope() as session:
        connect.start_onboarding(session, market.seller)
    account_id = next(iter(stripe.accounts))
    stripe.enable_charges(account_id)
    return account_id


def bought(client: TestClient, stripe, market, buyer_key) -> tuple[str, dict]:
    answer = client.post(f"/api/v1/marketplace/listings/{market.listing_id}/buy", headers=buyer_key)
    assert answer.status_code == 201, answer.text
    purchase = answer.json()
    checkout_id = next(iter(stripe.sessions))
    return purchase["id"], stripe.pay(checkout_id)


class TestWithoutStripe:
    def test_paid_listings_are_hidden_and_free_ones_install(self, market):
        with session_scope() as session:
            with pytest.raises(NotFound):
                listings.get_listing(session, market.buyer, market.listing_id)
            assert search.browse(session, {}).total == 0
            assert [x.id for x in listings.my_listings(session, market.seller)] == [
                market.listing_id
            ]
            listings.update_listing(session, market.seller, market.listing_id, {"price_cents": 0})
        with session_scope() as session:
            assert search.browse(session, {}).total == 1
            installs.install_listing(session, market.buyer, market.listing_id)

    def test_seller_state_says_payments_are_off(self, market):
        with session_scope() as session:
            state = connect.seller_state(session, market.seller)
        assert not state.configured and "Payments are off" in state.message


class TestOnboarding:
    def test_paid_listing_goes_live_only_when_the_account_takes_charges(
        self, stripe, market, client
    ):
        with session_scope() as session:
            url = connect.start_onboarding(session, market.seller)
            assert url.startswith("https://connect.stripe.com/")
        with session_scope() as session:
            connect.start_onboarding(session, market.seller)  # again: the same account
        created = stripe.seen("/v1/accounts")
        assert len(stripe.accounts) == 1 and len(created) == 1
        assert created[0].headers["idempotency-key"] == f"connect-account-{market.seller.org_id}"
        assert created[0].params["controller"]["stripe_dashboard"]["type"] == "express"
        account_id = next(iter(stripe.accounts))
        with session_scope() as session:
            state = connect.seller_state(session, market.seller)
            assert state.account_id == account_id and not state.charges_enabled
            assert "finish onboarding" in state.message
            with pytest.raises(NotFound):
                listings.get_listing(session, market.buyer, market.listing_id)

        stale = {**stripe.accounts[account_id]}  # what the event carried: not enabled yet
        stripe.enable_charges(account_id)
        deliver(client, "account.updated", stale)
        run_jobs()
        with session_scope() as session:
            assert session.get(SellerAccount, market.seller.org_id).charges_enabled
            assert listings.get_listing(session, market.buyer, market.listing_id)
            assert search.browse(session, {"price": "paid"}).total == 1


class TestPurchase:
    def test_checkout_then_webhook_grants_licence_and_installs(self, stripe, market, client):
        account_id = seller_onboarded(stripe, market)
        with session_scope() as session:
            connect.refresh_seller(session, market.seller)
        buyer_key = key_of(market.buyer, "builder")
        refused = client.post(
            f"/api/v1/marketplace/listings/{market.listing_id}/install", headers=buyer_key
        )
        assert refused.status_code == 403 and "buy it first" in refused.json()["detail"]

        purchase_id, paid = bought(client, stripe, market, buyer_key)
        [made] = stripe.seen("/v1/checkout/sessions")
        assert made.headers["idempotency-key"] == f"checkout-{purchase_id}"
        intent = made.params["payment_intent_data"]
        assert intent["application_fee_amount"] == "150"  # MARKETPLACE_FEE_PERCENT 10
        assert intent["transfer_data"]["destination"] == account_id
        assert made.params["line_items"][0]["price_data"]["unit_amount"] == str(PRICE)
        again = client.post(
            f"/api/v1/marketplace/listings/{market.listing_id}/buy", headers=buyer_key
        )
        assert again.json()["id"] == purchase_id  # the open session is reused
        with session_scope() as session:  # back from Checkout: nothing owned yet
            assert session.get(Purchase, uuid.UUID(purchase_id)).status == PurchaseStatus.PENDING

        deliver(client, "checkout.session.completed", paid)
        run_jobs()
        with session_scope() as session:
            purchase = session.get(Purchase, uuid.UUID(purchase_id))
            assert purchase.status == PurchaseStatus.PAID
            assert purchase.payment_intent_id == paid["payment_intent"]
            install = session.exec(
                select(MarketplaceInstall).where(MarketplaceInstall.org_id == market.buyer.org_id)
            ).one()
            assert install.agent_id is not None
            sold = earnings.earnings(session, market.seller)
            assert (sold.gross_cents, sold.fees_cents, sold.net_cents) == (1500, 150, 1350)
            assert earnings.earnings(session, market.buyer).sales == []
        status = client.get(f"/api/v1/billing/purchases/{purchase_id}", headers=buyer_key)
        assert status.json()["status"] == "paid" and status.json()["checkout_url"] is None

    def test_replayed_event_is_processed_once(self, stripe, market, client):
        seller_onboarded(stripe, market)
        with session_scope() as session:
            connect.refresh_seller(session, market.seller)
        _, paid = bought(client, stripe, market, key_of(market.buyer, "builder"))
        body = event("checkout.session.completed", paid)
        assert post_event(client, body).json()["duplicate"] is False
        assert post_event(client, body).json()["duplicate"] is True
        run_jobs()
        assert post_event(client, body).json()["duplicate"] is True
        run_jobs()
        with session_scope() as session:
            assert len(session.exec(select(StripeEvent)).all()) == 1
            assert len(session.exec(select(MarketplaceInstall)).all()) == 1
            paid_entries = session.exec(
                select(AuditEntry).where(AuditEntry.action == "billing.purchase_paid")
            ).all()
            assert len(paid_entries) == 1

    def test_refund_revokes_the_licence(self, stripe, market, client):
        seller_onboarded(stripe, market)
        with session_scope() as session:
            connect.refresh_seller(session, market.seller)
        purchase_id, paid = bought(client, stripe, market, key_of(market.buyer, "builder"))
        deliver(client, "checkout.session.completed", paid)
        run_jobs()
        charge = {
            "id": "ch_1",
            "object": "charge",
            "payment_intent": paid["payment_intent"],
            "amount": PRICE,
            "amount_refunded": PRICE,
            "refunded": True,
        }
        deliver(client, "charge.refunded", charge)
        run_jobs()
        with session_scope() as session:
            purchase = session.get(Purchase, uuid.UUID(purchase_id))
            assert purchase.status == PurchaseStatus.REFUNDED
        with session_scope() as session, pytest.raises(Forbidden, match="bought"):
            reviews.review_listing(session, market.buyer, market.listing_id, {"rating": 5})
        with session_scope() as session:
            install = session.exec(select(MarketplaceInstall)).one()
            session.delete(install)
        with session_scope() as session, pytest.raises(Forbidden, match="refunded"):
            installs.install_listing(session, market.buyer, market.listing_id)
        with session_scope() as session:
            assert earnings.earnings(session, market.seller).net_cents == 0


class TestBuyerKeepsWhatItBought:
    def test_buyer_still_reads_reinstalls_and_updates_when_the_seller_stops_taking_charges(
        self, stripe, market, client, monkeypatch
    ):
        account_id = seller_onboarded(stripe, market)
        with session_scope() as session:
            connect.refresh_seller(session, market.seller)
            other = personal_actor(session, make_user(session, email="other@example.com"))
        _, paid = bought(client, stripe, market, key_of(market.buyer, "builder"))
        deliver(client, "checkout.session.completed", paid)
        run_jobs()
        stripe.accounts[account_id]["charges_enabled"] = False  # Stripe paused the seller
        deliver(client, "account.updated", dict(stripe.accounts[account_id]))
        run_jobs()
        with session_scope() as session:
            assert not session.get(SellerAccount, market.seller.org_id).charges_enabled
            with pytest.raises(NotFound):
                listings.get_listing(session, other, market.listing_id)
            assert listings.get_listing(session, market.buyer, market.listing_id)
            first = session.exec(select(MarketplaceInstall)).one()
            agents.delete_agent(session, market.buyer, first.agent_id)
        with session_scope() as session:
            installs.install_listing(session, market.buyer, market.listing_id)
            config = {**session.get(Agent, market.agent_id).config, "instructions": "v2"}
            agents.update_agent(session, market.seller, market.agent_id, config=config)
            listings.add_version(session, market.seller, market.listing_id, changelog="Faster.")
        monkeypatch.delenv("STRIPE_SECRET_KEY")  # the operator turns payments off
        get_settings.cache_clear()
        with session_scope() as session:
            install = session.exec(select(MarketplaceInstall)).one()
            assert installs.update_available(session, install) == 2
            assert installs.update_install(session, market.buyer, install.id).install.version == 2
            with pytest.raises(NotFound):
                listings.get_listing(session, other, market.listing_id)

    def test_deleting_the_sellers_org_keeps_the_buyers_purchase(self, stripe, market, client):
        seller_onboarded(stripe, market)
        with session_scope() as session:
            connect.refresh_seller(session, market.seller)
        buyer_key = key_of(market.buyer, "builder")
        purchase_id, paid = bought(client, stripe, market, buyer_key)
        deliver(client, "checkout.session.completed", paid)
        run_jobs()
        with session_scope() as session:
            session.exec(delete(Organization).where(Organization.id == market.seller.org_id))
        with session_scope() as session:
            purchase = session.get(Purchase, uuid.UUID(purchase_id))
            assert purchase.status == PurchaseStatus.PAID and purchase.amount_cents == PRICE
            assert purchase.listing_id is None and purchase.seller_org_id is None
        kept = client.get(f"/api/v1/billing/purchases/{purchase_id}", headers=buyer_key)
        assert kept.json()["status"] == "paid" and kept.json()["listing_id"] is None


class TestWebhookSafety:
    def test_forged_or_stale_signatures_are_refused_and_nothing_is_stored(self, stripe, client):
        body = event("account.updated", {"id": "acct_x", "object": "account"})
        forged = post_event(client, body, secret="whsec_not_ours")
        assert forged.status_code == 400 and "signature" in forged.json()["detail"]
        stale = post_event(client, body, timestamp=int(time.time()) - 301)
        assert stale.status_code == 400
        unsigned = client.post("/api/v1/stripe/webhook", json=body)
        assert unsigned.status_code == 400
        with session_scope() as session:
            assert session.exec(select(StripeEvent)).all() == []

    def test_a_connected_accounts_sale_refund_or_subscription_is_ignored(
        self, stripe, market, client
    ):
        account_id = seller_onboarded(stripe, market)
        with session_scope() as session:
            connect.refresh_seller(session, market.seller)
        purchase_id, paid = bought(client, stripe, market, key_of(market.buyer, "builder"))
        deliver(client, "checkout.session.completed", paid, account=account_id)
        run_jobs()
        with session_scope() as session:
            assert session.get(Purchase, uuid.UUID(purchase_id)).status == PurchaseStatus.PENDING
        deliver(client, "checkout.session.completed", paid)  # the platform's own: fulfilled
        run_jobs()
        refund = {"id": "ch_9", "payment_intent": paid["payment_intent"], "refunded": True}
        deliver(client, "charge.refunded", refund, account=account_id)
        sub = subscription("cus_x", market.buyer.org_id, price="price_team_monthly")
        deliver(client, "customer.subscription.updated", sub, account=account_id)
        run_jobs()
        with session_scope() as session:
            assert session.get(Purchase, uuid.UUID(purchase_id)).status == PurchaseStatus.PAID
            assert session.get(Organization, market.buyer.org_id).tier != Tier.TEAM
            ignored = session.exec(
                select(StripeEvent).where(StripeEvent.account == account_id)
            ).all()
            assert {e.status for e in ignored} == {EventStatus.IGNORED} and len(ignored) == 3

    @pytest.mark.parametrize(
        "change", [{"id": "cs_test_someone_elses"}, {"amount_total": 1}], ids=["session", "amount"]
    )
    def test_a_checkout_not_of_the_purchase_grants_nothing(self, stripe, market, client, change):
        seller_onboarded(stripe, market)
        with session_scope() as session:
            connect.refresh_seller(session, market.seller)
        purchase_id, paid = bought(client, stripe, market, key_of(market.buyer, "builder"))
        deliver(client, "checkout.session.completed", {**paid, **change})
        run_jobs()
        with session_scope() as session:
            assert session.get(Purchase, uuid.UUID(purchase_id)).status == PurchaseStatus.PENDING
            assert session.exec(select(StripeEvent)).one().status == EventStatus.IGNORED
            assert session.exec(select(MarketplaceInstall)).all() == []

    def test_refund_before_its_sale_ends_refunded_and_never_installs(self, stripe, market, client):
        seller_onboarded(stripe, market)
        with session_scope() as session:
            connect.refresh_seller(session, market.seller)
        purchase_id, paid = bought(client, stripe, market, key_of(market.buyer, "builder"))
        now = int(time.time())
        refund = {
            "id": "ch_2",
            "object": "charge",
            "payment_intent": paid["payment_intent"],
            "amount_refunded": PRICE,
            "refunded": True,
        }
        deliver(client, "charge.refunded", refund, created=now)
        run_jobs()
        with session_scope() as session:
            [waiting] = session.exec(select(StripeEvent)).all()
            assert waiting.status == EventStatus.DEFERRED
        deliver(client, "checkout.session.completed", paid, created=now - 5)
        run_jobs()
        with session_scope() as session:
            purchase = session.get(Purchase, uuid.UUID(purchase_id))
            assert purchase.status == PurchaseStatus.REFUNDED
            assert session.exec(select(MarketplaceInstall)).all() == []
            assert {e.status for e in session.exec(select(StripeEvent)).all()} == {
                EventStatus.PROCESSED
            }


def subscription(customer: str, org_id, *, price: str, status: str = "active") -> dict:
    return {
        "id": "sub_1",
        "object": "subscription",
        "customer": customer,
        "status": status,
        "metadata": {"org_id": str(org_id)},
        "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": price}}]},
    }


class TestPlans:
    def test_subscription_events_out_of_order_end_in_the_newest_state(self, stripe, market, client):
        admin_key = key_of(market.buyer)
        started = client.post("/api/v1/billing/checkout", json={"tier": "team"}, headers=admin_key)
        assert started.status_code == 200, started.text
        [made] = stripe.seen("/v1/checkout/sessions")
        assert made.params["mode"] == "subscription"
        assert made.params["line_items"][0]["price"] == "price_team_monthly"
        customer = made.params["customer"]
        assert customer.startswith("cus_")  # made by localstripe
        portal = client.post("/api/v1/billing/portal", headers=admin_key)
        assert portal.json()["url"].startswith("https://billing.stripe.com/")

        now = int(time.time())
        org = market.buyer.org_id
        deliver(
            client,
            "customer.subscription.updated",
            subscription(customer, org, price="price_team_monthly"),
            created=now,
        )
        deliver(
            client,
            "customer.subscription.created",
            subscription(customer, org, price="price_pro_monthly", status="incomplete"),
            created=now - 10,
        )
        run_jobs()
        with session_scope() as session:
            assert session.get(Organization, org).tier == Tier.TEAM
        deliver(
            client,
            "customer.subscription.deleted",
            subscription(customer, org, price="price_team_monthly", status="canceled"),
            created=now + 5,
        )
        deliver(
            client,
            "customer.subscription.updated",
            subscription(customer, org, price="price_team_monthly"),
            created=now + 5,
        )
        run_jobs()
        with session_scope() as session:
            assert session.get(Organization, org).tier == Tier.STARTER
        overview = client.get("/api/v1/billing", headers=admin_key).json()
        assert overview["tier"] == "starter" and overview["status"] == "canceled"


class TestEarnings:
    def test_payouts_of_the_sellers_account_only(self, stripe, market, client):
        account_id = seller_onboarded(stripe, market)
        now = int(time.time())
        payout = {"id": "po_1", "object": "payout", "amount": 900, "currency": "usd"}
        deliver(
            client, "payout.paid", {**payout, "status": "paid"}, created=now, account=account_id
        )
        deliver(
            client,
            "payout.created",
            {**payout, "status": "pending"},
            created=now - 60,
            account=account_id,
        )
        deliver(client, "payout.paid", {**payout, "id": "po_2"}, account="acct_someone_else")
        run_jobs()
        with session_scope() as session:
            assert [(p.id, p.status) for p in session.exec(select(SellerPayout)).all()] == [
                ("po_1", "paid")
            ]
        seller_view = client.get("/api/v1/billing/earnings", headers=key_of(market.seller))
        assert seller_view.json()["paid_out_cents"] == 900
        buyer_view = client.get("/api/v1/billing/earnings", headers=key_of(market.buyer))
        assert buyer_view.json()["payouts"] == []

    def test_another_orgs_purchase_is_not_found(self, stripe, market, client):
        seller_onboarded(stripe, market)
        with session_scope() as session:
            connect.refresh_seller(session, market.seller)
        purchase_id, _ = bought(client, stripe, market, key_of(market.buyer, "builder"))
        answer = client.get(
            f"/api/v1/billing/purchases/{purchase_id}", headers=key_of(market.seller)
        )
        assert answer.status_code == 404


class TestMeteredUsage:
    def test_a_billed_run_is_one_meter_event_however_often_it_is_reported(
        self, stripe, market, client
    ):
        started = client.post(
            "/api/v1/billing/checkout", json={"tier": "pro"}, headers=key_of(market.buyer)
        )
        assert started.status_code == 200, started.text  # the org's Stripe customer exists now
        with session_scope() as session:
            run = Execution(
                org_id=market.buyer.org_id,
                status=ExecutionStatus.SUCCEEDED,
                service_listing_id=market.listing_id,
                service_price_cents=37,  # the listing's price when the run started
            )
            session.add(run)
            session.flush()
            usage.bill_service_run(session, run.id)
            usage.bill_service_run(session, run.id)  # asked twice: one job (its id is the run's)
        run_jobs()
        with session_scope() as session:  # a retry of the job: Stripe answers the first again
            assert usage.report_service_run(session, run.id) == f"run-{run.id}"
        assert list(stripe.meter_events) == [f"run-{run.id}"]
        [sent] = stripe.meter_events.values()
        assert sent["event_name"] == "marketplace_service_run"
        assert sent["payload"]["value"] == "37"  # cents: the metered price is $0.01 a unit
        assert sent["payload"]["stripe_customer_id"].startswith("cus_")
        posts = stripe.seen("/v1/billing/meter_events")
        assert {p.headers["idempotency-key"] for p in posts} == {f"meter-{run.id}"}

    def test_a_rolled_back_run_is_never_billed(self, stripe, market):
        with pytest.raises(RuntimeError), session_scope() as session:
            run = Execution(org_id=market.buyer.org_id)
            session.add(run)
            session.flush()
            usage.bill_service_run(session, run.id)
            raise RuntimeError("the run's transaction fails")
        run_jobs()
        assert stripe.meter_events == {}


class TestRetries:
    def test_an_event_whose_job_failed_is_queued_again_and_finishes(self, stripe, market, client):
        account_id = seller_onboarded(stripe, market)
        stale = {**stripe.accounts[account_id], "charges_enabled": False}
        real_base = stripe.base_url
        with session_scope() as session:
            seller = session.get(SellerAccount, market.seller.org_id)
        assert seller is not None
        # Stripe unreachable while the job runs: the event is kept FAILED with the reason
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")
            get_settings.cache_clear()
            deliver(client, "account.updated", stale)
            run_jobs()
            get_settings.cache_clear()
        assert real_base == get_settings().stripe_api_base
        with session_scope() as session:
            [failed] = session.exec(select(StripeEvent)).all()
            assert failed.status == EventStatus.FAILED and "Stripe" in failed.error
            assert SECRET_KEY not in failed.error
            failed.received_at = failed.received_at - timedelta(minutes=5)
            session.add(failed)
        assert billing_jobs.requeue_stripe_events() == 1
        run_jobs()
        with session_scope() as session:
            assert session.exec(select(StripeEvent)).one().status == EventStatus.PROCESSED
            assert session.get(SellerAccount, market.seller.org_id).charges_enabled

    def test_a_refund_deferred_while_its_sale_was_processed_is_picked_up(
        self, stripe, market, client
    ):
        seller_onboarded(stripe, market)
        with session_scope() as session:
            connect.refresh_seller(session, market.seller)
        purchase_id, paid = bought(client, stripe, market, key_of(market.buyer, "builder"))
        deliver(client, "checkout.session.completed", paid)
        run_jobs()
        refund = {"id": "ch_3", "payment_intent": paid["payment_intent"], "refunded": True}
        body = event("charge.refunded", refund)
        with session_scope() as session:  # what a refund job racing the sale's job left behind
            session.add(
                StripeEvent(
                    id=body["id"],
                    type=body["type"],
                    stripe_created=body["created"],
                    payload=body,
                    status=EventStatus.DEFERRED,
                    waiting_for=paid["payment_intent"],
                    received_at=utcnow() - timedelta(minutes=5),
                )
            )
        assert billing_jobs.requeue_stripe_events() == 1
        run_jobs()
        with session_scope() as session:
            assert session.get(Purchase, uuid.UUID(purchase_id)).status == PurchaseStatus.REFUNDED
            assert session.get(StripeEvent, body["id"]).status == EventStatus.PROCESSED
        assert billing_jobs.requeue_stripe_events() == 0
