"""`/metrics`: Prometheus text of the whole instance (agent_platform/observability/metrics.py).

It holds aggregates only (no organization, user, run or secret in any label), yet queue
depths, error rates and spend still say more about an install than a stranger should know.
So it is closed by default like the rest of the platform: with METRICS_TOKEN set, a scraper
sends it as a bearer token (from anywhere); without one, only this machine may read it (a
loopback address that no proxy forwarded), which is enough for a Prometheus beside `up`.

Queue depth and live workers are read from Redis at scrape time, not kept as gauges: the
processes that would set them are the ones that may have died.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from rq import Queue, Worker

from agent_platform.client_address import request_address
from agent_platform.observability import metrics
from agent_platform.redis_client import REDIS_DOWN, get_redis
from agent_platform.settings import get_settings
from agent_platform.worker import GENERAL_QUEUES

router = APIRouter()
QUEUES = ("agents", *GENERAL_QUEUES)
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


class QueueCollector(Collector):
    """`queue_depth{queue}` and `workers_alive{queue}`, straight from RQ's keys in Redis."""

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"])
        alive = GaugeMetricFamily(
            "workers_alive", "Registered live workers listening on each queue.", labels=["queue"]
        )
        up = GaugeMetricFamily("redis_up", "Whether Redis answered this scrape (1) or not (0).")
        try:
            redis = get_redis()
            for name in QUEUES:
                queue = Queue(name, connection=redis)
                depth.add_metric([name], queue.count)
                alive.add_metric([name], Worker.count(queue=queue))
            up.add_metric([], 1)
        except REDIS_DOWN:
            up.add_metric([], 0)
        yield from (depth, alive, up)


def _from_this_machine(request: Request) -> bool:
    peer = request.client.host if request.client else None
    address = request_address(request)
    try:
        loopback = address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
    forwarded = address == peer and any(h in request.headers for h in FORWARDING_HEADERS)
    return loopback and not forwarded


@router.get("/metrics", include_in_schema=False)
def prometheus_metrics(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Response:
    token = get_settings().metrics_token
    if token:
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return JSONResponse(
                {"error": "Send METRICS_TOKEN as a bearer token to read /metrics."},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
    elif not _from_this_machine(request):
        return JSONResponse(
            {"error": "/metrics answers this machine only; set METRICS_TOKEN to scrape it."},
            status_code=403,
        )
    return Response(metrics.exposition(QueueCollector()), media_type=CONTENT_TYPE_LATEST)
