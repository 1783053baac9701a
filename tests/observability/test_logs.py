"""Structured logs: stdlib loggers come out as JSON with the request, org, run and trace ids,
and a planted secret never reaches the output."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Header
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider

from agent_platform.api import create_api
from agent_platform.api.request_context import RequestContext
from agent_platform.api.v1 import ApiActor
from agent_platform.observability import logs, tracing
from services import api_keys
from tests.factories import make_user, personal_actor
from tests.fakes.openai_server import Turn
from tests.services.runtime_helpers import execute, make_agent, org_with_provider, start

API_KEY = "ap_Zx81kd92Jd0s8dkQ"
PROVIDER_KEY = "sk-proj-Abc123Def456Ghi789"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """The root logger configured as a process would be, writing to a buffer; pytest's own
    handlers come back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    logs.configure("json", "DEBUG", stream=stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


class TestRedaction:
    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            (f"key {API_KEY} used", API_KEY),
            (f"Authorization: Bearer {API_KEY}", API_KEY),
            ("authorization: bearer eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl", "eyJzdWIiOiIx"),
            (f"provider said no to {PROVIDER_KEY}", PROVIDER_KEY),
            ("anthropic sk-ant-api03-AbCdEf123456", "sk-ant-api03-AbCdEf123456"),
            ("password=hunter2&user=bob", "hunter2"),
            ('{"api_key": "k-8s7d6f5g4h"}', "k-8s7d6f5g4h"),
            ("redis://:s3cretpw@redis:6379/0", "s3cretpw"),
            ("postgresql://app:pa55word@db/app", "pa55word"),
            ("slack xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
        ],
    )
    def test_secrets_in_text_are_removed(self, text: str, secret: str) -> None:
        cleaned = logs.redact_text(text)
        assert secret not in cleaned and logs.REDACTED in cleaned

    def test_plain_text_is_left_alone(self) -> None:
        text = "run 4f1c finished: 120 tokens, cost 0.0021, model openai/gpt-4o, task-list ok"
        assert logs.redact_text(text) == text

    def test_sensitive_keys_are_removed_whatever_their_value(self) -> None:
        event = {"event": "login", "password": "x", "nested": {"Authorization": "abc"}, "n": 3}
        cleaned = logs.redact_secrets(None, "info", event)
        assert cleaned == {
            "event": "login",
            "password": logs.REDACTED,
            "nested": {"Authorization": logs.REDACTED},
            "n": 3,
        }


class TestOutput:
    def test_stdlib_logging_comes_out_as_json_without_secrets(self, output: io.StringIO) -> None:
        logging.getLogger("agent_platform.some_module").warning("calling with %s", PROVIDER_KEY)
        [line] = lines(output)
        assert line["event"] == f"calling with {logs.REDACTED}"
        assert line["level"] == "warning" and line["logger"] == "agent_platform.some_module"
        assert str(line["timestamp"]).endswith("Z")
        assert PROVIDER_KEY not in output.getvalue()

    def test_a_traceback_quoting_a_key_is_cleaned(self, output: io.StringIO) -> None:
        try:
            raise RuntimeError(f"provider rejected Bearer {API_KEY}")
        except RuntimeError:
            logging.getLogger("x").exception("call failed")
        [line] = lines(output)
        assert "RuntimeError" in str(line["exception"])
        assert API_KEY not in output.getvalue()

    def test_bound_ids_appear_and_go_away(self, output: io.StringIO) -> None:
        log = logging.getLogger("x")
        with logs.scope(run_id="r1"):
            logs.bind(org_id="o1")
            log.info("inside")
        log.info("outside")
        inside, outside = lines(output)
        assert inside["run_id"] == "r1" and inside["org_id"] == "o1"
        assert "run_id" not in outside and "org_id" not in outside

    def test_the_trace_id_of_the_current_span(self, output: io.StringIO) -> None:
        tracing.use_provider(TracerProvider())
        try:
            with tracing.agent_span("r1") as span:
                logging.getLogger("x").info("traced")
            trace_id = format(span.get_span_context().trace_id, "032x")
        finally:
            tracing.use_provider(None)
        [line] = lines(output)
        assert line["trace_id"] == trace_id

    def test_console_format_for_a_terminal(self) -> None:
        stream = io.StringIO()
        root = logging.getLogger()
        handlers = list(root.handlers)
        try:
            assert logs.configure("auto", stream=stream) == "json"  # not a terminal
            assert logs.configure("console", stream=stream) == "console"
            logging.getLogger("x").info("hello %s", API_KEY)
        finally:
            for handler in list(root.handlers):
                root.removeHandler(handler)
            for handler in handlers:
                root.addHandler(handler)
        text = stream.getvalue()
        assert "hello" in text and API_KEY not in text and not text.startswith("{")


def test_a_request_logs_with_its_request_id(output: io.StringIO) -> None:
    app = FastAPI()

    @app.get("/work")
    def work() -> dict[str, str]:
        logging.getLogger("agent_platform.api").info("working")
        return {"ok": "yes"}

    app.add_middleware(RequestContext)
    response = TestClient(app).get(
        "/work", headers={"X-Request-ID": "req-42", "Authorization": f"Bearer {API_KEY}"}
    )
    assert response.headers["x-request-id"] == "req-42"
    [line] = [x for x in lines(output) if x["event"] == "working"]
    assert line["request_id"] == "req-42"


def test_a_run_logs_with_its_run_and_org(output: io.StringIO, session, llm) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    llm.script(Turn(text="fine"))
    run_id = start(actor, agent_id)
    execute(run_id)
    [ended] = [x for x in lines(output) if x["event"] == "run ended: succeeded"]
    assert ended["run_id"] == str(run_id) and ended["org_id"] == str(actor.org_id)
    assert ended["agent_id"] == str(agent_id) and ended["logger"] == "services.runtime.engine"
    assert "sk-test-123456" not in output.getvalue()


def learn_org() -> str:
    """A sync dependency, like the API's key check."""
    logs.note(org_id="org-7")
    return "org-7"


def test_the_org_learnt_in_a_dependency_reaches_the_endpoints_lines(output: io.StringIO) -> None:
    """FastAPI runs sync dependencies and endpoints in threads with copied contexts."""
    app = FastAPI()

    @app.get("/work")
    def work(org: Annotated[str, Depends(learn_org)]) -> dict[str, str]:
        logging.getLogger("x").info("working for %s", org)
        return {}

    app.add_middleware(RequestContext)
    TestClient(app).get("/work", headers={"X-Request-ID": "req-7"})
    logging.getLogger("x").info("after the request")
    during, after = [x for x in lines(output) if x["logger"] == "x"]
    assert during["org_id"] == "org-7" and during["request_id"] == "req-7"
    assert "org_id" not in after and "request_id" not in after


def test_an_api_request_logs_its_org_and_never_its_key(output: io.StringIO, session) -> None:
    actor = personal_actor(session, make_user(session))
    secret = api_keys.create_key(session, actor, name="ci", role="builder").secret
    session.commit()
    api = create_api()

    @api.get("/probe-log")
    def probe(who: ApiActor, authorization: Annotated[str, Header()]) -> dict[str, str]:
        logging.getLogger("agent_platform.api").info("probe with %s", authorization)
        return {}

    response = TestClient(api).get("/probe-log", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    [line] = [x for x in lines(output) if str(x["event"]).startswith("probe")]
    assert line["org_id"] == str(actor.org_id) and line["request_id"]
    assert secret not in output.getvalue()
