"""The Tests page's state: suites listed and searched, a case written with the assertion
builder (mistakes in words), the safety suite, a run started with progress and results rows,
cancel, export, and drafts accepted."""

from __future__ import annotations

from sqlmodel import Session

from agent_platform.models import CaseStatus
from services import agents
from services.testing import suites
from services.testing.alerts import raise_alert
from state.tests import TestsState
from tests.factories import make_user, personal_actor
from tests.state.helpers import signed_in


def test_suites_cases_run_and_results(session: Session) -> None:
    user = make_user(session)
    actor = personal_actor(session, user)
    agent = agents.create_agent(session, actor, name="Helper", config={"model": "openai/gpt-4o"})
    session.commit()
    state = signed_in(session, TestsState, user)
    state.load()
    assert (state.rows, state.loading, state.error) == ([], False, "")

    state.toggle_new_suite()
    assert state.new_suite["agent_id"] == str(agent.id)
    state.create_suite()
    assert "Name" in state.error and state.new_suite_open
    state.set_new_suite("name", "Basics")
    state.create_suite()
    assert state.error == "" and not state.new_suite_open
    assert state.suite["name"] == "Basics" and state.cases == []
    [row] = state.rows
    assert (row["name"], row["agent"], row["last"]) == ("Basics", "Helper", "never run")

    state.toggle_case()
    state.set_case_field("name", "Greets")
    state.set_case_field("message", "hello")
    state.set_assertion(0, "type", "contains-any")
    state.set_assertion(0, "value", "hi\nhello")
    state.add_assertion()
    state.set_assertion(1, "type", "latency")
    state.save_case()
    assert "needs a threshold" in state.case_error and state.case_open
    state.set_assertion(1, "threshold", "soon")
    state.save_case()
    assert state.case_error == "A threshold is a number, like 0.7 or 2000."
    state.set_assertion(1, "threshold", "5000")
    state.save_case()
    assert state.case_error == "" and not state.case_open
    [case] = state.cases
    assert case["assertions"] == "contains-any “hi, hello”; latency ≥ 5000.0"

    state.run_suite()
    assert state.suite_error == ""
    assert state.run["status"] == "running" and state.run["total"] == "1"
    assert state.progress == 0 and state.run_open
    [result] = state.results
    assert (result["case"], result["verdict"]) == ("Greets", "—") and result["run"]
    state.cancel_run()
    assert state.run["status"] == "cancelled" and not state.run_open

    state.export_suite()
    assert "description: Greets" in state.export_text

    state.set_search("nothing")
    assert state.rows == [] and state.total == 0


def test_safety_suite_and_drafts(session: Session) -> None:
    user = make_user(session)
    actor = personal_actor(session, user)
    agent = agents.create_agent(session, actor, name="Helper", config={"model": "openai/gpt-4o"})
    suite = suites.create_suite(session, actor, agent.id, {"name": "Drafts"})
    draft = suites.add_case(
        session, actor, suite.id, {"name": "Draft", "message": "m"}, status=CaseStatus.DRAFT
    )
    session.commit()
    state = signed_in(session, TestsState, user)
    state.load()
    state.safety_suite()
    assert "Choose an agent first" in state.error
    state.agent_filter = str(agent.id)
    state.safety_suite()
    assert state.suite["kind"] == "safety" and len(state.cases) >= 10

    state.open_suite(str(suite.id))
    assert state.cases[0]["status"] == "draft"
    state.run_suite()
    assert "no accepted cases" in state.suite_error
    state.decide_case(str(draft.id), True)
    assert state.cases[0]["status"] == "accepted"

    other = signed_in(session, TestsState)
    other.load()
    other.open_suite(str(suite.id))
    assert other.suite_error == "Test suite not found." and other.suite == {}


def test_online_rules_and_alerts_on_the_page(session: Session) -> None:
    user = make_user(session)
    actor = personal_actor(session, user)
    agent = agents.create_agent(session, actor, name="Helper", config={"model": "openai/gpt-4o"})
    raise_alert(
        session,
        org_id=actor.org_id,
        agent_id=agent.id,
        kind="safety_failed",
        message="2 safety case(s) failed in “Platform safety”.",
        details={},
        webhook_url=None,
    )
    session.commit()
    state = signed_in(session, TestsState, user)
    state.load()
    [alert] = state.alerts
    assert alert["message"].startswith("2 safety case(s) failed") and alert["delivery"] == ""
    assert state.rules == []
    state.agent_filter = str(agent.id)
    state.set_rule_field("name", "Polite")
    state.set_rule_field("type", "similar")
    state.set_rule_field("value", "Thanks!")
    state.add_rule()
    assert "needs a reference answer" in state.rule_error
    state.set_rule_field("type", "not-icontains")
    state.set_rule_field("value", "stupid")
    state.set_rule_field("alert_below", "lots")
    state.add_rule()
    assert state.rule_error == "The share and the alert threshold are numbers between 0 and 1."
    state.set_rule_field("alert_below", "0.5")
    state.add_rule()
    assert state.rule_error == ""
    [rule] = state.rules
    assert (rule["name"], rule["share"], rule["alert"]) == ("Polite", "10%", "below 0.50")
    state.delete_rule(rule["id"])
    assert state.rules == []


def test_suite_settings_and_schedule(session: Session) -> None:
    user = make_user(session)
    actor = personal_actor(session, user)
    agent = agents.create_agent(session, actor, name="Helper", config={"model": "openai/gpt-4o"})
    suite = suites.create_suite(session, actor, agent.id, {"name": "Nightly"})
    session.commit()
    state = signed_in(session, TestsState, user)
    state.load()
    state.open_suite(str(suite.id))
    state.toggle_settings()
    assert state.settings_open and state.settings["repeat"] == "1"
    state.set_setting("repeat", "3")
    state.set_setting("pass_k", "4")
    state.save_settings()
    assert "cannot exceed the repeats" in state.settings_error and state.settings_open
    state.set_setting("pass_k", "two")
    state.save_settings()
    assert "whole numbers" in state.settings_error
    state.set_setting("pass_k", "2")
    state.set_setting("required_for_publish", True)
    state.set_setting("alert_webhook_url", "ftp://example.com")
    state.save_settings()
    assert "http(s) URL" in state.settings_error
    state.set_setting("alert_webhook_url", "")
    state.save_settings()
    assert state.settings_error == "" and not state.settings_open
    assert state.suite["repeat"] == "3" and state.suite["pass_k"] == "2"
    session.expire_all()
    assert suites.get_suite(session, actor, suite.id).required_for_publish

    state.set_schedule_cron("every day")
    state.schedule_suite()
    assert "cron" in state.suite_error.lower()
    state.suite_error = ""
    state.set_schedule_cron("0 6 * * *")
    state.schedule_suite()
    assert state.suite_error == "" and state.schedule_cron == ""
