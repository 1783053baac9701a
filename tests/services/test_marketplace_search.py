"""Browsing and searching the marketplace, the hot list in Redis, the SQLite FTS5 path, the
listing files' storage and the verified badge."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from sqlmodel import Session, select

from agent_platform import migrations
from agent_platform.db import make_engine
from agent_platform.models import (
    ListingVersion,
    MarketplaceListing,
    SellerAccount,
    SuiteRun,
    SuiteRunStatus,
)
from agent_platform.models import (
    TestKind as SuiteKind,
)
from agent_platform.models import (
    TestSuite as Suite,
)
from agent_platform.models.base import utcnow
from agent_platform.redis_client import get_redis
from agent_platform.settings import get_settings
from services.errors import Invalid, NotFound
from services.marketplace import (
    badges,
    installs,
    listings,
    media,
    moderation,
    reviews,
    search,
    storage,
)
from services.testing.safety import BUILTIN_KEY
from tests.factories import make_user, personal_actor
from tests.services.marketplace_helpers import (
    LISTING_FORM,
    live_listing,
    make_market,
    published_agent,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def market(session):
    return make_market(session)


def titles(page: search.BrowsePage) -> list[str]:
    return [c.title for c in page.cards]


@pytest.fixture
def shelf(session, market, monkeypatch):
    """Three live listings: a free engineering one, a paid writing one, a free data one.
    Stripe is configured and the seller's account takes charges, so the paid one is on sale."""
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_shelf")
    get_settings.cache_clear()
    session.add(
        SellerAccount(
            org_id=market.seller.org_id, stripe_account_id="acct_shelf", charges_enabled=True
        )
    )
    first = live_listing(session, market)
    second_agent = published_agent(session, market.seller, name="Writer")
    second = listings.publish_listing(
        session,
        market.seller,
        second_agent,
        {
            **LISTING_FORM,
            "title": "Blog writer",
            "summary": "Drafts posts",
            "description": "Writes articles about gardening.",
            "category": "writing",
            "price_cents": 900,
        },
    )
    third_agent = published_agent(session, market.seller, name="Numbers")
    third = listings.publish_listing(
        session,
        market.seller,
        third_agent,
        {
            **LISTING_FORM,
            "title": "Report builder",
            "summary": "Charts",
            "description": "Monthly reports",
            "category": "data",
        },
    )
    session.commit()
    yield first, second, third
    get_settings.cache_clear()


class TestBrowse:
    def test_signed_out_browse_shows_only_live_listings(self, session, market, shelf):
        hidden_agent = published_agent(session, market.seller, name="Hidden")
        hidden = listings.publish_listing(
            session, market.seller, hidden_agent, {**LISTING_FORM, "title": "Hidden"}
        )
        moderation.take_down_listing(session, market.admin.id, hidden.id, "No")
        session.commit()
        page = search.browse(session, {"sort": "newest"})
        assert page.total == 3 and "Hidden" not in titles(page)

    def test_full_text_search_matches_words_of_title_summary_and_description(self, session, shelf):
        assert titles(search.browse(session, {"search": "gardening"})) == ["Blog writer"]
        assert titles(search.browse(session, {"search": "issues urgency"})) == ["Issue triage"]
        assert search.browse(session, {"search": "nothing-like-this"}).total == 0

    def test_filters(self, session, shelf):
        assert titles(search.browse(session, {"price": "paid"})) == ["Blog writer"]
        assert set(titles(search.browse(session, {"price": "free"}))) == {
            "Issue triage",
            "Report builder",
        }
        assert titles(search.browse(session, {"category": "data"})) == ["Report builder"]
        assert search.browse(session, {"verified": True}).total == 0
        assert search.browse(session, {"min_rating": 3.1}).total == 0

    def test_rating_sort_and_min_rating_use_the_bayesian_rating(self, session, market, shelf):
        first, _, third = shelf
        installs.install_listing(session, market.buyer, third.id)
        reviews.review_listing(session, market.buyer, third.id, {"rating": 5})
        session.commit()
        assert titles(search.browse(session, {"sort": "rating"}))[0] == "Report builder"
        assert titles(search.browse(session, {"min_rating": 3.1})) == ["Report builder"]

    def test_paging(self, session, shelf):
        one = search.browse(session, {"sort": "newest", "per_page": 2, "page": 1})
        two = search.browse(session, {"sort": "newest", "per_page": 2, "page": 2})
        assert (one.total, one.pages, len(one.cards), len(two.cards)) == (3, 2, 2, 1)
        assert not set(titles(one)) & set(titles(two))

    def test_a_search_counts_every_match_on_each_page_and_past_the_end(self, session, market):
        live_listing(session, market, {"title": "Ledger one"})
        for name in ("Ledger two", "Ledger three"):
            agent = published_agent(session, market.seller, name=name)
            listings.publish_listing(session, market.seller, agent, {**LISTING_FORM, "title": name})
        session.commit()
        ask = {"search": "ledger", "per_page": 2}
        pages = [search.browse(session, {**ask, "page": p}) for p in (1, 2, 3)]
        assert [(p.total, len(p.cards)) for p in pages] == [(3, 2), (3, 1), (3, 0)]
        assert not set(titles(pages[0])) & set(titles(pages[1]))
        assert search.browse(session, {"search": "nothing-like-this", "page": 2}).total == 0

    def test_bad_query_is_refused_in_words(self, session):
        with pytest.raises(Invalid):
            search.browse(session, {"sort": "price; drop table", "page": 0})


