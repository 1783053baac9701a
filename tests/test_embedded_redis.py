"""The bundled Redis keeps its data across a crash: a queued job survives SIGKILL and restart."""

from __future__ import annotations

import signal
from pathlib import Path

from redis import Redis
from rq import Queue
from rq.job import Job

from agent_platform import embedded_redis
from agent_platform.worker import ping


def test_a_queued_job_survives_sigkill_of_the_bundled_redis(tmp_path: Path) -> None:
    sock = tmp_path / "redis.sock"
    proc = embedded_redis.start(tmp_path / "data", sock)
    try:
        conn = Redis.from_url(f"unix://{sock}")
        job = Queue("default", connection=conn).enqueue(ping, "kept")
        conn.close()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc = embedded_redis.start(tmp_path / "data", sock)
        conn = Redis.from_url(f"unix://{sock}")
        queue = Queue("default", connection=conn)
        assert queue.job_ids == [job.id]
        assert Job.fetch(job.id, connection=conn).args == ("kept",)
        conn.close()
    finally:
        proc.kill()
        proc.wait(10)


def test_the_bundled_redis_appends_every_write_and_fsyncs_every_second(tmp_path: Path) -> None:
    sock = tmp_path / "redis.sock"
    proc = embedded_redis.start(tmp_path / "data", sock)
    try:
        conn = Redis.from_url(f"unix://{sock}")
        assert conn.config_get("appendonly") == {"appendonly": "yes"}
        assert conn.config_get("appendfsync") == {"appendfsync": "everysec"}
        conn.close()
    finally:
        proc.kill()
        proc.wait(10)
