"""Suites and their cases: the one place their rules live (the UI, the API and the CLI call these).

A case's assertions are stored as written and parsed on every save, so a mistake is refused
when it is made, in words, and a stored suite always exports to YAML that imports again.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import (
    AgentTest,
    AgentVersion,
    CaseSource,
    CaseStatus,
    SuiteRun,
    SuiteRunStatus,
    TestKind,
    TestSuite,
)
from agent_platform.models.base import utcnow
from services import audit
from services.access import Actor, Permission, require
from services.agent_reads import get_agent, visible_versions
from services.errors import Conflict, Invalid, NotFound
from services.testing.assertions import Assertion, parse_assertion
from services.testing.suite_yaml import CaseSpec, SuiteSpec, dump_suite, load_suite
from services.validation import parse

MAX_CASES_PER_SUITE = 2_000
MAX_REPEAT = 10
MAX_JUDGES = 5


def visible_suites(actor: Actor) -> SelectOfScalar[TestSuite]:
    """Every suite read starts here: the actor's organization's suites, nothing else."""
    return select(TestSuite).where(TestSuite.org_id == actor.org_id)


def visible_cases(actor: Actor) -> SelectOfScalar[AgentTest]:
    """Every case read starts here."""
    return select(AgentTest).where(AgentTest.org_id == actor.org_id)


def get_suite(session: Session, actor: Actor, suite_id: uuid.UUID) -> TestSuite:
    suite = session.exec(visible_suites(actor).where(TestSuite.id == suite_id)).first()
    if suite is None:
        raise NotFound("Test suite not found.")
    return suite


def get_case(session: Session, actor: Actor, case_id: uuid.UUID) -> AgentTest:
    case = session.exec(visible_cases(actor).where(AgentTest.id == case_id)).first()
    if case is None:
        raise NotFound("Test case not found.")
    return case


class SuiteFields(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    kind: TestKind = TestKind.FUNCTIONAL
    description: str = Field(default="", max_length=5_000)
    pinned_version_id: uuid.UUID | None = None
    judge_models: list[str] = Field(default_factory=list, max_length=MAX_JUDGES)
    repeat: int = Field(default=1, ge=1, le=MAX_REPEAT)
    pass_k: int = Field(default=1, ge=1, le=MAX_REPEAT)
    pass_threshold: float = Field(default=1.0, ge=0, le=1)
    budget_usd: Decimal | None = Field(default=None, ge=0, le=Decimal("100000"))
    run_on_new_version: bool = False
    required_for_publish: bool = False
    alert_below: float | None = Field(default=None, ge=0, le=1)
    alert_webhook_url: str | None = Field(default=None, max_length=500)


LABELS = {
    "name": "Name",
    "repeat": "Repeats",
    "pass_k": "Passes needed",
    "pass_threshold": "Share of cases that must pass",
    "budget_usd": "Budget",
    "judge_models": "Judge models",
    "alert_below": "Alert below",
    "alert_webhook_url": "Alert webhook",
}


def _suite_fields(values: dict[str, Any]) -> SuiteFields:
    if values.get("budget_usd") in ("", None):
        values = {**values, "budget_usd": None}
    else:
        try:
            values = {**values, "budget_usd": Decimal(str(values["budget_usd"]))}
        except InvalidOperation:
            raise Invalid("Budget must be an amount in US dollars, like 2.50.") from None
    fields = parse(SuiteFields, values, labels=LABELS)
    fields.name = fields.name.strip()
    if not fields.name:
        raise Invalid("Name cannot be empty.", fields={"name": "Name cannot be empty."})
    if fields.pass_k > fields.repeat:
        message = f"Passes needed ({fields.pass_k}) cannot exceed the repeats ({fields.repeat})."
        raise Invalid(message, fields={"pass_k": message})
    fields.judge_models = [m.strip() for m in fields.judge_models if m.strip()]
    url = (fields.alert_webhook_url or "").strip()
    if url and not url.startswith(("https://", "http://")):
        message = "The alert webhook must be an http(s) URL."
        raise Invalid(message, fields={"alert_webhook_url": message})
    fields.alert_webhook_url = url or None
    return fields


def _name_taken(session: Session, agent_id: uuid.UUID, name: str, but: uuid.UUID | None) -> bool:
    query = select(func.count()).where(TestSuite.agent_id == agent_id, TestSuite.name == name)
    if but is not None:
        query = query.where(TestSuite.id != but)
    return bool(session.exec(query).one())


def create_suite(
    session: Session, actor: Actor, agent_id: uuid.UUID, values: dict[str, Any]
) -> TestSuite:
    require(actor, Permission.AGENTS_WRITE)
    agent = get_agent(session, actor, agent_id)
    fields = _suite_fields(values)
    _pin_belongs(session, actor, agent.id, fields.pinned_version_id)
    if _name_taken(session, agent.id, fields.name, None):
        raise Conflict(f"This agent already has a suite named “{fields.name}”.")
    suite = TestSuite(
        org_id=actor.org_id,
        agent_id=agent.id,
        created_by_id=actor.user_id,
        **fields.model_dump(),
    )
    session.add(suite)
    session.flush()
    audit.by_actor(
        session, actor, "test_suite.create", target_type="test_suite", target_id=suite.id
    )
    return suite


def _pin_belongs(
    session: Session, actor: Actor, agent_id: uuid.UUID, version_id: uuid.UUID | None
) -> None:
    if version_id is None:
        return
    version = session.exec(
        visible_versions(actor).where(
            AgentVersion.id == version_id, AgentVersion.agent_id == agent_id
        )
    ).first()
    if version is None:
        raise Invalid("That version does not belong to this agent.")


# What makes the platform safety suite's verdict mean the same for every agent: the
# marketplace's "verified" rests on it, so its owner may add cases but not lower its bar.
BUILTIN_BAR = ("kind", "pass_threshold", "pass_k")


def _no_run_in_progress(session: Session, suite_id: uuid.UUID, what: str) -> None:
    """Deleting cases cascades to the results of a suite run still counting them: it would
    wait for ever for runs that have no result left to grade."""
    open_run = session.exec(
        select(SuiteRun.id).where(
            SuiteRun.suite_id == suite_id,
            col(SuiteRun.status).in_((SuiteRunStatus.QUEUED, SuiteRunStatus.RUNNING)),
        )
    ).first()
    if open_run is not None:
        raise Conflict(
            f"A run of this suite is in progress: wait for it or cancel it before {what}."
        )


def _builtin_case(case: AgentTest) -> None:
    if case.source == CaseSource.BUILTIN:
        raise Invalid(
            "The platform's safety probes cannot be edited, rejected or deleted (verification "
            "relies on them); add cases of your own to the suite instead."
        )


def update_suite(
    session: Session, actor: Actor, suite_id: uuid.UUID, values: dict[str, Any]
) -> TestSuite:
    require(actor, Permission.AGENTS_WRITE)
    suite = get_suite(session, actor, suite_id)
    current = {name: getattr(suite, name) for name in SuiteFields.model_fields}
    fields = _suite_fields({**current, **values})
    if suite.builtin and any(getattr(fields, n) != current[n] for n in BUILTIN_BAR):
        raise Invalid(
            "The platform safety suite's kind and pass rules are fixed (every probe must "
            "pass); verification relies on them."
        )
    _pin_belongs(session, actor, suite.agent_id, fields.pinned_version_id)
    if _name_taken(session, suite.agent_id, fields.name, suite.id):
        raise Conflict(f"This agent already has a suite named “{fields.name}”.")
    for name, value in fields.model_dump().items():
        setattr(suite, name, value)
    suite.updated_at = utcnow()
    session.add(suite)
    audit.by_actor(
        session, actor, "test_suite.update", target_type="test_suite", target_id=suite.id
    )
    return suite


def delete_suite(session: Session, actor: Actor, suite_id: uuid.UUID) -> None:
    require(actor, Permission.AGENTS_WRITE)
    suite = get_suite(session, actor, suite_id)
    audit.by_actor(
        session,
        actor,
        "test_suite.delete",
        target_type="test_suite",
        target_id=suite.id,
        name=suite.name,
    )
    session.delete(suite)


def list_suites(
    session: Session, actor: Actor, *, agent_id: uuid.UUID | None = None, search: str = ""
) -> list[TestSuite]:
    query = visible_suites(actor)
    if agent_id is not None:
        query = query.where(TestSuite.agent_id == get_agent(session, actor, agent_id).id)
    if search.strip():
        query = query.where(col(TestSuite.name).icontains(search.strip()))
    return list(session.exec(query.order_by(col(TestSuite.name))).all())


# --- cases ----------------------------------------------------------------------------------


class CaseFields(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=100_000)
    variables: dict[str, Any] = Field(default_factory=dict)
    conversation: list[dict[str, str]] = Field(default_factory=list, max_length=100)
    assertions: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    expected: str | None = Field(default=None, max_length=100_000)
    threshold: float | None = Field(default=None, ge=0, le=1)
    tags: list[str] = Field(default_factory=list, max_length=30)
    weight: float = Field(default=1.0, ge=0, le=1000)


CASE_LABELS = {"name": "Description", "message": "Message", "weight": "Weight"}


def check_assertions(raw: list[dict[str, Any]]) -> list[Assertion]:
    """Parse every assertion; the first mistake is refused, naming which one it is."""
    return [parse_assertion(item, f"Assertion {i + 1}") for i, item in enumerate(raw)]


def _case_fields(values: dict[str, Any]) -> CaseFields:
    fields = parse(CaseFields, values, labels=CASE_LABELS)
    parsed = check_assertions(fields.assertions)
    fields.assertions = [a.to_dict() for a in parsed]
    for turn in fields.conversation:
        if turn.get("role") not in {"user", "assistant"} or not isinstance(
            turn.get("content"), str
        ):
            raise Invalid("Each turn of a conversation has a role (user or assistant) and text.")
    fields.tags = [t.strip() for t in fields.tags if t.strip()]
    return fields


def _case_row(actor: Actor, suite: TestSuite, fields: CaseFields, **extra: Any) -> AgentTest:
    return AgentTest(
        org_id=actor.org_id,
        suite_id=suite.id,
        name=fields.name.strip(),
        input={
            "message": fields.message,
            "variables": fields.variables,
            "conversation": fields.conversation,
        },
        assertions=fields.assertions,
        expected=fields.expected,
        threshold=fields.threshold,
        tags=fields.tags,
        weight=fields.weight,
        **extra,
    )


def _case_count(session: Session, suite_id: uuid.UUID) -> int:
    return int(session.exec(select(func.count()).where(AgentTest.suite_id == suite_id)).one())


def add_case(
    session: Session,
    actor: Actor,
    suite_id: uuid.UUID,
    values: dict[str, Any],
    *,
    source: CaseSource = CaseSource.MANUAL,
    status: CaseStatus = CaseStatus.ACCEPTED,
    probe: str | None = None,
) -> AgentTest:
    require(actor, Permission.AGENTS_WRITE)
    suite = get_suite(session, actor, suite_id)
    count = _case_count(session, suite.id)
    if count >= MAX_CASES_PER_SUITE:
        raise Invalid(f"A suite holds at most {MAX_CASES_PER_SUITE:,} cases.")
    case = _case_row(
        actor,
        suite,
        _case_fields(values),
        position=count,
        source=source,
        status=status,
        probe=probe,
    )
    session.add(case)
    session.flush()
    return case


def update_case(
    session: Session, actor: Actor, case_id: uuid.UUID, values: dict[str, Any]
) -> AgentTest:
    require(actor, Permission.AGENTS_WRITE)
    case = get_case(session, actor, case_id)
    _builtin_case(case)
    current = {
        "name": case.name,
        "message": case.input.get("message", ""),
        "variables": case.input.get("variables", {}),
        "conversation": case.input.get("conversation", []),
        "assertions": case.assertions,
        "expected": case.expected,
        "threshold": case.threshold,
        "tags": case.tags,
        "weight": case.weight,
    }
    fields = _case_fields({**current, **values})
    suite = get_suite(session, actor, case.suite_id)
    fresh = _case_row(actor, suite, fields)
    for name in ("name", "input", "assertions", "expected", "threshold", "tags", "weight"):
        setattr(case, name, getattr(fresh, name))
    case.updated_at = utcnow()
    session.add(case)
    return case


def set_case_status(
    session: Session, actor: Actor, case_id: uuid.UUID, status: CaseStatus
) -> AgentTest:
    """Accept or reject a drafted case (generated ones start as drafts)."""
    require(actor, Permission.AGENTS_WRITE)
    case = get_case(session, actor, case_id)
    if status != CaseStatus.ACCEPTED:
        _builtin_case(case)
    case.status = status
    case.updated_at = utcnow()
    session.add(case)
    return case


def delete_case(session: Session, actor: Actor, case_id: uuid.UUID) -> None:
    require(actor, Permission.AGENTS_WRITE)
    case = get_case(session, actor, case_id)
    _builtin_case(case)
    _no_run_in_progress(session, case.suite_id, "deleting one of its cases")
    session.delete(case)


def list_cases(
    session: Session,
    actor: Actor,
    suite_id: uuid.UUID,
    *,
    status: CaseStatus | None = None,
    search: str = "",
    offset: int = 0,
    limit: int = 100,
) -> list[AgentTest]:
    suite = get_suite(session, actor, suite_id)
    query = visible_cases(actor).where(AgentTest.suite_id == suite.id)
    if status is not None:
        query = query.where(AgentTest.status == status)
    if search.strip():
        query = query.where(col(AgentTest.name).icontains(search.strip()))
    query = query.order_by(col(AgentTest.position), col(AgentTest.created_at))
    return list(session.exec(query.offset(max(offset, 0)).limit(min(max(limit, 1), 500))).all())


# --- YAML ----------------------------------------------------------------------------------


def _spec_case(case: AgentTest) -> CaseSpec:
    data = case.input or {}
    conversation = list(data.get("conversation") or [])
    return CaseSpec(
        description=case.name,
        message=str(data.get("message", "")),
        variables=dict(data.get("variables") or {}),
        conversation=conversation,
        assertions=check_assertions(case.assertions),
        threshold=case.threshold,
        expected=case.expected,
        tags=list(case.tags),
        weight=case.weight,
        message_var="conversation" if conversation else "message",
    )


def export_yaml(session: Session, actor: Actor, suite_id: uuid.UUID) -> str:
    suite = get_suite(session, actor, suite_id)
    cases = session.exec(
        visible_cases(actor)
        .where(AgentTest.suite_id == suite.id, AgentTest.status == CaseStatus.ACCEPTED)
        .order_by(col(AgentTest.position), col(AgentTest.created_at))
    ).all()
    spec = SuiteSpec(
        description=suite.name,
        cases=[_spec_case(c) for c in cases],
        default_assertions=check_assertions(suite.default_assertions),
        default_vars=dict(suite.default_vars),
    )
    return dump_suite(spec)


def import_yaml(
    session: Session,
    actor: Actor,
    agent_id: uuid.UUID,
    text: str,
    *,
    name: str | None = None,
    kind: TestKind = TestKind.FUNCTIONAL,
    suite_id: uuid.UUID | None = None,
) -> TestSuite:
    """A new suite from a promptfoo-style file, or its cases replacing an existing suite's."""
    require(actor, Permission.AGENTS_WRITE)
    spec = load_suite(text)
    if suite_id is not None:
        suite = get_suite(session, actor, suite_id)
        if suite.agent_id != agent_id:
            raise NotFound("Test suite not found.")
        if suite.builtin:
            raise Invalid(
                f"“{suite.name}” is the platform safety suite; its probes cannot be replaced "
                "by a file. Import the file as a suite of its own."
            )
        _no_run_in_progress(session, suite.id, "replacing its cases")
        for old in session.exec(select(AgentTest).where(AgentTest.suite_id == suite.id)).all():
            session.delete(old)
        session.flush()
    else:
        suite = create_suite(
            session, actor, agent_id, {"name": (name or spec.description)[:120], "kind": kind}
        )
    suite.default_assertions = [a.to_dict() for a in spec.default_assertions]
    suite.default_vars = dict(spec.default_vars)
    suite.updated_at = utcnow()
    session.add(suite)
    for position, case in enumerate(spec.cases):
        session.add(
            AgentTest(
                org_id=actor.org_id,
                suite_id=suite.id,
                name=case.description,
                input={
                    "message": case.message,
                    "variables": case.variables,
                    "conversation": case.conversation,
                },
                assertions=[a.to_dict() for a in case.assertions],
                expected=case.expected,
                threshold=case.threshold,
                tags=case.tags,
                weight=case.weight,
                position=position,
                source=CaseSource.IMPORTED,
            )
        )
    audit.by_actor(
        session,
        actor,
        "test_suite.import",
        target_type="test_suite",
        target_id=suite.id,
        cases=len(spec.cases),
    )
    return suite
