"""Grading one finished test run, and closing the suite run when its last run is graded.

In three steps so no database session is held across a model call: `collect` reads what the
graders need (and the judge verdicts already cached), `evaluate` grades — deterministic first,
then similarity, then one judge call per judge model for what is left — and `record` writes the
verdict, counts the run into its suite run atomically, stops the suite when its budget is
spent, and closes it when every run is in. The job wrapper owns the sessions and commits.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from agent_platform.models import (
    AgentConfig,
    AgentTest,
    AgentVersion,
    Execution,
    ExecutionStatus,
    ExecutionStep,
    JudgeVerdict,
    SuiteRun,
    SuiteRunStatus,
    TestResult,
    TestSuite,
)
from agent_platform.models.base import utcnow
from services.llm import gateway
from services.llm.providers import ResolvedModel, resolve
from services.memory.embedders import get_embedder
from services.testing import judge
from services.testing.assertions import Assertion, Family, parse_assertion
from services.testing.closing import finalize, stop_unfinished
from services.testing.graders import Grade, Observation, ToolCall, case_score, grade

JudgeCall = Callable[[ResolvedModel, list[dict[str, Any]]], Awaitable[tuple[str, Decimal]]]
Embed = Callable[[list[str]], list[list[float]]]


@dataclass
class GradingTask:
    result_id: uuid.UUID
    suite_run_id: uuid.UUID
    org_id: uuid.UUID
    question: str
    observation: Observation
    assertions: list[tuple[Assertion, float]]  # with weights
    threshold: float | None
    reference: str | None
    run_cost: Decimal
    criteria: list[judge.Criterion] = field(default_factory=list)
    judges: list[ResolvedModel] = field(default_factory=list)
    judge_problem: str | None = None  # why no judge could be asked (no model configured, …)
    cached: dict[str, judge.JudgeOutcome] = field(default_factory=dict)  # by judge model ref
    keys: dict[str, str] = field(default_factory=dict)  # judge model ref → cache key
    examples: list[judge.Example] = field(default_factory=list)


@dataclass
class Evaluation:
    grades: list[Grade]
    passed: bool
    score: float
    judge_outcomes: list[judge.JudgeOutcome]
    judge_cost: Decimal = Decimal("0")


async def call_judge(model: ResolvedModel, messages: list[dict[str, Any]]) -> tuple[str, Decimal]:
    """Ask one judge model, deterministically (temperature 0), through the guarded gateway."""
    options = gateway.CallOptions(temperature=0, max_tokens=1_200, retries=1)
    result = await gateway.complete([model], messages, options=options)
    return result.text, result.cost or Decimal("0")


def observation_of(session: Session, run: Execution, canary: str | None) -> Observation:
    """What a run produced, as the graders see it: answer, tool calls, time, cost, tokens."""
    steps = session.exec(
        select(ExecutionStep)
        .where(ExecutionStep.execution_id == run.id, ExecutionStep.kind == "tool")
        .order_by(col(ExecutionStep.position))
    ).all()
    calls = tuple(ToolCall(s.tool_name or "", dict(s.arguments or {})) for s in steps)
    output = (run.output or {}).get("text", "") if run.output else ""
    failed = run.status != ExecutionStatus.SUCCEEDED
    return Observation(
        output=str(output),
        tool_calls=calls,
        latency_ms=run.latency_ms,
        cost=run.cost,
        tokens=run.tokens_used,
        canary=canary,
        error=(run.error or f"the run ended {run.status.value}") if failed else None,
    )


def _examples(session: Session, suite_id: uuid.UUID) -> list[judge.Example]:
    rows = session.exec(
        select(TestResult, Execution)
        .join(AgentTest, col(AgentTest.id) == TestResult.test_id)
        .join(Execution, col(Execution.id) == TestResult.execution_id)
        .where(AgentTest.suite_id == suite_id, col(TestResult.overruled).is_not(None))
        .order_by(col(TestResult.graded_at).desc())
        .limit(judge.MAX_EXAMPLES)
    ).all()
    return [
        judge.Example(
            output=str((run.output or {}).get("text", "")),
            passed=bool(result.overruled),
            note=result.overrule_note or "",
        )
        for result, run in rows
    ]


def collect(session: Session, execution_id: uuid.UUID) -> GradingTask | None:
    """What grading one finished run needs; None when there is nothing (left) to grade."""
    result = session.exec(select(TestResult).where(TestResult.execution_id == execution_id)).first()
    if result is None or result.graded_at is not None:
        return None
    run = session.get(Execution, execution_id)
    case = session.get(AgentTest, result.test_id)
    suite_run = session.get(SuiteRun, result.suite_run_id)
    if run is None or case is None or suite_run is None:
        return None
    suite = session.get(TestSuite, suite_run.suite_id)
    if suite is None:
        return None
    raw = [*suite.default_assertions, *case.assertions]
    assertions = [
        (parse_assertion(item, f"assertion {i + 1}"), float(item.get("weight", 1.0)))
        for i, item in enumerate(raw)
    ]
    task = GradingTask(
        result_id=result.id,
        suite_run_id=suite_run.id,
        org_id=result.org_id,
        question=str((run.input or {}).get("message", "")),
        observation=observation_of(session, run, result.canary),
        assertions=assertions,
        threshold=case.threshold,
        reference=case.expected,
        run_cost=run.cost or Decimal("0"),
    )
    task.criteria = judge.criteria_of([a for a, _w in assertions])
    # The suite's judge models; none means the agent's own model (see attach_judges).
    attach_judges(session, task, list(suite.judge_models), run=run, suite_id=suite.id)
    return task


def attach_judges(
    session: Session,
    task: GradingTask,
    refs: list[str],
    *,
    run: Execution,
    suite_id: uuid.UUID | None,
) -> None:
    """Resolve the judge models, load their cached verdicts, and (for a suite) the examples a
    person's overrulings give. No judge is asked for a run that failed."""
    if not task.criteria or task.observation.error is not None:
        return
    if not refs:
        version = session.get(AgentVersion, run.agent_version_id) if run.agent_version_id else None
        refs = AgentConfig.model_validate(version.config).model_chain[:1] if version else []
    if not refs:
        task.judge_problem = "no judge model: set one on the suite or give the agent a model"
    if suite_id is not None:
        task.examples = _examples(session, suite_id)
    for ref in refs:
        try:
            task.judges.append(resolve(session, task.org_id, ref))
        except Exception as exc:  # noqa: BLE001 - a judge that cannot be reached fails its votes
            task.judge_problem = f"the judge model {ref} cannot be used: {exc}"
            continue
        key = judge.cache_key(
            task.org_id,
            task.question,
            task.observation.output,
            task.criteria,
            ref,
            reference=task.reference,
            examples=task.examples,
        )
        task.keys[ref] = key
        hit = session.get(JudgeVerdict, key)
        if hit is not None:
            task.cached[ref] = judge.JudgeOutcome.from_json(hit.verdict)


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _similar(a: Assertion, obs: Observation, embed: Embed) -> Grade:
    threshold = a.threshold if a.threshold is not None else 0.75
    if obs.error is not None:
        return Grade(False, 0.0, f"the run failed: {obs.error[:60]}", a.written_type)
    try:
        answer, reference = embed([obs.output, str(a.value)])
    except Exception as exc:  # noqa: BLE001 - an embedder failure fails this assertion only
        return Grade(False, 0.0, f"the embedder failed: {str(exc)[:120]}", a.written_type)
    score = max(0.0, _cosine(answer, reference))
    passed = score >= threshold
    reason = f"similarity {score:.2f} " + ("≥" if passed else "<") + f" {threshold:.2f}"
    if a.negate:
        passed, reason = not passed, f"expected the opposite: {reason}"
    return Grade(passed, score if not a.negate else 1 - score, reason, a.written_type)


