"""An organization's run limits, taken atomically: runs a month and runs at once."""

from __future__ import annotations

import threading
import uuid

import pytest
from rq import RateLimit
from rq.rate_limit import RateLimitRegistry
from sqlmodel import Session

from agent_platform.db import session_scope
from agent_platform.models import Organization
from agent_platform.worker import waiting
from services import runs
from services.access import Actor
from services.errors import Invalid
from services.queue import org_runs_limit_key, queue
from tests.fakes.openai_server import ScriptedLLM
from tests.plans import billing_on  # noqa: F401 - fixture
from tests.services.runtime_helpers import make_agent, org_with_provider

pytestmark = pytest.mark.usefixtures("billing_on")


@pytest.fixture
def base_url(llm: ScriptedLLM) -> str:
    return llm.base_url


def with_limits(session: Session, actor: Actor, *, month: int = -1, at_once: int = -1) -> None:
    org = session.get(Organization, actor.org_id)
    org.max_runs_per_month, org.max_concurrent_runs = month, at_once
    session.add(org)
    session.commit()


def start(actor: Actor, agent_id: uuid.UUID) -> uuid.UUID:
    with session_scope() as s:
        return runs.start_run(s, actor, agent_id, message="hi").id


class TestRunsAMonth:
    def test_two_concurrent_starts_at_the_last_run_one_passes(
        self, session: Session, base_url: str
    ) -> None:
        """The first start holds its transaction open while the second one checks: counting
        the month's rows would let both pass (the first row is not committed yet)."""
        actor = org_with_provider(session, base_url)
        agent_id = make_agent(session, actor)
        with_limits(session, actor, month=3)
        start(actor, agent_id), start(actor, agent_id)
        first_checked, second_done = threading.Event(), threading.Event()
        outcome: dict[str, object] = {}

        def second() -> None:
            first_checked.wait(30)
            try:
                outcome["second"] = start(actor, agent_id)
            except Invalid as exc:
                outcome["second"] = exc
            finally:
                second_done.set()

        thread = threading.Thread(target=second)
        thread.start()
        with session_scope() as s:
            outcome["first"] = runs.start_run(s, actor, agent_id, message="hi").id
            first_checked.set()
            assert second_done.wait(30), "the second start hung"
        thread.join(30)
        assert isinstance(outcome["first"], uuid.UUID)
        assert isinstance(outcome["second"], Invalid)
        assert "3 runs a month" in str(outcome["second"])
        total, _ = runs.list_runs(session, actor)
        assert len(total) == 3

    def test_a_start_that_rolls_back_gives_its_run_back(
        self, session: Session, base_url: str
    ) -> None:
        actor = org_with_provider(session, base_url)
        agent_id = make_agent(session, actor)
        with_limits(session, actor, month=1)
        with pytest.raises(RuntimeError):
            with session_scope() as s:
                runs.start_run(s, actor, agent_id, message="hi")
                raise RuntimeError("the request failed after the start")
        start(actor, agent_id)
        with pytest.raises(Invalid, match="1 runs a month"):
            start(actor, agent_id)

    def test_the_count_comes_back_from_the_database_when_redis_forgets(
        self, session: Session, base_url: str
    ) -> None:
        from agent_platform.redis_client import get_redis

        actor = org_with_provider(session, base_url)
        agent_id = make_agent(session, actor)
        with_limits(session, actor, month=2)
        start(actor, agent_id), start(actor, agent_id)
        get_redis().flushdb()  # a Redis restart without persistence
        with pytest.raises(Invalid, match="2 runs a month"):
            start(actor, agent_id)
        with_limits(session, actor, month=3)  # the admin lifts the cap: the same count applies
        start(actor, agent_id)
        with pytest.raises(Invalid, match="3 runs a month"):
            start(actor, agent_id)

    def test_unlimited_plans_keep_no_count(self, session: Session, base_url: str) -> None:
        from agent_platform.redis_client import get_redis

        actor = org_with_provider(session, base_url)
        agent_id = make_agent(session, actor)
        with_limits(session, actor, month=-1)
        start(actor, agent_id)
        assert get_redis().keys("ratelimit:runs:*") == []


class TestRunsAtOnce:
    def test_runs_over_the_cap_wait_in_redis_not_on_the_queue(
        self, session: Session, base_url: str
    ) -> None:
        actor = org_with_provider(session, base_url)
        agent_id = make_agent(session, actor)
        with_limits(session, actor, at_once=2)
        run_ids = [start(actor, agent_id) for _ in range(5)]
        agents = queue("agents")
        assert agents.get_job_ids() == [str(r) for r in run_ids[:2]]
        registry = RateLimitRegistry(org_runs_limit_key(actor.org_id), agents.connection)
        # (RQ orders its waiting set by the second of enqueueing, then by id: compare sets.)
        assert set(registry.get_rate_limited_job_ids()) == {str(r) for r in run_ids[2:]}
        # The reconciler sees them held by Redis and does not enqueue them again.
        assert waiting(run_ids) == set(run_ids)

    def test_a_finished_run_lets_the_oldest_waiting_one_onto_the_queue(
        self, session: Session, base_url: str
    ) -> None:
        from rq import SimpleWorker

        actor = org_with_provider(session, base_url)
        agent_id = make_agent(session, actor)
        with_limits(session, actor, at_once=1)
        first, second, third = (start(actor, agent_id) for _ in range(3))
        agents = queue("agents")
        assert agents.get_job_ids() == [str(first)]
        with session_scope() as s:  # the first run ends (cancelled) before a worker takes it
            runs.cancel_run(s, actor, first)
        SimpleWorker([agents], connection=agents.connection).work(burst=True, max_jobs=1)
        registry = RateLimitRegistry(org_runs_limit_key(actor.org_id), agents.connection)
        promoted, still_waiting = agents.get_job_ids(), registry.get_rate_limited_job_ids()
        assert len(promoted) == len(still_waiting) == 1
        assert {*promoted, *still_waiting} == {str(second), str(third)}

    def test_runs_are_refused_when_the_plan_allows_none_at_once(
        self, session: Session, base_url: str
    ) -> None:
        actor = org_with_provider(session, base_url)
        agent_id = make_agent(session, actor)
        with_limits(session, actor, at_once=0)
        with pytest.raises(Invalid, match="paused"):
            start(actor, agent_id)


def test_rq_rate_limit_is_what_holds_runs_back() -> None:
    """The cap is RQ's own mechanism, not ours: its key is the organization's."""
    limit = RateLimit(org_runs_limit_key(uuid.UUID(int=1)), 2)
    assert limit.key == f"org:{uuid.UUID(int=1)}:runs" and limit.concurrency == 2
