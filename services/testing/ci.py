"""What the CI command needs: find the org and agent, bring a YAML suite in, report results.

`python -m agent_platform test run SUITE.yaml --agent NAME_OR_ID` runs on a machine that
reaches the platform's database and Redis (the operator's side of a self-hosted install, or a
CI job of theirs), so it acts as the organization's owner, like `create-admin` acts as the
instance's. It goes through the same services and queue as the UI and the API.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from sqlmodel import Session, col, select

from agent_platform.models import (
    Agent,
    AgentTest,
    Membership,
    Organization,
    Role,
    SuiteRun,
    TestKind,
    TestResult,
    TestSuite,
)
from services.access import Actor
from services.agent_reads import visible_agents
from services.errors import Invalid, NotFound
from services.testing.suite_yaml import load_suite
from services.testing.suites import import_yaml, visible_suites


def acting_owner(session: Session, org_slug: str | None) -> Actor:
    """The owner of the organization named by its slug, or of the only one there is."""
    query = select(Organization)
    if org_slug:
        query = query.where(Organization.slug == org_slug)
    orgs = session.exec(query.limit(2)).all()
    if not orgs:
        raise NotFound(f"No organization “{org_slug}”." if org_slug else "No organization yet.")
    if len(orgs) > 1:
        raise Invalid("There are several organizations: name one with --org SLUG.")
    org = orgs[0]
    owner = session.exec(
        select(Membership).where(Membership.org_id == org.id, Membership.role == Role.OWNER)
    ).first()
    if owner is None:
        raise NotFound(f"The organization “{org.slug}” has no owner.")
    return Actor(user_id=owner.user_id, org_id=org.id, role=Role.OWNER)


def find_agent(session: Session, actor: Actor, ref: str) -> Agent:
    """An agent by id, or by its name when exactly one agent has it."""
    try:
        by_id = session.exec(visible_agents(actor).where(Agent.id == uuid.UUID(ref))).first()
    except ValueError:
        by_id = None
    if by_id is not None:
        return by_id
    named = session.exec(visible_agents(actor).where(Agent.name == ref).limit(2)).all()
    if not named:
        raise NotFound(f"No agent “{ref}” in this organization.")
    if len(named) > 1:
        raise Invalid(f"Several agents are named “{ref}”: give its id instead.")
    return named[0]


def suite_from_file(
    session: Session, actor: Actor, agent_id: uuid.UUID, text: str, *, name: str | None = None
) -> TestSuite:
    """The file's suite: the agent's suite of that name gets its cases replaced, or is made."""
    spec = load_suite(text)
    title = (name or spec.description)[:120]
    existing = session.exec(  # the actor's own suites: another org's agent is NotFound below
        visible_suites(actor).where(TestSuite.agent_id == agent_id, TestSuite.name == title)
    ).first()
    return import_yaml(
        session,
        actor,
        agent_id,
        text,
        name=title,
        kind=TestKind.REGRESSION,
        suite_id=existing.id if existing else None,
    )


@dataclass(frozen=True)
class CaseLine:
    result_id: uuid.UUID
    case: str
    repeat: int
    passed: bool | None
    score: float | None
    reason: str
    seconds: float


def graded_lines(session: Session, suite_run_id: uuid.UUID) -> list[CaseLine]:
    """Every graded result of the suite run so far, oldest grade first."""
    rows = session.exec(
        select(TestResult, AgentTest.name)
        .join(AgentTest, col(AgentTest.id) == TestResult.test_id)
        .where(TestResult.suite_run_id == suite_run_id, col(TestResult.graded_at).is_not(None))
        .order_by(col(TestResult.graded_at), col(TestResult.repeat_index))
    ).all()
    lines: list[CaseLine] = []
    for result, name in rows:
        details = result.details or {}
        failed = [g for g in details.get("grades", []) if not g.get("passed")]
        reason = (
            details.get("skipped")
            or details.get("error")
            or "; ".join(f"{g['assertion']}: {g['reason']}" for g in failed)
            or "ok"
        )
        lines.append(
            CaseLine(
                result_id=result.id,
                case=name,
                repeat=result.repeat_index,
                passed=result.passed,
                score=result.score,
                reason=str(reason)[:300],
                seconds=(details.get("latency_ms") or 0) / 1000,
            )
        )
    return lines


def junit_xml(suite_name: str, suite_run: SuiteRun, lines: list[CaseLine]) -> str:
    """JUnit XML as CI systems read it: one testcase per case and repeat."""
    failures = sum(1 for line in lines if line.passed is False)
    skipped = sum(1 for line in lines if line.passed is None)
    suite = ET.Element(
        "testsuite",
        name=suite_name,
        tests=str(len(lines)),
        failures=str(failures),
        skipped=str(skipped),
        errors="0",
        time=f"{sum(line.seconds for line in lines):.3f}",
    )
    for line in lines:
        name = line.case if suite_run.repeat == 1 else f"{line.case} [repeat {line.repeat + 1}]"
        case = ET.SubElement(
            suite, "testcase", classname=suite_name, name=name, time=f"{line.seconds:.3f}"
        )
        if line.passed is False:
            ET.SubElement(case, "failure", message=line.reason[:200]).text = line.reason
        elif line.passed is None:
            ET.SubElement(case, "skipped", message=line.reason[:200])
    text: str = ET.tostring(suite, encoding="unicode", xml_declaration=True)
    return text
