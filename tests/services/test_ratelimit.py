"""The one limiter's counted allowances and fixed windows, against a real Redis."""

from __future__ import annotations

import asyncio
import threading

import pytest
from redis.asyncio import Redis as AsyncRedis

from agent_platform.redis_client import get_redis
from agent_platform.settings import get_settings
from services.ratelimit import Quota, Throttled, take_in_window


class TestQuota:
    def test_of_many_takers_at_once_exactly_the_limit_pass(self) -> None:
        quota = Quota(get_redis())
        barrier = threading.Barrier(20)
        passed: list[bool] = []

        def take() -> None:
            barrier.wait(10)
            passed.append(quota.take("q:burst", limit=5, count=lambda: 0))

        threads = [threading.Thread(target=take) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert sorted(passed) == [False] * 15 + [True] * 5

    def test_the_database_is_asked_only_when_redis_has_no_count(self) -> None:
        quota = Quota(get_redis())
        asked: list[int] = []

        def count() -> int:
            asked.append(1)
            return 3

        assert quota.take("q:seed", limit=5, count=count)  # 3 in the database: the 4th
        assert quota.take("q:seed", limit=5, count=count)  # the 5th
        assert not quota.take("q:seed", limit=5, count=count)
        assert len(asked) == 1

    def test_a_unit_given_back_can_be_taken_again_and_never_below_zero(self) -> None:
        quota = Quota(get_redis())
        assert quota.take("q:back", limit=1, count=lambda: 0)
        quota.give_back("q:back")
        quota.give_back("q:back")
        assert get_redis().get("q:back") == b"0"
        assert quota.take("q:back", limit=1, count=lambda: 0)
        assert not quota.take("q:back", limit=1, count=lambda: 0)

    def test_a_refusal_does_not_keep_a_drifted_count_alive(self) -> None:
        """The count is reseeded from the database after the idle time without a take; a
        refused caller retrying must not postpone that for ever."""
        redis = get_redis()
        quota = Quota(redis, idle_seconds=600)
        assert quota.take("q:idle", limit=1, count=lambda: 0)
        assert redis.ttl("q:idle") > 500
        redis.expire("q:idle", 5)
        assert not quota.take("q:idle", limit=1, count=lambda: 0)
        assert 0 < redis.ttl("q:idle") <= 5


def test_a_window_refuses_after_its_limit_with_the_time_left() -> None:
    async def go() -> None:
        redis = AsyncRedis.from_url(get_settings().resolved_redis_url)
        try:
            for _ in range(2):
                await take_in_window(redis, "w:conn", limit=2, window_seconds=60, what="calls")
            with pytest.raises(Throttled, match="Too many calls") as refused:
                await take_in_window(redis, "w:conn", limit=2, window_seconds=60, what="calls")
            assert 0 < refused.value.retry_after <= 60
        finally:
            await redis.aclose()

    asyncio.run(go())


def test_a_window_counter_left_without_expiry_gets_one() -> None:
    """A counter without expiry (written by an older INCR-then-EXPIRE) would refuse for ever."""
    get_redis().set("w:stuck", 99)

    async def go() -> None:
        redis = AsyncRedis.from_url(get_settings().resolved_redis_url)
        try:
            with pytest.raises(Throttled):
                await take_in_window(redis, "w:stuck", limit=2, window_seconds=60, what="calls")
        finally:
            await redis.aclose()

    asyncio.run(go())
    assert 0 < get_redis().ttl("w:stuck") <= 60
