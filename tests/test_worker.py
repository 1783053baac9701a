"""Jobs on every queue are consumed by a real RQ worker on the test Redis."""

from __future__ import annotations

from rq import SimpleWorker

from agent_platform.redis_client import get_redis
from agent_platform.worker import QUEUES, ping, queue


def test_worker_consumes_every_platform_queue() -> None:
    jobs = [queue(name).enqueue(ping, name) for name in QUEUES]
    SimpleWorker([queue(n) for n in QUEUES], connection=get_redis()).work(burst=True)
    for name, job in zip(QUEUES, jobs, strict=True):
        job.refresh()
        assert job.is_finished, job.get_status()
        assert job.return_value() == name
