"""Side effects of run services outside the database happen only after the caller commits."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from agent_platform.db import session_scope
from agent_platform.redis_client import get_redis
from services import runs
from services.queue import queue
from services.runtime.events import cancel_key
from tests.fakes.openai_server import ScriptedLLM
from tests.services.runtime_helpers import make_agent, org_with_provider


@pytest.fixture
def base_url(llm: ScriptedLLM) -> str:
    return llm.base_url


def test_cancel_flag_is_set_only_when_the_cancel_commits(session: Session, base_url: str) -> None:
    actor = org_with_provider(session, base_url)
    agent_id = make_agent(session, actor)
    with session_scope() as s:
        run_id = runs.start_run(s, actor, agent_id, message="hi").id
    with session_scope() as s:
        assert runs.claim(s, run_id)
    with pytest.raises(RuntimeError):
        with session_scope() as s:
            runs.cancel_run(s, actor, run_id)
            raise RuntimeError("the request failed after the service call")
    assert get_redis().get(cancel_key(run_id)) is None
    with session_scope() as s:
        runs.cancel_run(s, actor, run_id)
    assert get_redis().get(cancel_key(run_id)) == b"1"


def test_a_run_is_enqueued_only_when_its_row_commits(session: Session, base_url: str) -> None:
    actor = org_with_provider(session, base_url)
    agent_id = make_agent(session, actor)
    with pytest.raises(RuntimeError):
        with session_scope() as s:
            lost = runs.start_run(s, actor, agent_id, message="hi").id
            raise RuntimeError("rolled back")
    assert queue("agents").fetch_job(str(lost)) is None
    with session_scope() as s:
        kept = runs.start_run(s, actor, agent_id, message="hi").id
    assert queue("agents").fetch_job(str(kept)) is not None
