"""Marketplace listings, moderation, installs and reviews, on the real database."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import select

from agent_platform.models import (
    Agent,
    AgentStatus,
    Integration,
    ListingStatus,
    MarketplaceInstall,
    MarketplaceListing,
    ReportStatus,
)
from services import agent_publishing, agents
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.marketplace import details, installs, listings, moderation, reviews
from tests.factories import add_member, audit_entries, make_user, personal_actor
from tests.services.marketplace_helpers import (
    LISTING_FORM,
    give_provider,
    live_listing,
    make_market,
    published_agent,
)


@pytest.fixture
def market(session):
    return make_market(session)


class TestPublish:
    def test_first_listing_waits_for_the_admin_and_is_hidden_until_approved(self, session, market):
        listing = listings.publish_listing(session, market.seller, market.agent_id, LISTING_FORM)
        assert listing.status == ListingStatus.PENDING
        assert listings.get_listing(session, market.seller, listing.id).id == listing.id
        with pytest.raises(NotFound):
            listings.get_listing(session, market.buyer, listing.id)
        with pytest.raises(NotFound):
            listings.get_listing(session, None, listing.id)
        [pending] = moderation.pending_listings(session, market.admin.id)
        assert pending.id == listing.id
        moderation.approve_listing(session, market.admin.id, listing.id)
        assert listings.get_listing(session, None, listing.id).status == ListingStatus.LIVE
        assert audit_entries(session, "marketplace.listing_approved")

    def test_after_one_approval_the_sellers_next_listing_is_live_at_once(self, session, market):
        live_listing(session, market)
        other = published_agent(session, market.seller, name="Second")
        second = listings.publish_listing(
            session, market.seller, other, {**LISTING_FORM, "title": "Second"}
        )
        assert second.status == ListingStatus.LIVE

    def test_only_the_instance_admin_moderates(self, session, market):
        listing = listings.publish_listing(session, market.seller, market.agent_id, LISTING_FORM)
        with pytest.raises(Forbidden):
            moderation.approve_listing(session, market.seller.user_id, listing.id)
        with pytest.raises(Forbidden):
            moderation.pending_listings(session, market.buyer.user_id)

    def test_listing_keeps_the_version_and_what_it_needs(self, session, market):
        listing = listings.publish_listing(session, market.seller, market.agent_id, LISTING_FORM)
        [version] = listings.list_versions(session, market.seller, listing.id)
        assert version.version == 1 and version.agent_version_number == 1
        assert version.required_integrations == [
            {"provider": "github", "action": "github.create_issue"}
        ]
        assert version.required_models == ["openai/gpt-4o-mini"]
        assert listing.tags == ["github", "triage"]

    def test_description_markdown_is_rendered_and_sanitised(self, session, market):
        form = {**LISTING_FORM, "description": "**bold** [x](javascript:alert(1)) <b onclick=x>"}
        listing = listings.publish_listing(session, market.seller, market.agent_id, form)
        assert "<strong>bold</strong>" in listing.description_html
        assert "href" not in listing.description_html  # the javascript: link is not a link
        assert "<b onclick" not in listing.description_html
        assert "&lt;b onclick=x&gt;" in listing.description_html  # typed HTML is shown as text

    def test_a_draft_agent_cannot_be_listed(self, session, market):
        draft = agents.create_agent(session, market.seller, name="Draft")
        with pytest.raises(Invalid, match="Publish “Draft” first"):
            listings.publish_listing(session, market.seller, draft.id, LISTING_FORM)

    def test_an_agent_is_listed_once(self, session, market):
        listings.publish_listing(session, market.seller, market.agent_id, LISTING_FORM)
        with pytest.raises(Conflict, match="listed already"):
            listings.publish_listing(session, market.seller, market.agent_id, LISTING_FORM)

    def test_bad_form_is_refused_in_words(self, session, market):
        with pytest.raises(Invalid) as exc:
            listings.publish_listing(
                session,
                market.seller,
                market.agent_id,
                {**LISTING_FORM, "title": "", "category": "nope", "price_cents": -1},
            )
        assert set(exc.value.fields) >= {"title", "category", "price_cents"}
        assert session.exec(select(MarketplaceListing)).all() == []

    def test_new_version_needs_a_changelog_and_a_new_agent_version(self, session, market):
        listing = live_listing(session, market)
        with pytest.raises(Invalid, match="changelog"):
            listings.add_version(session, market.seller, listing.id, changelog=" ")
        with pytest.raises(Conflict, match="already listed"):
            listings.add_version(session, market.seller, listing.id, changelog="Nothing")
        agents.update_agent(
            session,
            market.seller,
            market.agent_id,
            config={**session.get(Agent, market.agent_id).config, "instructions": "Sort faster."},
        )
        row = listings.add_version(session, market.seller, listing.id, changelog="Faster.")
        assert row.version == 2 and listing.latest_version == 2
        assert [v.changelog for v in listings.list_versions(session, None, listing.id)] == [
            "Faster.",
            "First version.",
        ]

    def test_others_cannot_edit_a_listing(self, session, market):
        listing = live_listing(session, market)
        with pytest.raises(NotFound):
            listings.update_listing(session, market.buyer, listing.id, {"title": "Mine"})
        with pytest.raises(NotFound):
            listings.add_version(session, market.buyer, listing.id, changelog="x")

    def test_take_down_hides_the_listing_and_tells_the_seller_why(self, session, market):
        listing = live_listing(session, market)
        moderation.take_down_listing(session, market.admin.id, listing.id, "Spam")
        with pytest.raises(NotFound):
            listings.get_listing(session, market.buyer, listing.id)
        assert listings.get_own_listing(session, market.seller, listing.id).moderation_note == (
            "Spam"
        )


class TestInstall:
    def test_install_copies_the_version_with_placeholders_for_what_the_buyer_lacks(
        self, session, market
    ):
        listing = live_listing(session, market)
        copy = installs.install_listing(session, market.buyer, listing.id)
        agent = copy.agent
        assert agent.org_id == market.buyer.org_id and agent.status == AgentStatus.DRAFT
        assert agent.config["instructions"] == "Sort the issues."
        [grant] = agent.config["tools"]
        assert grant["settings"]["connection"] == "" and grant["settings"]["provider"] == "github"
        assert any("github connection" in p for p in copy.placeholders)
        assert any("“openai”" in p for p in copy.placeholders)
        problems = agent_publishing.publish_problems(session, market.buyer, agent.id)
        assert any("Choose the connection this action uses." in p for p in problems)
        assert session.get(MarketplaceListing, listing.id).downloads == 1

    def test_downloads_count_once_per_organization(self, session, market):
        listing = live_listing(session, market)
        installs.install_listing(session, market.buyer, listing.id)
        _, colleague = add_member(session, market.buyer.org_id)
        with pytest.raises(Conflict, match="installed this listing already"):
            installs.install_listing(session, colleague, listing.id)
        third = personal_actor(session, make_user(session, email="third@example.com"))
        installs.install_listing(session, third, listing.id)
        session.expire_all()
        assert session.get(MarketplaceListing, listing.id).downloads == 2

    def test_reinstall_after_deleting_the_agent_makes_a_new_copy_without_counting(
        self, session, market
    ):
        listing = live_listing(session, market)
        first = installs.install_listing(session, market.buyer, listing.id)
        agents.delete_agent(session, market.buyer, first.agent.id)
        session.flush()
        session.expire_all()
        again = installs.install_listing(session, market.buyer, listing.id)
        assert again.agent.id != first.agent.id
        assert session.get(MarketplaceListing, listing.id).downloads == 1

    def test_without_stripe_paid_and_service_listings_are_hidden(self, session, market):
        paid = live_listing(session, market, {"price_cents": 1500})
        with pytest.raises(NotFound):
            installs.install_listing(session, market.buyer, paid.id)
        other = published_agent(session, market.seller, name="Svc")
        service = listings.publish_listing(
            session, market.seller, other, {**LISTING_FORM, "kind": "service"}
        )
        with pytest.raises(NotFound):
            installs.install_listing(session, market.buyer, service.id)
        assert session.exec(select(MarketplaceInstall)).all() == []

    def test_the_seller_does_not_install_their_own(self, session, market):
        listing = live_listing(session, market)
        with pytest.raises(Conflict, match="your own listing"):
            installs.install_listing(session, market.seller, listing.id)

    def test_new_version_shows_update_available_and_update_keeps_chosen_connections(
        self, session, market
    ):
        listing = live_listing(session, market)
        copy = installs.install_listing(session, market.buyer, listing.id)
        # the buyer picks a connection of their own for the placeholder
        theirs = Integration(
            org_id=market.buyer.org_id, provider="github", name="Mine", credential_ref="t/x"
        )
        session.add(theirs)
        session.flush()
        config = dict(copy.agent.config)
        config["tools"] = [{**config["tools"][0], "settings": {"connection": str(theirs.id)}}]
        agents.update_agent(session, market.buyer, copy.agent.id, config=config)
        assert details.listing_detail(session, market.buyer, listing.id).update_available is None
        agents.update_agent(
            session,
            market.seller,
            market.agent_id,
            config={**session.get(Agent, market.agent_id).config, "instructions": "v2"},
        )
        listings.add_version(session, market.seller, listing.id, changelog="Better.")
        detail = details.listing_detail(session, market.buyer, listing.id)
        assert detail.update_available == 2
        assert session.get(Agent, copy.agent.id).config["instructions"] == "Sort the issues."
        updated = installs.update_install(session, market.buyer, copy.install.id)
        agent = session.get(Agent, copy.agent.id)
        assert agent.config["instructions"] == "v2"
        assert agent.config["tools"][0]["settings"]["connection"] == str(theirs.id)
        assert updated.install.version == 2
        with pytest.raises(Conflict, match="latest version already"):
            installs.update_install(session, market.buyer, copy.install.id)


class TestReviews:
    def test_only_installers_review_once_and_edit(self, session, market):
        listing = live_listing(session, market)
        with pytest.raises(Forbidden, match="installed"):
            reviews.review_listing(session, market.buyer, listing.id, {"rating": 5})
        installs.install_listing(session, market.buyer, listing.id)
        reviews.review_listing(session, market.buyer, listing.id, {"rating": 5, "body": "Great"})
        reviews.review_listing(session, market.buyer, listing.id, {"rating": 4, "body": "Good"})
        [row] = reviews.list_reviews(session, None, listing.id)
        assert (row.rating, row.body) == (4, "Good")
        listing = session.get(MarketplaceListing, listing.id)
        assert listing.rating_count == 1
        assert listing.rating == pytest.approx((5 * 3.0 + 4) / 6, abs=1e-4)

    def test_nobody_reviews_their_own_listing(self, session, market):
        listing = live_listing(session, market)
        with pytest.raises(Forbidden, match="own listing"):
            reviews.review_listing(session, market.seller, listing.id, {"rating": 5})

    def test_rating_out_of_range_is_refused(self, session, market):
        listing = live_listing(session, market)
        installs.install_listing(session, market.buyer, listing.id)
        with pytest.raises(Invalid):
            reviews.review_listing(session, market.buyer, listing.id, {"rating": 6})

    def test_seller_replies_others_cannot(self, session, market):
        listing = live_listing(session, market)
        installs.install_listing(session, market.buyer, listing.id)
        review = reviews.review_listing(session, market.buyer, listing.id, {"rating": 2})
        with pytest.raises(NotFound):
            reviews.reply_to_review(session, market.buyer, review.id, "me too")
        reviews.reply_to_review(session, market.seller, review.id, "Fixed in v2.")
        [row] = reviews.list_reviews(session, market.buyer, listing.id)
        assert row.reply == "Fixed in v2." and row.mine

    def test_report_goes_to_the_queue_and_hiding_stops_it_counting(self, session, market):
        listing = live_listing(session, market)
        installs.install_listing(session, market.buyer, listing.id)
        review = reviews.review_listing(session, market.buyer, listing.id, {"rating": 1})
        reviews.report(session, market.seller, listing.id, "Abusive", review_id=review.id)
        with pytest.raises(Conflict):
            reviews.report(session, market.seller, listing.id, "Again", review_id=review.id)
        [item] = moderation.open_reports(session, market.admin.id)
        assert item.review_id == review.id and item.reason == "Abusive"
        done = moderation.resolve_report(session, market.admin.id, item.id, "hide_review")
        assert done.status == ReportStatus.RESOLVED
        assert reviews.list_reviews(session, None, listing.id) == []
        assert session.get(MarketplaceListing, listing.id).rating_count == 0
        assert moderation.open_reports(session, market.admin.id) == []


def test_bayesian_average_pulls_few_ratings_towards_the_middle():
    assert reviews.bayesian(0, 0) == 3.0
    assert reviews.bayesian(5, 1) < reviews.bayesian(48 * 5, 50)
    assert reviews.bayesian(5000, 1000) == pytest.approx(5000 / 1000, abs=0.02)


def test_listing_detail_of_an_unknown_id_is_not_found(session, market):
    with pytest.raises(NotFound):
        details.listing_detail(session, None, uuid.uuid4())


def test_buyer_without_the_provider_sees_it_as_a_placeholder_but_one_with_it_does_not(
    session, market
):
    listing = live_listing(session, market)
    give_provider(session, market.buyer)
    copy = installs.install_listing(session, market.buyer, listing.id)
    assert not any("model provider" in p for p in copy.placeholders)


@pytest.mark.parametrize(
    ("typed", "cents"), [("", 0), ("0", 0), ("4.99", 499), ("$1,250", 125000), ("0.005", 1)]
)
def test_a_typed_price_becomes_whole_cents(typed: str, cents: int) -> None:
    assert listings.price_cents_of(typed) == cents


@pytest.mark.parametrize("typed", ["cheap", "-1", "inf", "nan", "1e400", "100000.01"])
def test_a_price_we_cannot_sell_at_is_refused_in_words(typed: str) -> None:
    with pytest.raises(Invalid) as refused:
        listings.price_cents_of(typed)
    assert "A price in dollars from 0 (free) to $100,000.00" in refused.value.message
    assert "price_cents" in refused.value.fields
