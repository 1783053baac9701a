"""The verified badge is asked again the moment a suite run on the listed version ends, not
only at the next hourly re-check: closing a suite run enqueues the re-check after its commit."""

from __future__ import annotations

import uuid

from rq import SimpleWorker
from sqlmodel import Session, select

from agent_platform.db import session_scope
from agent_platform.models import (
    Agent,
    AgentTest,
    ListingVersion,
    MarketplaceListing,
    SuiteRun,
    SuiteRunStatus,
    TestResult,
    TestSuite,
)
from agent_platform.models import TestKind as SuiteKind
from agent_platform.models.base import utcnow
from agent_platform.redis_client import get_redis
from services.queue import BADGE_REFRESH_JOB, queue
from services.testing.closing import finalize
from services.testing.safety import BUILTIN_KEY
from tests.services.marketplace_helpers import (
    Market,
    live_listing,
    make_market,
    published_agent,
)


def _suite(session: Session, market: Market, name: str, **fields: object) -> TestSuite:
    suite = TestSuite(org_id=market.seller.org_id, agent_id=market.agent_id, name=name, **fields)
    session.add(suite)
    session.flush()
    return suite


def _graded_run(
    session: Session, market: Market, suite: TestSuite, version_id: uuid.UUID | None, passed: bool
) -> SuiteRun:
    """A suite run whose one case has just been graded: what grading hands to `finalize`."""
    case = AgentTest(org_id=suite.org_id, suite_id=suite.id, name="Sorts one issue")
    run = SuiteRun(
        org_id=suite.org_id,
        suite_id=suite.id,
        agent_id=market.agent_id,
        agent_version_id=version_id,
        status=SuiteRunStatus.RUNNING,
        total_runs=1,
        finished_runs=1,
    )
    session.add_all([case, run])
    session.flush()
    session.add(
        TestResult(
            org_id=suite.org_id,
            suite_run_id=run.id,
            test_id=case.id,
            agent_version_id=version_id,
            passed=passed,
            score=1.0 if passed else 0.0,
            graded_at=utcnow(),
        )
    )
    session.flush()
    return run


def _listed() -> tuple[Market, uuid.UUID, uuid.UUID, TestSuite]:
    """A live listing whose agent version passed the platform safety suite, and the agent's own
    functional suite that has not run yet (so the badge is off)."""
    with session_scope() as session:
        market = make_market(session)
        listing = live_listing(session, market)
        version = session.exec(
            select(ListingVersion).where(ListingVersion.listing_id == listing.id)
        ).one()
        assert version.agent_version_id is not None
        safety = _suite(
            session, market, "Platform safety", kind=SuiteKind.SAFETY, builtin=BUILTIN_KEY
        )
        finalize(session, _graded_run(session, market, safety, version.agent_version_id, True))
        own = _suite(session, market, "Triage works")
        return market, listing.id, version.agent_version_id, own


def _work_default_queue() -> None:
    SimpleWorker([queue("default")], connection=get_redis()).work(burst=True)


def _badge(listing_id: uuid.UUID) -> tuple[bool, bool]:
    with session_scope() as session:
        version = session.exec(
            select(ListingVersion).where(ListingVersion.listing_id == listing_id)
        ).one()
        listing = session.get(MarketplaceListing, listing_id)
        assert listing is not None
        return version.verified, listing.verified


def test_badge_is_earned_when_the_last_suite_run_ends_and_lost_when_a_rerun_fails():
    market, listing_id, version_id, own = _listed()
    _work_default_queue()
    assert _badge(listing_id) == (False, False)  # the functional suite has not run yet

    with session_scope() as session:
        finalize(session, _graded_run(session, market, own, version_id, True))
    assert [j.func_name for j in queue("default").get_jobs()] == [BADGE_REFRESH_JOB]
    _work_default_queue()
    assert _badge(listing_id) == (True, True)

    with session_scope() as session:
        finalize(session, _graded_run(session, market, own, version_id, False))
    _work_default_queue()
    assert _badge(listing_id) == (False, False)


def test_nothing_is_enqueued_before_commit_nor_for_a_version_nobody_listed():
    market, _, version_id, own = _listed()
    queue("default").empty()
    try:
        with session_scope() as session:
            finalize(session, _graded_run(session, market, own, version_id, True))
            assert queue("default").count == 0  # not yet committed: the job would read nothing
            raise RuntimeError("the caller fails after finalize")
    except RuntimeError:
        pass
    assert queue("default").count == 0

    with session_scope() as session:
        unlisted = session.get(Agent, published_agent(session, market.seller, name="Unlisted"))
        assert unlisted is not None and unlisted.current_version_id is not None
        suite = _suite(session, market, "Unlisted agent's suite")
        finalize(session, _graded_run(session, market, suite, unlisted.current_version_id, True))
        finalize(session, _graded_run(session, market, suite, None, True))  # version deleted
    assert queue("default").count == 0
