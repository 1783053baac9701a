"""The Billing page's state and the listing page's Buy: free without Stripe; with Stripe (the
fake in front of localstripe) onboarding and Checkout answer Stripe's URLs to go to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from agent_platform.models import Execution, ExecutionStatus, User
from pages.billing import billing_page
from services.access import Actor
from services.billing import connect
from state.billing import BillingState
from state.marketplace_listing import ListingState
from tests.factories import make_user
from tests.services.billing_helpers import (  # noqa: F401 - fixtures
    localstripe,
    stripe,
    stripe_server,
)
from tests.services.marketplace_helpers import live_listing, make_market
from tests.state.helpers import signed_in


def test_without_stripe_everything_is_free(session: Session) -> None:
    user = make_user(session)
    page = signed_in(session, BillingState, user)
    page.load()
    assert (page.loading, page.error, page.configured) == (False, "", False)
    assert "Payments are off" in page.seller_message
    assert page.figures["gross"] == "$0.00" and page.sales == []
    assert page.figures["service_net"] == "$0.00" and page.service_months == []
    assert billing_page() is not None


def test_onboarding_and_buying_go_to_stripe(session: Session, stripe) -> None:  # noqa: F811
    market = make_market(session)
    listing = live_listing(session, market, {"price_cents": 2500})
    session.commit()
    seller = signed_in(session, BillingState, _user_of(session, market.seller))
    seller.load()
    assert seller.configured and seller.is_admin and not seller.seller_connected
    own = signed_in(session, ListingState, _user_of(session, market.seller))
    own._load_identity()
    own.listing_id = str(listing.id)
    own._fill()
    assert "until your Stripe account takes payments" in own.sale_note
    go = seller.onboard()
    assert go is not None and "connect.stripe.com" in str(go)
    account_id = next(iter(stripe.accounts))
    stripe.enable_charges(account_id)
    seller.check_seller()
    assert seller.seller_charges and seller.error == ""
    own._fill()
    assert own.sale_note == ""

    buyer = signed_in(session, ListingState, _user_of(session, market.buyer))
    buyer._load_identity()
    buyer.listing_id = str(listing.id)
    buyer._fill()
    assert buyer.found and buyer.listing["paid"] == "yes" and not buyer.licensed
    go = buyer.buy()
    assert "checkout.stripe.com" in str(go)
    assert connect.can_take_charges(session, market.seller.org_id)


def _user_of(session: Session, actor: Actor) -> User:
    user = session.get(User, actor.user_id)
    assert user is not None
    return user


def test_service_run_earnings_are_shown_by_month(session: Session, stripe) -> None:  # noqa: F811
    market = make_market(session)
    listing = live_listing(session, market, {"kind": "service", "price_cents": 25})
    last_month = datetime.now(UTC).replace(day=1) - timedelta(days=1)
    for _ in range(2):
        session.add(
            Execution(
                org_id=market.buyer.org_id,
                status=ExecutionStatus.SUCCEEDED,
                service_listing_id=listing.id,
                service_price_cents=25,
                finished_at=last_month,
            )
        )
    session.commit()
    seller = signed_in(session, BillingState, _user_of(session, market.seller))
    seller.load()
    assert seller.figures["service_net"] == "$0.45"  # 50 - 5 (10 %)
    assert seller.service_months == [
        {
            "month": last_month.strftime("%Y-%m"),
            "runs": "2",
            "gross": "$0.50",
            "fee": "$0.05",
            "net": "$0.45",
            "paid": "not yet",
        }
    ]
    buyer = signed_in(session, BillingState, _user_of(session, market.buyer))
    buyer.load()
    assert buyer.service_months == [] and buyer.figures["service_net"] == "$0.00"
