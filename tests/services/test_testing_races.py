"""Suite runs that must close however their runs end, and verdicts counted once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from agent_platform.db import session_scope
from agent_platform.models import SuiteRunStatus
from services import runs
from tests.fakes.openai_server import ScriptedLLM
from tests.services.runtime_helpers import make_agent, org_with_provider
from tests.services.test_testing_engine import _case, _grade_all, _start, _suite, _suite_run


@pytest.fixture(scope="module")
def llm_server() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


@pytest.fixture
def llm(llm_server: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedLLM]:
    from agent_platform.settings import get_settings

    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    llm_server.reset()
    yield llm_server
    get_settings.cache_clear()


def test_a_test_run_cancelled_before_it_starts_is_graded_and_closes_its_suite(
    session: Session, llm: ScriptedLLM
) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    _case(session, actor, suite_id, name="One", message="one")
    suite_run_id, [row] = _start(actor, suite_id)
    with session_scope() as s:
        runs.cancel_run(s, actor, row.execution_id)
    assert _grade_all() == 1
    done = _suite_run(suite_run_id)
    assert done.status == SuiteRunStatus.FAILED
    assert done.finished_runs == 1 and done.failed_cases == 1
