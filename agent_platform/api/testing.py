"""Test suites over REST (/api/v1, organization API keys). HTTP only: every rule lives in
`services.testing`; errors become statuses in `api/errors.py`.

    GET/POST   /agents/{id}/suites            list / create
    POST       /agents/{id}/suites/import     a promptfoo-style YAML body (text/yaml)
    POST       /agents/{id}/suites/safety     create or refresh the platform safety suite
    GET/PUT/DELETE /suites/{id}               one suite;  GET /suites/{id}/export → YAML
    GET/POST   /suites/{id}/cases             cases;  PUT/DELETE /cases/{id}
    POST       /cases/{id}/accept | /reject   decide on a drafted case
    POST       /agents/{id}/tests/run         start a suite run → its id
    GET        /tests/runs/{id}               status, progress and results
    POST       /tests/runs/{id}/cancel
    POST       /agents/{id}/tests/generate    drafts from the agent, plus the safety probes
    POST       /tests/results/{id}/overrule   a person's verdict
    GET        /suites/{id}/history           score over runs and versions
    GET        /tests/runs/{a}/compare/{b}    two runs case by case, regressions first
    GET/POST   /agents/{id}/eval-rules        online evaluation;  DELETE /eval-rules/{id}
    GET        /eval-rules/{id}/scores        sampled production runs' scores
    GET        /quality-alerts                recent alerts
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from agent_platform.models import (
    AgentTest,
    CaseStatus,
    EvalRule,
    SuiteRun,
    TestKind,
    TestResult,
    TestSuite,
)
from services.access import Actor
from services.errors import Invalid, NotFound
from services.testing import alerts, generate, online, runner, safety, suites, views

from .agents import YamlResponse, yaml_file
from .v1 import ApiActor, RequestSession, RunActor, WriteActor

router = APIRouter(prefix="/api/v1", tags=["tests"])
MAX_YAML_BYTES = 2_000_000


class SuiteOut(BaseModel):
    id: str
    agent_id: str
    name: str
    kind: str
    description: str
    pinned_version_id: str | None
    judge_models: list[str]
    repeat: int
    pass_k: int
    pass_threshold: float
    budget_usd: Decimal | None
    run_on_new_version: bool
    required_for_publish: bool
    builtin: str | None


class CaseOut(BaseModel):
    id: str
    suite_id: str
    name: str
    message: str
    variables: dict[str, Any]
    conversation: list[dict[str, str]]
    assertions: list[dict[str, Any]]
    expected: str | None
    threshold: float | None
    tags: list[str]
    weight: float
    status: str
    source: str


class ResultOut(BaseModel):
    case_id: str
    repeat: int
    run_id: str | None
    passed: bool | None
    score: float | None
    overruled: bool | None
    details: dict[str, Any]


class SuiteRunOut(BaseModel):
    id: str
    suite_id: str
    agent_version_id: str | None
    status: str
    trigger: str
    repeat: int
    total_runs: int
    finished_runs: int
    passed_cases: int
    failed_cases: int
    flaky_cases: int
    score: float | None
    cost: Decimal
    budget_usd: Decimal | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    results: list[ResultOut] = Field(default_factory=list)


class GenerateRequest(BaseModel):
    suite_id: uuid.UUID | None = None


class GenerateOut(BaseModel):
    suite_id: str
    drafted: int
    merged: int
    safety_suite_id: str | None
    note: str | None
    problems: list[str]


class OverruleRequest(BaseModel):
    passed: bool
    note: str = ""


class RunRequest(BaseModel):
    suite_id: uuid.UUID | None = None
    suite: str | None = None  # or the suite's name
    repeat: int | None = None
    budget_usd: Decimal | None = None


def _id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("Not found.") from None


def _suite_out(suite: TestSuite) -> SuiteOut:
    return SuiteOut(
        id=str(suite.id),
        agent_id=str(suite.agent_id),
        name=suite.name,
        kind=suite.kind.value,
        description=suite.description,
        pinned_version_id=str(suite.pinned_version_id) if suite.pinned_version_id else None,
        judge_models=list(suite.judge_models),
        repeat=suite.repeat,
        pass_k=suite.pass_k,
        pass_threshold=suite.pass_threshold,
        budget_usd=suite.budget_usd,
        run_on_new_version=suite.run_on_new_version,
        required_for_publish=suite.required_for_publish,
        builtin=suite.builtin,
    )


def _case_out(case: AgentTest) -> CaseOut:
    data = case.input or {}
    return CaseOut(
        id=str(case.id),
        suite_id=str(case.suite_id),
        name=case.name,
        message=str(data.get("message", "")),
        variables=dict(data.get("variables") or {}),
        conversation=list(data.get("conversation") or []),
        assertions=list(case.assertions),
        expected=case.expected,
        threshold=case.threshold,
        tags=list(case.tags),
        weight=case.weight,
        status=case.status.value,
        source=case.source.value,
    )


def _result_out(result: TestResult) -> ResultOut:
    return ResultOut(
        case_id=str(result.test_id),
        repeat=result.repeat_index,
        run_id=str(result.execution_id) if result.execution_id else None,
        passed=result.passed,
        score=result.score,
        overruled=result.overruled,
        details=dict(result.details or {}),
    )


def _run_out(run: SuiteRun, results: list[TestResult] | None = None) -> SuiteRunOut:
    return SuiteRunOut(
        id=str(run.id),
        suite_id=str(run.suite_id),
        agent_version_id=str(run.agent_version_id) if run.agent_version_id else None,
        status=run.status.value,
        trigger=run.trigger,
        repeat=run.repeat,
        total_runs=run.total_runs,
        finished_runs=run.finished_runs,
        passed_cases=run.passed_cases,
        failed_cases=run.failed_cases,
        flaky_cases=run.flaky_cases,
        score=run.score,
        cost=run.cost,
        budget_usd=run.budget_usd,
        error=run.error,
        created_at=run.created_at,
        finished_at=run.finished_at,
        results=[_result_out(r) for r in results or []],
    )


@router.get("/agents/{agent_id}/suites", response_model=list[SuiteOut])
def list_suites(
    agent_id: str, session: RequestSession, actor: ApiActor, search: str = ""
) -> list[SuiteOut]:
    rows = suites.list_suites(session, actor, agent_id=_id(agent_id), search=search)
    return [_suite_out(s) for s in rows]


@router.post("/agents/{agent_id}/suites", response_model=SuiteOut, status_code=201)
def create_suite(
    agent_id: str, data: dict[str, Any], session: RequestSession, actor: WriteActor
) -> SuiteOut:
    return _suite_out(suites.create_suite(session, actor, _id(agent_id), data))


@router.post("/agents/{agent_id}/suites/import", response_model=SuiteOut, status_code=201)
async def import_suite(
    agent_id: str,
    request: Request,
    session: RequestSession,
    actor: WriteActor,
    name: str | None = None,
    kind: TestKind = TestKind.FUNCTIONAL,
) -> SuiteOut:
    body = await request.body()
    if len(body) > MAX_YAML_BYTES:
        raise Invalid(f"The suite file is larger than {MAX_YAML_BYTES // 1_000_000} MB.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("The suite file must be UTF-8 text.") from None
    suite = suites.import_yaml(session, actor, _id(agent_id), text, name=name, kind=kind)
    return _suite_out(suite)


@router.post("/agents/{agent_id}/suites/safety", response_model=SuiteOut)
def safety_suite(agent_id: str, session: RequestSession, actor: WriteActor) -> SuiteOut:
    return _suite_out(safety.ensure_safety_suite(session, actor, _id(agent_id)))


@router.get("/suites/{suite_id}", response_model=SuiteOut)
def get_suite(suite_id: str, session: RequestSession, actor: ApiActor) -> SuiteOut:
    return _suite_out(suites.get_suite(session, actor, _id(suite_id)))


@router.put("/suites/{suite_id}", response_model=SuiteOut)
def update_suite(
    suite_id: str, data: dict[str, Any], session: RequestSession, actor: WriteActor
) -> SuiteOut:
    return _suite_out(suites.update_suite(session, actor, _id(suite_id), data))


@router.delete("/suites/{suite_id}", status_code=204)
def delete_suite(suite_id: str, session: RequestSession, actor: WriteActor) -> Response:
    suites.delete_suite(session, actor, _id(suite_id))
    return Response(status_code=204)


@router.get(
    "/suites/{suite_id}/export",
    response_class=YamlResponse,
    responses=yaml_file("description, defaultTest, tests (promptfoo-style)"),
)
def export_suite(suite_id: str, session: RequestSession, actor: ApiActor) -> YamlResponse:
    return YamlResponse(suites.export_yaml(session, actor, _id(suite_id)))


@router.get("/suites/{suite_id}/cases", response_model=list[CaseOut])
def list_cases(
    suite_id: str,
    session: RequestSession,
    actor: ApiActor,
    status: CaseStatus | None = None,
    search: str = "",
    offset: int = 0,
    limit: int = 100,
) -> list[CaseOut]:
    rows = suites.list_cases(
        session, actor, _id(suite_id), status=status, search=search, offset=offset, limit=limit
    )
    return [_case_out(c) for c in rows]


@router.post("/suites/{suite_id}/cases", response_model=CaseOut, status_code=201)
def add_case(
    suite_id: str, data: dict[str, Any], session: RequestSession, actor: WriteActor
) -> CaseOut:
    return _case_out(suites.add_case(session, actor, _id(suite_id), data))


@router.put("/cases/{case_id}", response_model=CaseOut)
def update_case(
    case_id: str, data: dict[str, Any], session: RequestSession, actor: WriteActor
) -> CaseOut:
    return _case_out(suites.update_case(session, actor, _id(case_id), data))


@router.delete("/cases/{case_id}", status_code=204)
def delete_case(case_id: str, session: RequestSession, actor: WriteActor) -> Response:
    suites.delete_case(session, actor, _id(case_id))
    return Response(status_code=204)


@router.post("/cases/{case_id}/accept", response_model=CaseOut)
def accept_case(case_id: str, session: RequestSession, actor: WriteActor) -> CaseOut:
    return _case_out(suites.set_case_status(session, actor, _id(case_id), CaseStatus.ACCEPTED))


@router.post("/cases/{case_id}/reject", response_model=CaseOut)
def reject_case(case_id: str, session: RequestSession, actor: WriteActor) -> CaseOut:
    return _case_out(suites.set_case_status(session, actor, _id(case_id), CaseStatus.REJECTED))


@router.post("/agents/{agent_id}/tests/run", response_model=SuiteRunOut, status_code=202)
def run_tests(
    agent_id: str, data: RunRequest, session: RequestSession, actor: RunActor
) -> SuiteRunOut:
    target = _id(agent_id)
    if data.suite_id is not None:
        suite_id = data.suite_id
    else:
        found = [
            s
            for s in suites.list_suites(session, actor, agent_id=target)
            if data.suite is None or s.name == data.suite
        ]
        if len(found) != 1:
            raise Invalid(
                "Name the suite to run (suite_id, or suite by name)."
                if found
                else "No such suite on this agent."
            )
        suite_id = found[0].id
    suite = suites.get_suite(session, actor, suite_id)
    if suite.agent_id != target:
        raise NotFound("Test suite not found.")
    run = runner.start_suite_run(
        session, actor, suite.id, trigger="api", repeat=data.repeat, budget_usd=data.budget_usd
    )
    return _run_out(run)


@router.post("/agents/{agent_id}/tests/generate", response_model=GenerateOut)
def generate_tests(
    agent_id: str, data: GenerateRequest, session: RequestSession, actor: WriteActor
) -> GenerateOut:
    """Drafts proposed by the agent's model (and the safety probes); a person accepts them."""
    drafting = generate.prepare(session, actor, _id(agent_id), suite_id=data.suite_id)
    proposals, problems = asyncio.run(generate.propose(drafting, generate.call_model))
    outcome = generate.store(session, actor, drafting, proposals, problems)
    return GenerateOut(
        suite_id=str(outcome.suite_id),
        drafted=outcome.drafted,
        merged=outcome.merged,
        safety_suite_id=str(outcome.safety_suite_id) if outcome.safety_suite_id else None,
        note=outcome.note,
        problems=outcome.problems,
    )


