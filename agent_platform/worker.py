"""RQ job entry points and the worker process. Jobs are thin: load ids, call a service."""

from __future__ import annotations

import os

from rq import Queue, Worker

from agent_platform.redis_client import get_redis

QUEUES = ("agents", "testing", "integrations", "default")


def ping(value: str = "pong") -> str:
    """Trivial job used by readiness checks and tests to prove a worker consumes its queues."""
    return value


def queue(name: str = "default") -> Queue:
    return Queue(name, connection=get_redis())


def run_worker(queues: list[str], *, burst: bool = False) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    worker = Worker([queue(q) for q in queues], connection=get_redis())
    worker.work(burst=burst, logging_level="WARNING")