def _judge_grades(task: GradingTask, outcomes: list[judge.JudgeOutcome]) -> dict[int, Grade]:
    """One grade per judge assertion (by its index), from its criteria's verdicts."""
    by_assertion: dict[int, list[judge.CriterionVerdict]] = defaultdict(list)
    for verdict in judge.decide(task.criteria, outcomes) if outcomes else []:
        by_assertion[verdict.criterion.assertion_index].append(verdict)
    grades: dict[int, Grade] = {}
    for index, (a, _w) in enumerate(task.assertions):
        if a.family is not Family.JUDGE:
            continue
        verdicts = by_assertion.get(index, [])
        if task.observation.error is not None:
            grades[index] = Grade(
                False, 0.0, f"the run failed: {task.observation.error[:60]}", a.written_type
            )
            continue
        if not verdicts:
            reason = task.judge_problem or "the judge gave no verdict"
            grades[index] = Grade(False, 0.0, reason, a.written_type)
            continue
        passed = all(v.passed for v in verdicts)
        score = sum(v.score for v in verdicts) / len(verdicts)
        reason = " / ".join(v.reason for v in verdicts)[:600]
        if a.negate:
            passed, score, reason = not passed, 1 - score, f"expected the opposite: {reason}"
        grades[index] = Grade(passed, score, reason, a.written_type)
    return grades


