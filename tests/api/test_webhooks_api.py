"""Webhook triggers over HTTP: the public URL (status codes, limits, waiting for the answer)
and the trigger management API, through the real app routes."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from agent_platform.api import create_api
from agent_platform.db import session_scope
from agent_platform.models import Execution, ExecutionStatus, WebhookTrigger
from services import api_keys, webhooks
from tests.factories import make_user, personal_actor
from tests.fakes.openai_server import ScriptedLLM, Turn
from tests.services.runtime_helpers import execute, make_agent, org_with_provider
from tests.services.webhook_helpers import make_trigger, org_with_agent, signed_headers
from tests.waiting import wait_until

JSON = {"Content-Type": "application/json"}
BODY = json.dumps({"order": {"id": "A-17"}}).encode()


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


def _trigger(**settings: object) -> webhooks.IssuedWebhook:
    with session_scope() as s:
        actor, agent_id = org_with_agent(s)
        return make_trigger(s, actor, agent_id, **settings)


def _url(issued: webhooks.IssuedWebhook) -> str:
    return f"/api/v1/hooks/{issued.token}"


def _runs(trigger_id: uuid.UUID) -> list[Execution]:
    with session_scope() as s:
        found = s.exec(select(Execution).where(Execution.webhook_trigger_id == trigger_id)).all()
        return list(found)


class TestCalls:
    def test_a_call_answers_202_with_the_run_id_at_once(self, client: TestClient) -> None:
        issued = _trigger(input_mapping={"message": "Order {{payload.order.id}}"})
        response = client.post(_url(issued), content=BODY, headers=JSON)
        assert response.status_code == 202, response.text
        body = response.json()
        [run] = _runs(issued.trigger.id)
        assert body == {"run_id": str(run.id), "status": "queued", "duplicate": False}
        assert response.headers["location"] == f"/api/v1/runs/{run.id}"
        assert run.input["message"] == "Order A-17"

    def test_signed_calls_and_their_refusals(self, client: TestClient) -> None:
        issued = _trigger(require_signature=True)
        unsigned = client.post(_url(issued), content=BODY, headers=JSON)
        assert unsigned.status_code == 401
        assert "X-Signature header is missing" in unsigned.json()["detail"]
        wrong = client.post(
            _url(issued), content=BODY, headers={**JSON, **signed_headers("whsec_x", BODY)}
        )
        assert wrong.status_code == 401 and "does not match" in wrong.json()["detail"]
        stale = signed_headers(issued.secret, BODY, at=1_000_000_000)
        old = client.post(_url(issued), content=BODY, headers={**JSON, **stale})
        assert old.status_code == 401 and "at most 300 s" in old.json()["detail"]
        good = signed_headers(issued.secret, BODY)
        first = client.post(_url(issued), content=BODY, headers={**JSON, **good})
        replay = client.post(_url(issued), content=BODY, headers={**JSON, **good})
        assert first.status_code == replay.status_code == 202
        assert replay.json()["run_id"] == first.json()["run_id"]
        assert replay.json()["duplicate"] is True
        assert len(_runs(issued.trigger.id)) == 1

    def test_idempotency_key_gives_the_same_run(self, client: TestClient) -> None:
        issued = _trigger()
        headers = {**JSON, "Idempotency-Key": "evt_123"}
        a = client.post(_url(issued), content=BODY, headers=headers).json()
        b = client.post(_url(issued), content=BODY, headers=headers).json()
        assert a["run_id"] == b["run_id"] and b["duplicate"] is True
        changed = client.post(_url(issued), content=b'{"order": {"id": "B"}}', headers=headers)
        assert changed.status_code == 409 and "different payload" in changed.json()["detail"]
        assert len(_runs(issued.trigger.id)) == 1

    @pytest.mark.parametrize(
        ("content", "headers", "status", "words"),
        [
            (b"{oops", JSON, 400, "not valid JSON"),
            (b'"text"', JSON, 400, "must be a JSON object, not a string"),
            (b'{"order": {}}', JSON, 422, "no field 'order.id'"),
            (BODY, {"Content-Type": "text/plain"}, 415, "Content-Type: application/json"),
            (BODY, {}, 415, "no Content-Type"),
            (b'{"a": "' + b"x" * (256 * 1024) + b'"}', JSON, 413, "larger than 256 KiB"),
            (BODY, {**JSON, "Idempotency-Key": "k" * 151}, 400, "Idempotency-Key is too long"),
            (BODY, {**JSON, "Prefer": "wait=soon"}, 400, "whole number of seconds"),
        ],
    )
    def test_bad_requests_get_a_clear_4xx(
        self,
        client: TestClient,
        content: bytes,
        headers: dict[str, str],
        status: int,
        words: str,
    ) -> None:
        issued = _trigger(input_mapping={"message": "{{payload.order.id}}"})
        response = client.post(_url(issued), content=content, headers=headers)
        assert response.status_code == status, response.text
        assert words in response.json()["detail"]
        assert _runs(issued.trigger.id) == []

    def test_unknown_token_is_404_and_a_disabled_trigger_403(self, client: TestClient) -> None:
        missing = client.post("/api/v1/hooks/wh_unknown", content=BODY, headers=JSON)
        assert missing.status_code == 404
        assert missing.json()["detail"] == "No webhook trigger at this address."
        issued = _trigger(enabled=False)
        disabled = client.post(_url(issued), content=BODY, headers=JSON)
        assert disabled.status_code == 403 and "disabled" in disabled.json()["detail"]

    def test_over_the_rate_limit_is_429_with_retry_after(self, client: TestClient) -> None:
        issued = _trigger(rate_limit_per_minute=2)
        for n in range(2):
            ok = client.post(
                _url(issued), content=BODY, headers={**JSON, "Idempotency-Key": f"{n}"}
            )
            assert ok.status_code == 202
        refused = client.post(_url(issued), content=BODY, headers=JSON)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "at most 2 a minute" in refused.json()["detail"]
        assert len(_runs(issued.trigger.id)) == 2


class TestWaiting:
    def _runnable_trigger(self, llm: ScriptedLLM, **settings: object) -> webhooks.IssuedWebhook:
        with session_scope() as s:
            actor = org_with_provider(s, llm.base_url)
            agent_id = make_agent(s, actor)
            return make_trigger(s, actor, agent_id, **settings)

    def test_wait_answers_200_with_the_output_when_the_run_ends_in_time(
        self, client: TestClient, llm: ScriptedLLM
    ) -> None:
        issued = self._runnable_trigger(llm, max_wait_seconds=60)
        llm.script(Turn(text="Order received."))
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(
                client.post, _url(issued) + "?wait=60", content=BODY, headers=JSON
            )
            [run] = wait_until(lambda: _runs(issued.trigger.id), what="the run to be written")
            finished, _ = execute(run.id)  # a worker runs it meanwhile
            response = pending.result(timeout=60)
        assert finished.status == ExecutionStatus.SUCCEEDED, finished.error
        assert response.status_code == 200, response.text
        assert response.json() == {
            "run_id": str(run.id),
            "status": "succeeded",
            "duplicate": False,
            "output": {"text": "Order received."},
            "error": None,
        }

    def test_the_wait_is_capped_by_the_trigger_and_then_202(
        self, client: TestClient, llm: ScriptedLLM
    ) -> None:
        issued = self._runnable_trigger(llm, max_wait_seconds=1)
        response = client.post(_url(issued) + "?wait=30", content=BODY, headers=JSON)
        assert response.status_code == 202
        assert response.json()["status"] == "queued"

    def test_a_repeated_key_that_waits_gets_the_ended_runs_answer(
        self, client: TestClient, llm: ScriptedLLM
    ) -> None:
        issued = self._runnable_trigger(llm, max_wait_seconds=30)
        llm.script(Turn(text="First answer."))
        headers = {**JSON, "Idempotency-Key": "once"}
        run_id = client.post(_url(issued), content=BODY, headers=headers).json()["run_id"]
        execute(uuid.UUID(run_id))
        again = client.post(_url(issued) + "?wait=30", content=BODY, headers=headers)
        assert again.status_code == 200
        assert again.json()["output"] == {"text": "First answer."}
        assert again.json()["duplicate"] is True


def _key(role: str = "builder") -> tuple[str, uuid.UUID]:
    with session_scope() as s:
        actor, agent_id = org_with_agent(s)
        return api_keys.create_key(s, actor, name="ci", role=role).secret, agent_id


class TestManagement:
    def test_create_list_update_rotate_delete_with_an_api_key(self, client: TestClient) -> None:
        key, agent_id = _key()
        auth = {"Authorization": f"Bearer {key}"}
        created = client.post(
            f"/api/v1/agents/{agent_id}/webhooks",
            json={"name": "Shop", "input_mapping": {"message": "{{payload.order.id}}"}},
            headers=auth,
        )
        assert created.status_code == 201, created.text
        out = created.json()
        trigger_id = out["trigger"]["id"]
        assert out["url"].endswith("/api/v1/hooks/" + out["url"].rsplit("/", 1)[1])
        assert out["secret"].startswith("whsec_") and out["trigger"]["require_signature"]
        token = out["url"].rsplit("/", 1)[1]
        signed = {**JSON, **signed_headers(out["secret"], BODY)}
        assert (
            client.post(f"/api/v1/hooks/{token}", content=BODY, headers=signed).status_code == 202
        )

        listed = client.get(f"/api/v1/agents/{agent_id}/webhooks", headers=auth).json()
        assert [t["id"] for t in listed] == [trigger_id]
        assert out["secret"] not in json.dumps(listed) and token not in json.dumps(listed)

        patched = client.patch(
            f"/api/v1/webhooks/{trigger_id}", json={"enabled": False}, headers=auth
        )
        assert patched.status_code == 200 and patched.json()["enabled"] is False
        bad = client.patch(
            f"/api/v1/webhooks/{trigger_id}", json={"rate_limit_per_minute": 0}, headers=auth
        )
        assert bad.status_code == 422

        rotated = client.post(
            f"/api/v1/webhooks/{trigger_id}/rotate", json={"secret": False}, headers=auth
        ).json()
        assert rotated["url"] and rotated["secret"] is None and rotated["url"] != out["url"]

        assert client.delete(f"/api/v1/webhooks/{trigger_id}", headers=auth).status_code == 204
        assert client.get(f"/api/v1/webhooks/{trigger_id}", headers=auth).status_code == 404
        with session_scope() as s:
            assert s.get(WebhookTrigger, uuid.UUID(trigger_id)) is None

    def test_a_trigger_made_with_a_key_acts_as_the_keys_creator(self, client: TestClient) -> None:
        key, agent_id = _key()
        out = client.post(
            f"/api/v1/agents/{agent_id}/webhooks",
            json={"name": "K", "require_signature": False},
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        with session_scope() as s:
            trigger = s.get(WebhookTrigger, uuid.UUID(out["trigger"]["id"]))
            assert trigger.created_by_id is not None
        response = client.post(urlsplit(out["url"]).path, content=BODY, headers=JSON)
        assert response.status_code == 202, response.text

    def test_another_orgs_key_sees_and_manages_nothing(self, client: TestClient) -> None:
        issued = _trigger()
        with session_scope() as s:
            stranger = personal_actor(s, make_user(s))
            other_key = api_keys.create_key(s, stranger, name="other", role="admin").secret
        auth = {"Authorization": f"Bearer {other_key}"}
        trigger_id, agent_id = issued.trigger.id, issued.trigger.agent_id
        assert client.get(f"/api/v1/webhooks/{trigger_id}", headers=auth).status_code == 404
        assert client.get(f"/api/v1/agents/{agent_id}/webhooks", headers=auth).status_code == 404
        calls = [
            client.patch(f"/api/v1/webhooks/{trigger_id}", json={"enabled": False}, headers=auth),
            client.post(f"/api/v1/webhooks/{trigger_id}/rotate", json={}, headers=auth),
            client.delete(f"/api/v1/webhooks/{trigger_id}", headers=auth),
            client.post(f"/api/v1/agents/{agent_id}/webhooks", json={"name": "x"}, headers=auth),
        ]
        assert [c.status_code for c in calls] == [404, 404, 404, 404]
        with session_scope() as s:
            assert s.get(WebhookTrigger, trigger_id).enabled is True

    def test_a_viewer_key_cannot_create_and_no_key_is_401(self, client: TestClient) -> None:
        key, agent_id = _key(role="viewer")
        url = f"/api/v1/agents/{agent_id}/webhooks"
        viewer = client.post(url, json={"name": "x"}, headers={"Authorization": f"Bearer {key}"})
        assert viewer.status_code == 403
        assert client.post(url, json={"name": "x"}).status_code == 401
