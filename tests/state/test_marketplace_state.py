"""The Marketplace pages' state: signed-out browsing, publishing from the dialog (errors in
words), the admin's approve, the listing page's install and review."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from reflex.state import State
from sqlmodel import Session, select

from agent_platform.models import ListingVersion
from services import agents
from services.marketplace import listings
from state.marketplace import MarketplaceState
from state.marketplace_listing import ListingState
from tests.factories import make_user, personal_actor
from tests.services.marketplace_helpers import (
    LISTING_FORM,
    give_provider,
    live_listing,
    make_market,
    published_agent,
)
from tests.state.helpers import signed_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def _visitor(cls):
    root = State(_reflex_internal_init=True)
    return root.get_substate(cls.get_full_name().split(".")[1:])


def test_publish_approve_browse_install_review(session: Session) -> None:
    admin = make_user(session, email="admin@example.com")
    seller_user = make_user(session, email="seller@example.com")
    seller = personal_actor(session, seller_user)
    give_provider(session, seller)
    agent_id = published_agent(session, seller)
    session.commit()

    market = signed_in(session, MarketplaceState, seller_user)
    market.load()
    assert (market.total, market.loading, market.error) == (0, False, "")
    market.open_publish()
    assert [o["id"] for o in market.agent_options] == [str(agent_id)]
    market.set_field("agent_id", str(agent_id))
    market.set_field("price", "a lot")
    assert market.publish() is None and "dollars" in market.form_error
    for unsellable in ("1e400", "inf", "-1", "nan"):  # 1e400 and inf once raised OverflowError
        market.set_field("price", unsellable)
        assert market.publish() is None and "price_cents" in market.field_errors, unsellable
    for name in ("title", "summary", "description", "category"):
        market.set_field(name, LISTING_FORM[name])
    market.set_field("price", "0")
    market.set_field("title", "")
    assert market.publish() is None and "title" in market.field_errors
    market.set_field("title", "Issue triage")
    assert market.publish() is not None and not market.publishing
    market.load()
    assert market.mine[0]["status"] == "pending" and market.total == 0

    moderator = signed_in(session, MarketplaceState, admin)
    moderator.load()
    [waiting] = moderator.pending
    moderator.approve(waiting["id"])
    assert moderator.pending == [] and moderator.total == 1

    visitor = _visitor(MarketplaceState)
    visitor.load()
    assert [c["title"] for c in visitor.cards] == ["Issue triage"]
    visitor.apply_search({"q": "urgency"})
    assert visitor.total == 1
    visitor.apply_search({"q": "zebra"})
    assert visitor.total == 0 and visitor.error == ""

    buyer_user = make_user(session, email="buyer@example.com")
    buyer = signed_in(session, ListingState, buyer_user)
    buyer._load_identity()  # what load does, without a page URL to read the id from
    buyer.listing_id = waiting["id"]
    buyer._fill()
    assert buyer.found and buyer.listing["price"] == "Free" and buyer.installed_agent == ""
    buyer.install()
    assert buyer.installed_agent and any("model provider" in p for p in buyer.placeholders)
    assert buyer.listing["downloads"] == "1"
    buyer.set_value("rating_input", "4")
    buyer.set_value("review_body", "Good")
    buyer.submit_review()
    assert buyer.review_rows[0]["stars"] == "★★★★☆" and buyer.review_rows[0]["mine"]

    buyer.open_report("listing")
    buyer.set_value("report_reason", "Misleading title")
    buyer.send_report()
    moderator.load()
    assert moderator.reports[0]["reason"] == "Misleading title"

    agents.update_agent(
        session, seller, agent_id, config={"model": "openai/gpt-4o-mini", "instructions": "v2"}
    )
    listings.add_version(session, seller, uuid.UUID(waiting["id"]), changelog="Sharper.")
    session.commit()
    shelf = signed_in(session, MarketplaceState, buyer_user)
    shelf.load()
    assert shelf.installed == [
        {"id": waiting["id"], "title": "Issue triage", "version": "1", "update": "2"}
    ]
    buyer.update_install()
    assert buyer.update_available == "" and buyer.versions[0]["changelog"] == "Sharper."

    stranger = _visitor(ListingState)
    stranger.listing_id = "not-an-id"
    stranger._fill()
    assert not stranger.found and stranger.error == "Listing not found."


def test_seller_sets_the_icon_and_adds_a_screenshot(session: Session, tmp_path, monkeypatch):
    from services.marketplace import storage

    store = storage.LocalFileStore(tmp_path)
    monkeypatch.setattr(storage, "file_store", lambda: store)
    seller_user = make_user(session, email="seller@example.com")
    seller = personal_actor(session, seller_user)
    give_provider(session, seller)
    agent_id = published_agent(session, seller)
    listing = listings.publish_listing(session, seller, agent_id, LISTING_FORM)
    session.commit()
    page = signed_in(session, ListingState, seller_user)
    page._load_identity()
    page.listing_id = str(listing.id)
    page._fill()
    assert page.is_seller and page.listing["icon"] == ""
    page._store_image("icon", PNG)
    page._store_image("screenshot", PNG)
    assert page.listing["icon"].startswith("/api/v1/marketplace/files/listings/")
    assert len(page.screenshots) == 1
    assert len(list(tmp_path.rglob("*.png"))) == 2
    page._store_image("icon", b"GIF89a" + b"\x00" * 16)  # replaces the PNG icon
    page._store_image("icon", b"<svg/>")  # refused in words: nothing changes
    kept = sorted(p.suffix for p in tmp_path.rglob("*") if p.is_file())
    assert kept == [".gif", ".png"]  # the new icon and the screenshot
    assert page.listing["icon"].endswith(".gif")


def test_seller_edits_the_listing_with_errors_in_words(session: Session) -> None:
    seller_user = make_user(session, email="seller@example.com")
    seller = personal_actor(session, seller_user)
    give_provider(session, seller)
    listing = listings.publish_listing(
        session, seller, published_agent(session, seller), LISTING_FORM
    )  # noqa: E501
    session.commit()
    page = signed_in(session, ListingState, seller_user)
    page._load_identity()
    page.listing_id = str(listing.id)
    page._fill()
    page.set_editing(True)
    assert page.edit_form["title"] == "Issue triage" and page.edit_form["price"] == "0.00"
    page.set_edit_field("price", "cheap")
    assert page.save_listing() is None and "price_cents" in page.edit_errors
    page.set_edit_field("price", "inf")
    assert page.save_listing() is None and "price_cents" in page.edit_errors
    page.set_edit_field("price", "0")
    page.set_edit_field("category", "nope")
    assert page.save_listing() is None and "category" in page.edit_errors and page.editing
    page.set_edit_field("category", "data")
    page.set_edit_field("title", "Ticket triage")
    page.set_edit_field("description", "Now with *emphasis*")
    page.save_listing()
    assert not page.editing and page.listing["title"] == "Ticket triage"
    assert "<em>emphasis</em>" in page.description_html


def test_publish_dialog_without_a_published_agent_says_why_and_where(session: Session) -> None:
    user = make_user(session)
    seller = personal_actor(session, user)
    agents.create_agent(session, seller, name="Still a draft")  # drafts cannot be listed
    session.commit()
    market = signed_in(session, MarketplaceState, user)
    market.open_publish()
    assert market.agent_options == [] and market.publishing
    assert market.nothing_to_list == listings.NOTHING_TO_LIST
    assert "Publish an agent in the builder first" in market.nothing_to_list
    assert market.publish() is None and market.form_error == listings.NOTHING_TO_LIST

    give_provider(session, seller)
    agent_id = published_agent(session, seller)
    session.commit()
    market.open_publish()
    assert [o["id"] for o in market.agent_options] == [str(agent_id)]
    assert market.nothing_to_list == ""
    assert market.publish() is None
    assert market.form_error == "Choose the published agent to list."


def test_listing_page_words_the_badge_basis_with_and_without_test_runs(session: Session) -> None:
    listing = live_listing(session, make_market(session))
    version = session.exec(
        select(ListingVersion).where(ListingVersion.listing_id == listing.id)
    ).one()
    session.commit()
    page = _visitor(ListingState)
    page.listing_id = str(listing.id)
    page._fill()
    basis = page.badge["basis"]
    assert basis.startswith("The latest version has no test runs yet; last checked 20"), basis
    assert "()" not in basis and basis.endswith(" UTC.")

    ran = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    version.verification = {**version.verification, "tests_ran_at": ran.isoformat()}
    version.verified_checked_at = None
    session.add(version)
    session.commit()
    page._fill()
    assert page.badge["basis"] == (
        "Rests on the latest version's test runs of 2026-11-30 09:15 UTC; not checked yet."
    )


def test_catalogue_footer_counts_listings_in_words() -> None:
    market = _visitor(MarketplaceState)
    counted = {0: "0 listings", 1: "1 listing", 2: "2 listings", 1200: "1,200 listings"}
    for total, words in counted.items():
        market.total = total
        assert market.total_label == words
