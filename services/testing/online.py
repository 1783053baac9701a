"""Online evaluation: rules that score a share of an agent's production runs.

Sampling walks finished runs from each rule's `scanned_until` on, in the scheduler's loop, so
the run path itself does nothing for it. Which runs are scored is decided by a hash of the run
and the rule, not a random draw: several schedulers agree, and scoring the same run twice is
impossible anyway (one score per rule and run). Only reference-free graders make sense on
production traffic: deterministic checks and rubric judges, never a reference answer.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.db import after_commit
from agent_platform.models import EvalRule, Execution, ExecutionStatus, OnlineScore
from agent_platform.models.base import utcnow
from services import audit
from services.access import Actor, Permission, require
from services.agent_reads import get_agent
from services.errors import Invalid, NotFound
from services.money import format_money
from services.queue import queue
from services.testing import judge
from services.testing.alerts import raise_alert
from services.testing.assertions import Assertion, parse_assertion
from services.testing.grading import Evaluation, GradingTask, attach_judges, observation_of
from services.validation import parse

SCORE_JOB = "agent_platform.worker.score_online_run"
NEEDS_REFERENCE = {"similar", "factuality", "equals"}
FINAL = (
    ExecutionStatus.SUCCEEDED,
    ExecutionStatus.FAILED,
    ExecutionStatus.TIMED_OUT,
)
SCAN_BATCH = 500


def visible_rules(actor: Actor) -> SelectOfScalar[EvalRule]:
    """Every rule read starts here: the actor's organization's, nothing else."""
    return select(EvalRule).where(EvalRule.org_id == actor.org_id)


def get_rule(session: Session, actor: Actor, rule_id: uuid.UUID) -> EvalRule:
    rule = session.exec(visible_rules(actor).where(EvalRule.id == rule_id)).first()
    if rule is None:
        raise NotFound("Evaluation rule not found.")
    return rule


class RuleFields(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    sample_rate: float = Field(default=0.1, ge=0, le=1)
    statuses: list[ExecutionStatus] = Field(default_factory=list)
    assertions: list[dict[str, Any]] = Field(min_length=1, max_length=20)
    judge_model: str | None = Field(default=None, max_length=200)
    alert_below: float | None = Field(default=None, ge=0, le=1)
    alert_webhook_url: str | None = Field(default=None, max_length=500)
    enabled: bool = True


LABELS = {"sample_rate": "Share of runs", "assertions": "Assertions", "alert_below": "Alert below"}


def _fields(values: dict[str, Any]) -> RuleFields:
    fields = parse(RuleFields, values, labels=LABELS)
    for i, item in enumerate(fields.assertions):
        assertion = parse_assertion(item, f"Assertion {i + 1}")
        if assertion.type in NEEDS_REFERENCE:
            raise Invalid(
                f"Assertion {i + 1}: “{assertion.type}” needs a reference answer, which "
                "production runs do not have; use a rubric or a deterministic check."
            )
    if fields.alert_webhook_url and not fields.alert_webhook_url.startswith(
        ("https://", "http://")
    ):
        raise Invalid("The alert webhook must be an http(s) URL.")
    return fields


def create_rule(
    session: Session, actor: Actor, agent_id: uuid.UUID, values: dict[str, Any]
) -> EvalRule:
    require(actor, Permission.AGENTS_WRITE)
    agent = get_agent(session, actor, agent_id)
    fields = _fields(values)
    rule = EvalRule(
        org_id=actor.org_id,
        agent_id=agent.id,
        created_by_id=actor.user_id,
        scanned_until=utcnow(),  # from now on: a new rule does not score the past
        **fields.model_dump(mode="json"),
    )
    session.add(rule)
    session.flush()
    audit.by_actor(session, actor, "eval_rule.create", target_type="eval_rule", target_id=rule.id)
    return rule


def delete_rule(session: Session, actor: Actor, rule_id: uuid.UUID) -> None:
    require(actor, Permission.AGENTS_WRITE)
    rule = get_rule(session, actor, rule_id)
    audit.by_actor(session, actor, "eval_rule.delete", target_type="eval_rule", target_id=rule.id)
    session.delete(rule)


def list_rules(session: Session, actor: Actor, agent_id: uuid.UUID) -> list[EvalRule]:
    agent = get_agent(session, actor, agent_id)
    return list(session.exec(visible_rules(actor).where(EvalRule.agent_id == agent.id)).all())


def recent_scores(
    session: Session, actor: Actor, rule_id: uuid.UUID, *, limit: int = 50
) -> list[OnlineScore]:
    rule = get_rule(session, actor, rule_id)
    return list(
        session.exec(
            select(OnlineScore)
            .where(OnlineScore.rule_id == rule.id, OnlineScore.org_id == actor.org_id)
            .order_by(col(OnlineScore.created_at).desc())
            .limit(limit)
        ).all()
    )


def chosen(rule_id: uuid.UUID, run_id: uuid.UUID, rate: float) -> bool:
    """The same answer in every process: a hash of the pair against the rule's share."""
    digest = hashlib.sha256(rule_id.bytes + run_id.bytes).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def sample(session: Session) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Walk each enabled rule's finished production runs since its last scan; the chosen ones
    are scored on the testing queue after commit. Returns (rule id, run id) pairs chosen."""
    picks: list[tuple[uuid.UUID, uuid.UUID]] = []
    rules = session.exec(
        select(EvalRule).where(col(EvalRule.enabled), EvalRule.sample_rate > 0)
    ).all()
    for rule in rules:
        statuses = [ExecutionStatus(s) for s in rule.statuses] or list(FINAL)
        query = select(Execution.id, Execution.finished_at).where(
            Execution.agent_id == rule.agent_id,
            Execution.org_id == rule.org_id,
            col(Execution.test_run_id).is_(None),
            col(Execution.status).in_(statuses),
            col(Execution.finished_at).is_not(None),
        )
        if rule.scanned_until is not None:
            query = query.where(col(Execution.finished_at) > rule.scanned_until)
        rows = session.exec(query.order_by(col(Execution.finished_at)).limit(SCAN_BATCH)).all()
        if not rows:
            continue
        picks += [
            (rule.id, run_id) for run_id, _f in rows if chosen(rule.id, run_id, rule.sample_rate)
        ]
        rule.scanned_until = rows[-1][1]
        session.add(rule)
    if picks:
        chosen_pairs = list(picks)

        def enqueue() -> None:
            testing = queue("testing")
            for rule_id, run_id in chosen_pairs:
                testing.enqueue(
                    SCORE_JOB, str(rule_id), str(run_id), job_id=f"online-{rule_id}-{run_id}"
                )

        after_commit(session, enqueue)
    return picks


def collect(session: Session, rule_id: uuid.UUID, run_id: uuid.UUID) -> GradingTask | None:
    """What scoring one production run needs; None when it is gone or already scored."""
    rule = session.get(EvalRule, rule_id)
    run = session.get(Execution, run_id)
    if rule is None or run is None or run.org_id != rule.org_id:
        return None
    done = session.exec(
        select(OnlineScore.id).where(
            OnlineScore.rule_id == rule.id, OnlineScore.execution_id == run.id
        )
    ).first()
    if done is not None:
        return None
    assertions: list[tuple[Assertion, float]] = [
        (parse_assertion(item, f"assertion {i + 1}"), float(item.get("weight", 1.0)))
        for i, item in enumerate(rule.assertions)
    ]
    task = GradingTask(
        result_id=run.id,
        suite_run_id=rule.id,
        org_id=rule.org_id,
        question=str((run.input or {}).get("message", "")),
        observation=observation_of(session, run, canary=None),
        assertions=assertions,
        threshold=None,
        reference=None,
        run_cost=run.cost,
    )
    task.criteria = judge.criteria_of([a for a, _w in assertions])
    refs = [rule.judge_model] if rule.judge_model else []
    attach_judges(session, task, refs, run=run, suite_id=None)
    return task


def record(session: Session, task: GradingTask, evaluation: Evaluation) -> OnlineScore | None:
    """Keep the score; alert when it falls below the rule's threshold."""
    rule = session.get(EvalRule, task.suite_run_id)
    if rule is None:
        return None
    score = OnlineScore(
        org_id=rule.org_id,
        rule_id=rule.id,
        execution_id=task.result_id,
        passed=evaluation.passed,
        score=round(evaluation.score, 4),
        judge_cost=evaluation.judge_cost,  # 0 with no judge call or a cached verdict
        details={
            "grades": [g.to_dict() for g in evaluation.grades],
            "judges": [o.to_json() for o in evaluation.judge_outcomes],
        },
    )
    session.add(score)  # one per rule and run: a second worker's insert fails its commit
    if rule.alert_below is not None and score.score < rule.alert_below:
        raise_alert(
            session,
            org_id=rule.org_id,
            agent_id=rule.agent_id,
            kind="online_score",
            message=f"A production run scored {score.score:.2f} on “{rule.name}”, below "
            f"{rule.alert_below:.2f} (judging it cost {format_money(evaluation.judge_cost)}).",
            details={
                "rule_id": str(rule.id),
                "run_id": str(task.result_id),
                "score": score.score,
                "judge_cost": str(evaluation.judge_cost),
            },
            webhook_url=rule.alert_webhook_url,
        )
    return score