# Judge questions being asked right now in this process, by cache key. The repeats of a case
# finish together with the same answer; one judge call answers them all (the others count
# as cache hits), instead of each missing the cache and paying for the same verdict.
_asking: dict[str, asyncio.Future[judge.JudgeOutcome]] = {}


async def _ask(
    key: str,
    model: ResolvedModel,
    messages: list[dict[str, Any]],
    call_judge: JudgeCall,
    criteria: Sequence[judge.Criterion],
) -> tuple[judge.JudgeOutcome, Decimal]:
    answered: asyncio.Future[judge.JudgeOutcome] = asyncio.get_running_loop().create_future()
    if key:
        _asking[key] = answered
    outcome = judge.JudgeOutcome(model=model.ref, error="the judge was not asked")
    cost = Decimal("0")
    try:
        text, cost = await call_judge(model, messages)
        outcome = judge.parse_reply(model.ref, text, criteria)
    except Exception as exc:  # noqa: BLE001 - a failed judge is a failing vote, kept
        outcome = judge.JudgeOutcome(model=model.ref, error=f"the judge failed: {exc}")
    finally:  # also when cancelled: nobody waiting on this question waits for ever
        if key:
            _asking.pop(key, None)
        answered.set_result(outcome)
    return outcome, cost


async def evaluate(
    task: GradingTask, call_judge: JudgeCall, embed: Embed | None = None
) -> Evaluation:
    """Grade a collected run: no database here, only the graders and the judge calls."""
    outcomes: list[judge.JudgeOutcome] = []
    judge_cost = Decimal("0")
    if task.criteria and task.observation.error is None:
        messages = judge.messages_for(
            task.criteria,
            question=task.question,
            answer=task.observation.output,
            reference=task.reference,
            examples=task.examples,
        )
        for model in task.judges:
            cached = task.cached.get(model.ref)
            if cached is not None:
                outcomes.append(cached)
                continue
            key = task.keys.get(model.ref, "")
            asked = _asking.get(key) if key else None
            if asked is not None:  # the same question is with the judge right now
                shared = await asyncio.shield(asked)
                outcomes.append(replace(shared, cached=shared.error is None))
                continue
            outcome, cost = await _ask(key, model, messages, call_judge, task.criteria)
            judge_cost += cost
            outcomes.append(outcome)
    judged = _judge_grades(task, outcomes)
    embedder = embed or (lambda texts: get_embedder().embed(texts))
    grades: list[tuple[Grade, float]] = []
    for index, (a, weight) in enumerate(task.assertions):
        if a.family is Family.DETERMINISTIC:
            grades.append((grade(a, task.observation), weight))
        elif a.family is Family.SIMILARITY:
            grades.append((_similar(a, task.observation, embedder), weight))
        else:
            grades.append((judged[index], weight))
    passed, score = case_score(grades)
    if task.threshold is not None and grades:
        passed = score >= task.threshold
    if not grades:
        # A case with no assertions passes when the run itself succeeded.
        passed, score = (
            task.observation.error is None,
            1.0 if task.observation.error is None else 0.0,
        )
    return Evaluation([g for g, _w in grades], passed, score, outcomes, judge_cost)