@router.get("/tests/runs/{suite_run_id}", response_model=SuiteRunOut)
def get_suite_run(suite_run_id: str, session: RequestSession, actor: ApiActor) -> SuiteRunOut:
    run = runner.get_suite_run(session, actor, _id(suite_run_id))
    return _run_out(run, runner.results_of(session, actor, run.id))


@router.post("/tests/runs/{suite_run_id}/cancel", response_model=SuiteRunOut)
def cancel_suite_run(suite_run_id: str, session: RequestSession, actor: WriteActor) -> SuiteRunOut:
    return _run_out(runner.cancel_suite_run(session, actor, _id(suite_run_id)))


@router.post("/tests/results/{result_id}/overrule", response_model=ResultOut)
def overrule_result(
    result_id: str, data: OverruleRequest, session: RequestSession, actor: WriteActor
) -> ResultOut:
    """A person's verdict on one result; the suite's judge sees it as an example afterwards."""
    result = runner.overrule(session, actor, _id(result_id), passed=data.passed, note=data.note)
    return _result_out(result)


class RuleOut(BaseModel):
    id: str
    agent_id: str
    name: str
    sample_rate: float
    statuses: list[str]
    assertions: list[dict[str, Any]]
    judge_model: str | None
    alert_below: float | None
    alert_webhook_url: str | None  # only to those who may change it (builders and up)
    alert_webhook_set: bool
    enabled: bool