class TestHotList:
    def test_popular_first_page_comes_from_redis_for_an_hour(self, session, market, shelf):
        first, _, third = shelf
        installs.install_listing(session, market.buyer, third.id)
        session.commit()
        page = search.browse(session, {})
        assert titles(page)[0] == "Report builder"
        redis = get_redis()
        assert 3500 < redis.ttl(search.HOT_KEY) <= search.HOT_TTL
        assert json.loads(redis.get(search.HOT_KEY))[0] == str(third.id)
        # cached order stays for the hour, even if installs change meanwhile ...
        other = personal_actor(session, make_user(session, email="o@example.com"))
        installs.install_listing(session, other, first.id)
        buyer2 = personal_actor(session, make_user(session, email="p@example.com"))
        installs.install_listing(session, buyer2, first.id)
        session.commit()
        assert titles(search.browse(session, {}))[0] == "Report builder"
        # ... but a listing taken down disappears at once
        moderation.take_down_listing(session, market.admin.id, third.id, "Gone")
        session.commit()
        assert "Report builder" not in titles(search.browse(session, {}))

    def test_a_listing_gone_live_after_the_list_was_cached_still_shows(self, session, market):
        assert search.browse(session, {}).total == 0  # caches an empty hot list
        live_listing(session, market)
        session.commit()
        assert titles(search.browse(session, {})) == ["Issue triage"]

    def test_without_the_cache_popular_is_read_from_the_database(self, session, market, shelf):
        get_redis().delete(search.HOT_KEY)
        assert search.browse(session, {}).total == 3


def test_sqlite_uses_its_fts5_table(tmp_path: Path):
    """The embedded default: SQLite migrated from empty, listings found through FTS5."""
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.begin() as conn:
        migrations.upgrade(conn)
    with Session(engine, expire_on_commit=False) as session:
        market = make_market(session)
        listing = live_listing(session, market)
        session.commit()
        assert titles(search.browse(session, {"search": "urgency"})) == ["Issue triage"]
        assert titles(search.browse(session, {"search": 'triage" OR *'})) == []
        assert titles(search.browse(session, {"search": "GitHub"})) == ["Issue triage"]
        listings.update_listing(session, market.seller, listing.id, {"summary": "Sorts tickets"})
        session.commit()
        assert search.browse(session, {"search": "urgency"}).total == 0
        assert titles(search.browse(session, {"search": "tickets"})) == ["Issue triage"]
    engine.dispose()


