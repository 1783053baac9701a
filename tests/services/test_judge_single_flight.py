"""Repeats of a case finish together with the same answer: one judge call answers them all."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

from services.llm.providers import ResolvedModel
from services.testing import grading, judge
from services.testing.assertions import parse_assertion
from services.testing.graders import Observation

JUDGE = ResolvedModel(
    ref="bench/judge", label="judge", litellm_model="openai/judge", api_base=None,
    api_key=None, api_version=None,
)  # fmt: skip
VERDICT = '{"criteria": [{"id": 1, "score": 0.9, "reason": "fine"}]}'


def _task(answer: str) -> grading.GradingTask:
    rubric = parse_assertion({"type": "llm-rubric", "value": "Is polite"}, "assertion 1")
    task = grading.GradingTask(
        result_id=uuid.uuid4(),
        suite_run_id=uuid.uuid4(),
        org_id=uuid.UUID(int=1),
        question="Say hello",
        observation=Observation(output=answer),
        assertions=[(rubric, 1.0)],
        threshold=None,
        reference=None,
        run_cost=Decimal("0"),
    )
    task.criteria = judge.criteria_of([rubric])
    task.judges = [JUDGE]
    task.keys[JUDGE.ref] = judge.cache_key(
        task.org_id, task.question, answer, task.criteria, JUDGE.ref, reference=None
    )
    return task


def test_the_same_question_asked_at_once_costs_one_judge_call() -> None:
    asked: list[str] = []

    async def slow_judge(model: ResolvedModel, messages: list[dict[str, Any]]) -> Any:
        asked.append(messages[1]["content"])
        await asyncio.sleep(0.05)  # sleep-ok: keeps the first call open while the others ask
        return VERDICT, Decimal("0.01")

    async def three_repeats_and_another_answer() -> list[grading.Evaluation]:
        tasks = [_task("Hello!"), _task("Hello!"), _task("Hello!"), _task("Go away.")]
        return await asyncio.gather(*(grading.evaluate(t, slow_judge) for t in tasks))

    evaluations = asyncio.run(three_repeats_and_another_answer())
    assert len(asked) == 2  # one per distinct answer
    first, *repeats, other = evaluations
    assert first.judge_cost == Decimal("0.01") and not first.judge_outcomes[0].cached
    assert all(e.judge_cost == 0 and e.judge_outcomes[0].cached for e in repeats)
    assert all(e.passed and e.score == first.score for e in repeats)
    assert other.judge_cost == Decimal("0.01")
    assert grading._asking == {}  # nothing left behind


def test_a_failed_judge_call_is_shared_as_a_failure_not_a_cached_verdict() -> None:
    async def failing_judge(model: ResolvedModel, messages: list[dict[str, Any]]) -> Any:
        await asyncio.sleep(0.05)  # sleep-ok: keeps the call open while the repeat asks
        raise RuntimeError("the judge is down")

    async def two_repeats() -> list[grading.Evaluation]:
        tasks = [_task("Hi"), _task("Hi")]
        return await asyncio.gather(*(grading.evaluate(t, failing_judge) for t in tasks))

    for evaluation in asyncio.run(two_repeats()):
        [outcome] = evaluation.judge_outcomes
        assert outcome.error == "the judge failed: the judge is down"
        assert not outcome.cached and not evaluation.passed
