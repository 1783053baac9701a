"""`/metrics`: the design's names, route templates, runs and tokens of real runs, queues and
workers from Redis, closed to strangers, and no tenant's ids or secrets in it."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from rq import Worker

from agent_platform.api import create_api
from agent_platform.observability import metrics
from agent_platform.redis_client import get_redis
from agent_platform.settings import get_settings
from agent_platform.worker import ping, queue
from tests.fakes.openai_server import Turn
from tests.observability.scrape import exported_names, value
from tests.services.runtime_helpers import execute, make_agent, org_with_provider, start

LOCAL = ("127.0.0.1", 50000)
REMOTE = ("203.0.113.9", 50000)


def scrape(client: TestClient | None = None) -> str:
    response = (client or TestClient(create_api(), client=LOCAL)).get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("METRICS_TOKEN", "scrape-secret-1")
    get_settings.cache_clear()
    yield "scrape-secret-1"
    get_settings.cache_clear()


class TestNames:
    def test_the_design_names_and_ours_are_exported(self) -> None:
        names = exported_names(scrape())
        assert {
            "http_requests_total",
            "http_request_duration_seconds_bucket",
            "agent_executions_total",
            "agent_execution_duration_seconds_bucket",
            "agent_runs_in_progress",
            "llm_tokens_total",
            "llm_cost_usd_total",
            "llm_requests_total",
            "agent_tool_calls_total",
            "queue_depth",
            "workers_alive",
            "redis_up",
        } <= names


class TestHttp:
    def test_requests_count_by_route_template_not_raw_path(self) -> None:
        client = TestClient(create_api(), client=LOCAL)
        before = scrape(client)
        object_id = uuid.uuid4().hex
        assert client.get(f"/api/v1/no-such-thing/{object_id}").status_code == 404
        assert client.get("/health").status_code == 200
        after = scrape(client)
        labels = {"method": "GET", "route": "/api/{rest:path}", "status": "404"}
        assert value(after, "http_requests_total", **labels) == (
            value(before, "http_requests_total", **labels) + 1
        )
        health = {"method": "GET", "route": "/health", "status": "200"}
        assert value(after, "http_request_duration_seconds_count", **health) >= 1
        assert object_id not in after

    def test_a_path_no_route_claims_is_one_series(self) -> None:
        client = TestClient(create_api(), client=LOCAL)
        client.get(f"/{uuid.uuid4().hex}")
        text = scrape(client)
        assert value(text, "http_requests_total", method="GET", route="unmatched", status="404")

    def test_request_id_is_echoed_or_made(self) -> None:
        client = TestClient(create_api(), client=LOCAL)
        given = client.get("/health", headers={"X-Request-ID": "abc-123.x"})
        assert given.headers["x-request-id"] == "abc-123.x"
        made = client.get("/health").headers["x-request-id"]
        assert len(made) == 32 and made != client.get("/health").headers["x-request-id"]
        odd = client.get("/health", headers={"X-Request-ID": "<script>" + "a" * 200})
        assert odd.headers["x-request-id"] != "<script>" and len(odd.headers["x-request-id"]) == 32


class TestAccess:
    def test_a_stranger_without_a_token_is_refused(self) -> None:
        response = TestClient(create_api(), client=REMOTE).get("/metrics")
        assert response.status_code == 403 and "METRICS_TOKEN" in response.json()["error"]

    def test_a_forwarded_request_is_not_this_machine(self) -> None:
        client = TestClient(create_api(), client=LOCAL)
        response = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert response.status_code == 403

    def test_with_a_token_set_the_token_is_needed_from_anywhere(self, token: str) -> None:
        remote = TestClient(create_api(), client=REMOTE)
        assert remote.get("/metrics").status_code == 401
        wrong = remote.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        local = TestClient(create_api(), client=LOCAL)
        assert local.get("/metrics").status_code == 401
        right = remote.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert right.status_code == 200 and "http_requests_total" in right.text


class TestQueues:
    def test_queue_depth_and_workers_come_from_redis(self) -> None:
        before = scrape()
        assert value(before, "redis_up") == 1
        assert value(before, "queue_depth", queue="default") == 0
        queue("default").enqueue(ping)
        queue("default").enqueue(ping)
        worker = Worker([queue("testing")], connection=get_redis())
        worker.register_birth()
        try:
            text = scrape()
        finally:
            worker.register_death()
        assert value(text, "queue_depth", queue="default") == 2
        assert value(text, "workers_alive", queue="testing") == 1
        assert value(text, "workers_alive", queue="default") == 0


class TestRuns:
    def test_a_run_counts_its_status_duration_tokens_and_tools(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor, tools=[{"name": "calculator"}])
        llm.script(
            Turn(tool_calls=[{"name": "calculator", "arguments": {"expression": "6*7"}}]),
            Turn(text="It is 42."),
        )
        before = scrape()
        run, _events = execute(start(actor, agent_id, "what is 6*7?"))
        after = scrape()
        assert run.status.value == "succeeded"

        def delta(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert delta("agent_executions_total", status="succeeded") == 1
        assert delta("agent_execution_duration_seconds_count", status="succeeded") == 1
        model = "openai/gpt-a"
        tokens = delta("llm_tokens_total", model=model, kind="prompt") + delta(
            "llm_tokens_total", model=model, kind="completion"
        )
        assert tokens == run.tokens_used > 0
        assert delta("llm_requests_total", model=model, outcome="ok") == 2
        assert delta("agent_tool_calls_total", tool="calculator", outcome="ok") == 1
        assert value(after, "agent_runs_in_progress") == 0
        for private in (str(actor.org_id), str(run.id), str(agent_id), "sk-test-123456"):
            assert private not in after

    def test_a_failed_model_call_counts_as_an_error(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor)
        llm.script(Turn(status=401, error="bad key"))
        before = scrape()
        run, _events = execute(start(actor, agent_id))
        after = scrape()
        assert run.status.value == "failed"
        labels = {"model": "openai/gpt-a", "outcome": "error"}
        assert value(after, "llm_requests_total", **labels) > value(
            before, "llm_requests_total", **labels
        )
        assert value(after, "agent_executions_total", status="failed") == (
            value(before, "agent_executions_total", status="failed") + 1
        )


def test_priced_calls_add_their_cost() -> None:
    before = metrics.exposition().decode()
    metrics.record_model_call(
        "openai/priced-model", ok=True, seconds=0.2, prompt_tokens=10, cost=0.0125
    )
    after = metrics.exposition().decode()
    key = {"model": "openai/priced-model"}
    assert value(after, "llm_cost_usd_total", **key) - value(
        before, "llm_cost_usd_total", **key
    ) == pytest.approx(0.0125)