class TestStorage:
    def test_local_store_round_trip_and_refuses_keys_outside_its_shape(self, tmp_path):
        store = storage.LocalFileStore(tmp_path)
        key = storage.new_key(uuid.uuid4(), "png")
        store.put(key, PNG, "image/png")
        assert store.get(key) == PNG
        store.delete(key)
        with pytest.raises(NotFound):
            store.get(key)
        with pytest.raises(NotFound):
            store.get("../../etc/passwd")

    def test_only_images_are_accepted(self):
        assert storage.image_kind(PNG) == "png"
        with pytest.raises(Invalid, match="PNG, JPEG"):
            storage.image_kind(b"<svg onload=alert(1)>")
        with pytest.raises(Invalid, match="at most"):
            storage.image_kind(PNG + b"\x00" * storage.MAX_IMAGE_BYTES)

    def test_s3_store_speaks_the_same_contract(self):
        client = boto3.client(
            "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        store = storage.S3FileStore(client, "bucket", prefix="market")
        key = storage.new_key(uuid.uuid4(), "png")
        with Stubber(client) as stub:
            stub.add_response(
                "put_object",
                {},
                {
                    "Bucket": "bucket",
                    "Key": f"market/{key}",
                    "Body": PNG,
                    "ContentType": "image/png",
                },
            )
            stub.add_response(
                "get_object",
                {"Body": StreamingBody(io.BytesIO(PNG), len(PNG))},
                {"Bucket": "bucket", "Key": f"market/{key}"},
            )
            stub.add_client_error("get_object", "NoSuchKey", http_status_code=404)
            stub.add_response("delete_object", {}, {"Bucket": "bucket", "Key": f"market/{key}"})
            store.put(key, PNG, "image/png")
            assert store.get(key) == PNG
            with pytest.raises(NotFound):
                store.get(key)
            store.delete(key)
            stub.assert_no_pending_responses()
        with pytest.raises(NotFound):
            store.get("listings/../x.png")

    def test_icon_is_written_only_after_commit(self, session, market, tmp_path, monkeypatch):
        from agent_platform.db import session_scope

        store = storage.LocalFileStore(tmp_path)
        monkeypatch.setattr(storage, "file_store", lambda: store)
        listing = live_listing(session, market)
        session.commit()
        with pytest.raises(RuntimeError), session_scope() as scope:
            media.set_icon(scope, market.seller, listing.id, PNG)
            raise RuntimeError("rolled back")
        assert list(tmp_path.rglob("*.png")) == []
        with session_scope() as scope:
            key = media.set_icon(scope, market.seller, listing.id, PNG)
        assert media.listed_file(key) == (PNG, "image/png")


class TestBadge:
    def _suites(self, session, market) -> tuple[Suite, Suite]:
        agent = market.agent_id
        safety = Suite(
            org_id=market.seller.org_id,
            agent_id=agent,
            name="Platform safety",
            kind=SuiteKind.SAFETY,
            builtin=BUILTIN_KEY,
        )
        own = Suite(org_id=market.seller.org_id, agent_id=agent, name="Triage works")
        session.add_all([safety, own])
        session.flush()
        return safety, own

    def _ran(self, session, market, suite, status, version_id, ago=timedelta(0)) -> None:
        session.add(
            SuiteRun(
                org_id=market.seller.org_id,
                suite_id=suite.id,
                agent_id=market.agent_id,
                agent_version_id=version_id,
                status=status,
                score=1.0 if status == SuiteRunStatus.PASSED else 0.2,
                finished_at=utcnow() - ago,
            )
        )
        session.flush()

    def test_badge_is_earned_by_passing_runs_and_lost_when_a_recheck_fails(self, session, market):
        listing = live_listing(session, market)
        version = session.exec(
            select(ListingVersion).where(ListingVersion.listing_id == listing.id)
        ).one()
        assert not version.verified and version.verification["reasons"]
        safety, own = self._suites(session, market)
        self._ran(session, market, safety, SuiteRunStatus.PASSED, version.agent_version_id)
        self._ran(session, market, own, SuiteRunStatus.PASSED, version.agent_version_id)
        assert badges.recheck_badges(session) == 1
        session.flush()
        session.refresh(version)
        assert version.verified and version.verified_checked_at is not None
        assert {s["suite"] for s in version.verification["suites"]} == {
            "Platform safety",
            "Triage works",
        }
        assert session.get(MarketplaceListing, listing.id).verified
        assert search.browse(session, {"verified": True}).total == 1
        self._ran(session, market, own, SuiteRunStatus.FAILED, version.agent_version_id)
        badges.recheck_badges(session)
        session.flush()
        session.refresh(version)
        assert not version.verified
        assert any("failed" in r for r in version.verification["reasons"])
        assert not session.get(MarketplaceListing, listing.id).verified