def record(session: Session, task: GradingTask, evaluation: Evaluation) -> SuiteRun | None:
    """Write the verdict, count the run in, and close the suite run when it is complete."""
    # Locked: a grading job delivered twice waits here for the first verdict, then finds the
    # result graded, instead of counting the run into its suite run a second time.
    result = session.get(TestResult, task.result_id, with_for_update=True, populate_existing=True)
    if result is None or result.graded_at is not None:
        return None
    result.passed = evaluation.passed
    result.score = round(evaluation.score, 4)
    result.graded_at = utcnow()
    result.details = {
        "output": task.observation.output[:4000],
        "error": task.observation.error,
        "grades": [g.to_dict() for g in evaluation.grades],
        "judges": [o.to_json() for o in evaluation.judge_outcomes],
        "judge_cached": [o.model for o in evaluation.judge_outcomes if o.cached],
        "latency_ms": task.observation.latency_ms,
        "tokens": task.observation.tokens,
        "tool_calls": [c.name for c in task.observation.tool_calls],
    }
    session.add(result)
    for outcome in evaluation.judge_outcomes:
        key = task.keys.get(outcome.model)
        if key and not outcome.cached and outcome.error is None:
            session.merge(
                JudgeVerdict(
                    key=key,
                    org_id=task.org_id,
                    judge_model=outcome.model,
                    verdict=outcome.to_json(),
                )
            )
    counted = session.execute(
        update(SuiteRun)
        .where(col(SuiteRun.id) == task.suite_run_id)
        .values(
            finished_runs=SuiteRun.finished_runs + 1,
            cost=SuiteRun.cost + task.run_cost + evaluation.judge_cost,
        )
        .returning(col(SuiteRun.finished_runs), col(SuiteRun.total_runs), col(SuiteRun.cost))
    ).first()
    suite_run = session.get(SuiteRun, task.suite_run_id)
    if counted is None or suite_run is None:
        return None
    session.refresh(suite_run)
    over_budget = (
        suite_run.budget_usd is not None
        and suite_run.status == SuiteRunStatus.RUNNING
        and suite_run.cost >= suite_run.budget_usd
    )
    if over_budget:
        suite_run.status = SuiteRunStatus.BUDGET
        suite_run.error = (
            f"Stopped: the suite spent ${suite_run.cost:.4f} of its ${suite_run.budget_usd:.4f} "
            "budget."
        )
        session.add(suite_run)
        session.flush()
        stop_unfinished(session, suite_run, reason="Not run: the suite's budget was reached.")
        session.refresh(suite_run)
    if suite_run.finished_runs >= suite_run.total_runs:
        finalize(session, suite_run)
    return suite_run


def record_failure(session: Session, execution_id: uuid.UUID, reason: str) -> SuiteRun | None:
    """A run the graders could not grade (a grading job that raised) still gets a verdict —
    failed, with the reason — and is counted in, so its suite run closes instead of waiting
    for it forever."""
    result = session.exec(select(TestResult).where(TestResult.execution_id == execution_id)).first()
    run = session.get(Execution, execution_id)
    if result is None or run is None or result.graded_at is not None:
        return None
    problem = f"grading failed: {reason}"[:600]
    observation = observation_of(session, run, result.canary)
    task = GradingTask(
        result_id=result.id,
        suite_run_id=result.suite_run_id,
        org_id=result.org_id,
        question=str((run.input or {}).get("message", "")),
        observation=observation,
        assertions=[],
        threshold=None,
        reference=None,
        run_cost=run.cost or Decimal("0"),
    )
    grades = [Grade(False, 0.0, problem, "grading")]
    return record(session, task, Evaluation(grades, False, 0.0, []))


def stranded(session: Session, *, older_than: timedelta) -> list[uuid.UUID]:
    """Test runs that ended a while ago and still have no verdict — their grading job was
    lost (Redis flushed, the enqueue after commit failed) or failed before it could record
    one. The reconciler enqueues them again; grading is idempotent, so a job that was only
    slow is not counted twice."""
    ended = (
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.TIMED_OUT,
    )
    rows = session.exec(
        select(TestResult.execution_id)
        .join(Execution, col(Execution.id) == TestResult.execution_id)
        .join(SuiteRun, col(SuiteRun.id) == TestResult.suite_run_id)
        .where(
            col(TestResult.graded_at).is_(None),
            col(Execution.status).in_(ended),
            col(Execution.finished_at) < utcnow() - older_than,
            col(SuiteRun.finished_runs) < SuiteRun.total_runs,
        )
        .limit(500)
    ).all()
    return [run_id for run_id in rows if run_id is not None]
