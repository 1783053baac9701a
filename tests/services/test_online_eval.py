"""Online evaluation: rules sample production runs (never test runs), score them with
reference-free graders on the testing queue, and a low score raises an alert that a real RQ
worker posts to a webhook through the outbound guard."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from rq import SimpleWorker
from sqlmodel import Session, select

from agent_platform.db import session_scope
from agent_platform.models import OnlineScore, QualityAlert
from agent_platform.redis_client import get_redis
from services.errors import Invalid, NotFound
from services.queue import queue
from services.testing import online
from tests.factories import make_user, personal_actor
from tests.fakes.openai_server import ScriptedLLM, Turn
from tests.services.runtime_helpers import execute, make_agent, org_with_provider, start


class Receiver(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server name
        length = int(self.headers.get("Content-Length", "0"))
        Receiver.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts"
    server.shutdown()


def _work(name: str) -> None:
    SimpleWorker([queue(name)], connection=get_redis()).work(burst=True)


def test_sampled_runs_are_scored_and_low_scores_alert(
    session: Session, llm: ScriptedLLM, receiver: str
) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    rule = online.create_rule(
        session,
        actor,
        agent_id,
        {
            "name": "Greets",
            "sample_rate": 1.0,
            "assertions": [{"type": "icontains", "value": "hello"}],
            "alert_below": 0.5,
            "alert_webhook_url": receiver,
        },
    )
    session.commit()
    answers = ["Hello there!", "Go away.", "hello again"]
    run_ids = []
    for text in answers:
        llm.script(Turn(text=text), model="gpt-a")
        run_ids.append(start(actor, agent_id, "hi"))
        execute(run_ids[-1])

    with session_scope() as s:
        picks = online.sample(s)
    assert sorted(run for _rule, run in picks) == sorted(run_ids)
    with session_scope() as s:
        assert online.sample(s) == []  # already scanned
    _work("testing")
    with session_scope() as s:
        scores = {
            row.execution_id: row.passed
            for row in s.exec(select(OnlineScore).where(OnlineScore.rule_id == rule.id)).all()
        }
        assert scores == dict(zip(run_ids, [True, False, True], strict=True))
        [alert] = s.exec(select(QualityAlert).where(QualityAlert.org_id == actor.org_id)).all()
        assert alert.kind == "online_score" and "below 0.50" in alert.message
    _work("default")
    [posted] = Receiver.bodies
    assert posted["type"] == "quality.online_score" and posted["details"]["run_id"] == str(
        run_ids[1]
    )
    with session_scope() as s:
        delivered = s.exec(select(QualityAlert).where(QualityAlert.org_id == actor.org_id)).one()
        assert delivered.delivered_at is not None and delivered.delivery_error is None


def test_rules_in_words_and_tenancy(session: Session, llm: ScriptedLLM) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    with pytest.raises(Invalid, match="needs a reference answer"):
        online.create_rule(
            session,
            actor,
            agent_id,
            {"name": "x", "assertions": [{"type": "similar", "value": "a", "threshold": 0.5}]},
        )
    with pytest.raises(Invalid, match="Share of runs"):
        online.create_rule(
            session,
            actor,
            agent_id,
            {"name": "x", "sample_rate": 2, "assertions": [{"type": "no-pii"}]},
        )
    session.rollback()
    rule = online.create_rule(
        session, actor, agent_id, {"name": "pii", "assertions": [{"type": "no-pii"}]}
    )
    session.commit()
    other = personal_actor(session, make_user(session))
    session.commit()
    for call in (
        lambda s: online.get_rule(s, other, rule.id),
        lambda s: online.delete_rule(s, other, rule.id),
        lambda s: online.recent_scores(s, other, rule.id),
        lambda s: online.list_rules(s, other, agent_id),
        lambda s: online.create_rule(
            s, other, agent_id, {"name": "y", "assertions": [{"type": "no-pii"}]}
        ),
    ):
        with session_scope() as s, pytest.raises(NotFound):
            call(s)


def test_sampling_is_a_stable_share() -> None:
    rule_id = uuid.uuid4()
    runs = [uuid.uuid4() for _ in range(2000)]
    first = [online.chosen(rule_id, r, 0.25) for r in runs]
    assert first == [online.chosen(rule_id, r, 0.25) for r in runs]
    assert 400 < sum(first) < 600
    assert not any(online.chosen(rule_id, r, 0.0) for r in runs)
    assert all(online.chosen(rule_id, r, 1.0) for r in runs)