class ScoreOut(BaseModel):
    run_id: str
    passed: bool
    score: float
    judge_cost: str | None = None  # USD the judge's calls for this score cost
    created_at: datetime


class AlertOut(BaseModel):
    id: str
    agent_id: str | None
    kind: str
    message: str
    details: dict[str, Any]
    delivered_at: datetime | None
    delivery_error: str | None
    created_at: datetime


class PointOut(BaseModel):
    suite_run_id: str
    label: str
    version: int | None
    score: float | None
    passed_cases: int
    failed_cases: int
    status: str


class ComparisonOut(BaseModel):
    case: str
    before: bool | None
    after: bool | None
    regression: bool


def _rule_out(rule: EvalRule, actor: Actor) -> RuleOut:
    return RuleOut(
        id=str(rule.id),
        agent_id=str(rule.agent_id),
        name=rule.name,
        sample_rate=rule.sample_rate,
        statuses=list(rule.statuses),
        assertions=list(rule.assertions),
        judge_model=rule.judge_model,
        alert_below=rule.alert_below,
        alert_webhook_url=alerts.shown_webhook(actor, rule.alert_webhook_url),
        alert_webhook_set=rule.alert_webhook_url is not None,
        enabled=rule.enabled,
    )


@router.get("/agents/{agent_id}/eval-rules", response_model=list[RuleOut])
def list_rules(agent_id: str, session: RequestSession, actor: ApiActor) -> list[RuleOut]:
    return [_rule_out(r, actor) for r in online.list_rules(session, actor, _id(agent_id))]


