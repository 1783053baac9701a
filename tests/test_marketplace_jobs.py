"""The verified badge's periodic re-check: registered by the scheduler, run as a job."""

from __future__ import annotations

from rq_scheduler import Scheduler
from sqlmodel import select

from agent_platform import worker
from agent_platform.db import session_scope
from agent_platform.models import ListingVersion
from agent_platform.redis_client import get_redis
from tests.services.marketplace_helpers import live_listing, make_market


def test_scheduler_keeps_the_badge_recheck_registered_once():
    scheduler = Scheduler(connection=get_redis(), queue_name="default")
    worker.schedule_periodic_jobs(scheduler)
    worker.schedule_periodic_jobs(scheduler)
    jobs = [job for job in scheduler.get_jobs() if job.id == worker.BADGE_JOB]
    assert len(jobs) == 1
    assert jobs[0].meta.get("interval") == worker.BADGE_RECHECK_EVERY_SECONDS
    assert worker.RECONCILE_JOB in scheduler


def test_recheck_job_stamps_every_live_listing_version():
    with session_scope() as session:
        listing = live_listing(session, make_market(session))
        version = session.exec(
            select(ListingVersion).where(ListingVersion.listing_id == listing.id)
        ).one()
        first_check = version.verified_checked_at
    assert worker.recheck_marketplace_badges() == 1
    with session_scope() as session:
        again = session.get(ListingVersion, version.id)
        assert again.verified_checked_at > first_check
        assert again.verified is False