@router.post("/agents/{agent_id}/eval-rules", response_model=RuleOut, status_code=201)
def create_rule(
    agent_id: str, data: dict[str, Any], session: RequestSession, actor: WriteActor
) -> RuleOut:
    return _rule_out(online.create_rule(session, actor, _id(agent_id), data), actor)


@router.delete("/eval-rules/{rule_id}", status_code=204)
def delete_rule(rule_id: str, session: RequestSession, actor: WriteActor) -> Response:
    online.delete_rule(session, actor, _id(rule_id))
    return Response(status_code=204)


@router.get("/eval-rules/{rule_id}/scores", response_model=list[ScoreOut])
def rule_scores(rule_id: str, session: RequestSession, actor: ApiActor) -> list[ScoreOut]:
    return [
        ScoreOut(
            run_id=str(s.execution_id),
            passed=s.passed,
            score=s.score,
            judge_cost=str(s.judge_cost) if s.judge_cost is not None else None,
            created_at=s.created_at,
        )
        for s in online.recent_scores(session, actor, _id(rule_id))
    ]


@router.get("/quality-alerts", response_model=list[AlertOut])
def quality_alerts(session: RequestSession, actor: ApiActor, limit: int = 20) -> list[AlertOut]:
    return [
        AlertOut(
            id=str(a.id),
            agent_id=str(a.agent_id) if a.agent_id else None,
            kind=a.kind,
            message=a.message,
            details=dict(a.details),
            delivered_at=a.delivered_at,
            delivery_error=a.delivery_error,
            created_at=a.created_at,
        )
        for a in alerts.recent_alerts(session, actor, limit=min(max(limit, 1), 200))
    ]


@router.get("/suites/{suite_id}/history", response_model=list[PointOut])
def suite_history(suite_id: str, session: RequestSession, actor: ApiActor) -> list[PointOut]:
    """The suite's score over its runs and the versions they ran: the quality chart."""
    return [
        PointOut(
            suite_run_id=str(p.suite_run_id),
            label=p.label,
            version=p.version,
            score=p.score,
            passed_cases=p.passed_cases,
            failed_cases=p.failed_cases,
            status=p.status,
        )
        for p in views.score_history(session, actor, _id(suite_id))
    ]


@router.get("/tests/runs/{before_id}/compare/{after_id}", response_model=list[ComparisonOut])
def compare_runs(
    before_id: str, after_id: str, session: RequestSession, actor: ApiActor
) -> list[ComparisonOut]:
    """Two suite runs (two versions) case by case, regressions first."""
    return [
        ComparisonOut(case=c.case, before=c.before, after=c.after, regression=c.regression)
        for c in views.compare_runs(session, actor, _id(before_id), _id(after_id))
    ]
