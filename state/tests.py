"""The Tests page: suites (per agent or for the org), a suite's cases with the assertion
builder, Generate, Import/Export YAML, Run with live progress and Cancel, results with expected
beside actual and a link to each run's trace, overrule, and the suite's score over its runs.
Rules live in services.testing; this reads input, calls one service and fills plain rows."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import reflex as rx

from agent_platform.db import session_scope
from agent_platform.models import CaseStatus
from services import agents
from services.errors import DomainError
from services.testing import (
    alerts,
    generate,
    online,
    runner,
    safety,
    suite_schedules,
    suites,
    views,
)
from services.testing.assertions import CATALOGUE
from state.base import SessionState, actor_from_token, parse_id

PAGE_SIZE = views.PAGE_SIZE
WATCH_LIMIT_SECONDS = 1800
ASSERTION_TYPES = sorted(CATALOGUE) + sorted(f"not-{t}" for t in CATALOGUE if CATALOGUE[t][2])
BLANK_CASE = {"name": "", "message": "", "expected": "", "tags": ""}
BLANK_ASSERTION = {"type": "icontains", "value": "", "threshold": ""}
OPEN = ("queued", "running")


def _percent(done: int, total: int) -> int:
    return int(100 * done / total) if total else 0


def _assertion_value(kind: str, text: str) -> Any:
    """What the builder's text box means for the chosen type: a list for the *-any/*-all
    types (one per line), JSON for a schema or tool arguments, else the text itself."""
    base = kind.removeprefix("not-")
    if base in {"contains-any", "contains-all", "icontains-any", "icontains-all"}:
        return [line.strip() for line in text.splitlines() if line.strip()]
    if base in {"is-json", "tool-called"} and text.strip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            raise DomainError(
                "That value is not valid JSON; check the braces and quotes."
            ) from None
    return text if text.strip() else None


def _summary(assertion: dict[str, Any]) -> str:
    value = assertion.get("value")
    shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value or "")
    threshold = assertion.get("threshold")
    return (
        f"{assertion['type']}"
        + (f" “{shown[:60]}”" if shown else "")
        + (f" ≥ {threshold}" if threshold is not None else "")
    )


class TestsState(SessionState):
    __test__ = False  # not a pytest class

    # The list
    agent_filter: str = ""
    agent_options: list[dict[str, str]] = []
    search: str = ""
    page: int = 0
    total: int = 0
    rows: list[dict[str, str]] = []
    loading: bool = True
    error: str = ""

    # One suite
    suite_id: str = ""
    suite: dict[str, str] = {}
    cases: list[dict[str, str]] = []
    runs: list[dict[str, str]] = []
    chart: list[dict[str, Any]] = []
    suite_error: str = ""

    # One suite run
    run_id: str = ""
    run: dict[str, str] = {}
    results: list[dict[str, str]] = []
    progress: int = 0
    _watching: bool = False

    # Dialogs
    new_suite_open: bool = False
    new_suite: dict[str, str] = {"name": "", "kind": "functional", "agent_id": ""}
    import_open: bool = False
    import_text: str = ""
    import_name: str = ""
    export_text: str = ""
    case_open: bool = False
    case_form: dict[str, str] = dict(BLANK_CASE)
    case_assertions: list[dict[str, str]] = [dict(BLANK_ASSERTION)]
    case_error: str = ""
    generating: bool = False
    generate_note: str = ""

    # A suite's settings and its schedule
    settings_open: bool = False
    settings: dict[str, str] = {}
    settings_error: str = ""
    schedule_cron: str = ""
    schedule_zone: str = "UTC"

    # Watching quality: recent alerts, the agent's online evaluation rules
    alerts: list[dict[str, str]] = []
    rules: list[dict[str, str]] = []
    rule_form: dict[str, str] = {
        "name": "",
        "sample_rate": "0.1",
        "type": "no-pii",
        "value": "",
        "alert_below": "",
        "webhook": "",
    }
    rule_error: str = ""

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def run_open(self) -> bool:
        return self.run.get("status", "") in OPEN

    # --- loading ---------------------------------------------------------------------------

    @rx.event
    def load(self) -> Any:
        if not self._load_identity():
            return rx.redirect("/login?next=/tests")
        query = self.router.url.query_parameters
        self.agent_filter = query.get("agent", "")
        self.page, self.search, self.generate_note = 0, "", ""
        self._refresh()
        suite_id = query.get("suite", "")
        if suite_id:
            # `run` opens one suite run (the link on a test run's page), else the latest.
            self.run_id = query.get("run", "")
            self._open_suite(suite_id)
            if self.run_id:
                self._open_run(self.run_id)
        else:
            self.suite_id, self.suite, self.run_id = "", {}, ""
        return None

    def _refresh(self) -> None:
        self.error, self.loading = "", True
        try:
            with self.acting() as (session, _u, actor):
                agent = parse_id(self.agent_filter, "Agent") if self.agent_filter else None
                found, self.total = views.suite_rows(
                    session,
                    actor,
                    agent_id=agent,
                    search=self.search,
                    offset=self.page * PAGE_SIZE,
                )
                self.rows = [
                    {
                        "id": str(r.id),
                        "name": r.name,
                        "kind": r.kind,
                        "agent": r.agent_name,
                        "agent_id": str(r.agent_id),
                        "cases": str(r.cases),
                        "drafts": str(r.drafts) if r.drafts else "",
                        "last": r.last_status or "never run",
                        "score": f"{r.last_score:.2f}" if r.last_score is not None else "",
                    }
                    for r in found
                ]
                listed, _ = agents.list_agents(session, actor, limit=200)
                self.agent_options = [{"id": str(a.id), "name": a.name} for a in listed]
                self.alerts = [
                    {
                        "message": a.message,
                        "kind": a.kind,
                        "when": f"{a.created_at:%Y-%m-%d %H:%M}",
                        "delivery": "posted"
                        if a.delivered_at
                        else (a.delivery_error or ("" if not a.webhook_url else "pending")),
                    }
                    for a in alerts.recent_alerts(session, actor, limit=5)
                ]
                self.rules = (
                    [
                        {
                            "id": str(r.id),
                            "name": r.name,
                            "share": f"{r.sample_rate:.0%}",
                            "assertions": "; ".join(_summary(a) for a in r.assertions),
                            "alert": f"below {r.alert_below:.2f}" if r.alert_below else "",
                        }
                        for r in online.list_rules(session, actor, agent)
                    ]
                    if agent
                    else []
                )
        except DomainError as exc:
            self.error, self.rows, self.total = exc.message, [], 0
        self.loading = False

    @rx.event
    def set_rule_field(self, key: str, value: str) -> None:
        self.rule_form = {**self.rule_form, key: value}

    @rx.event
    def add_rule(self) -> None:
        self.rule_error = ""
        form = self.rule_form
        try:
            try:
                rate = float(form["sample_rate"])
                below = float(form["alert_below"]) if form["alert_below"].strip() else None
            except ValueError:
                raise DomainError(
                    "The share and the alert threshold are numbers between 0 and 1."
                ) from None
            item: dict[str, Any] = {"type": form["type"]}
            value = _assertion_value(form["type"], form["value"])
            if value is not None:
                item["value"] = value
            with self.acting() as (session, _u, actor):
                online.create_rule(
                    session,
                    actor,
                    parse_id(self.agent_filter, "Agent"),
                    {
                        "name": form["name"],
                        "sample_rate": rate,
                        "assertions": [item],
                        "alert_below": below,
                        "alert_webhook_url": form["webhook"].strip() or None,
                    },
                )
        except DomainError as exc:
            self.rule_error = exc.message
            return
        self.rule_form = {**self.rule_form, "name": "", "value": ""}
        self._refresh()

    @rx.event
    def delete_rule(self, rule_id: str) -> None:
        try:
            with self.acting() as (session, _u, actor):
                online.delete_rule(session, actor, parse_id(rule_id, "Rule"))
        except DomainError as exc:
            self.rule_error = exc.message
        self._refresh()

    @rx.event
    def set_search(self, value: str) -> None:
        self.search, self.page = value, 0
        self._refresh()

    @rx.event
    def move(self, delta: int) -> None:
        self.page = min(max(0, self.page + delta), self.pages - 1)
        self._refresh()

    @rx.event
    def filter_agent(self, agent_id: str) -> Any:
        return rx.redirect(f"/tests?agent={agent_id}" if agent_id else "/tests")

    # --- one suite -------------------------------------------------------------------------

    @rx.event
    def open_suite(self, suite_id: str) -> None:
        self._open_suite(suite_id)

    @rx.event
    def close_suite(self) -> None:
        self.suite_id, self.suite, self.run_id, self.run, self.results = "", {}, "", {}, []
        self._refresh()

    def _open_suite(self, suite_id: str) -> None:
        self.suite_error = ""
        try:
            with self.acting() as (session, _u, actor):
                sid = parse_id(suite_id, "Test suite")
                suite = suites.get_suite(session, actor, sid)
                self.suite_id = str(suite.id)
                self.suite = {
                    "name": suite.name,
                    "kind": suite.kind.value,
                    "agent_id": str(suite.agent_id),
                    "repeat": str(suite.repeat),
                    "pass_k": str(suite.pass_k),
                    "judges": ", ".join(suite.judge_models) or "the agent's own model",
                    "budget": f"${suite.budget_usd}" if suite.budget_usd is not None else "none",
                    "builtin": "yes" if suite.builtin else "",
                }
                self.cases = [
                    {
                        "id": str(c.id),
                        "name": c.name,
                        "message": str((c.input or {}).get("message", ""))[:200],
                        "assertions": "; ".join(_summary(a) for a in c.assertions) or "run ends",
                        "status": c.status.value,
                        "source": c.source.value,
                        "tags": ", ".join(c.tags),
                    }
                    for c in suites.list_cases(session, actor, sid, limit=500)
                ]
                recent = runner.list_suite_runs(session, actor, sid, limit=10)
                self.runs = [
                    {
                        "id": str(r.id),
                        "status": r.status.value,
                        "score": f"{r.score:.2f}" if r.score is not None else "",
                        "cases": f"{r.passed_cases} passed · {r.failed_cases} failed"
                        + (f" · {r.flaky_cases} flaky" if r.flaky_cases else ""),
                        "when": f"{r.created_at:%Y-%m-%d %H:%M}",
                        "trigger": r.trigger,
                    }
                    for r in recent
                ]
                self.chart = [
                    {"label": p.label, "score": p.score if p.score is not None else 0}
                    for p in views.score_history(session, actor, sid)
                ]
        except DomainError as exc:
            self.suite_error = exc.message
            return
        if self.runs and not self.run_id:
            self._open_run(self.runs[0]["id"])

    @rx.event
    def open_run(self, suite_run_id: str) -> None:
        self._open_run(suite_run_id)

    def _open_run(self, suite_run_id: str) -> None:
        try:
            with self.acting() as (session, _u, actor):
                rid = parse_id(suite_run_id, "Suite run")
                run = runner.get_suite_run(session, actor, rid)
                self.run_id = str(run.id)
                self.run = {
                    "status": run.status.value,
                    "done": str(run.finished_runs),
                    "total": str(run.total_runs),
                    "score": f"{run.score:.2f}" if run.score is not None else "",
                    "cost": f"${run.cost:.4f}",
                    "error": run.error or "",
                    "summary": f"{run.passed_cases} passed · {run.failed_cases} failed · "
                    f"{run.flaky_cases} flaky",
                }
                self.progress = _percent(run.finished_runs, run.total_runs)
                self.results = [
                    {
                        "id": str(r.id),
                        "case": r.case if r.repeat == 0 else f"{r.case} #{r.repeat + 1}",
                        "verdict": {True: "pass", False: "fail", None: "—"}[r.passed],
                        "overruled": "by a person" if r.overruled else "",
                        "score": f"{r.score:.2f}" if r.score is not None else "",
                        "expected": r.expected[:400],
                        "actual": r.actual[:400],
                        "reasons": r.reasons[:400],
                        "run": str(r.run_id) if r.run_id else "",
                    }
                    for r in views.result_rows(session, actor, rid)
                ]
        except DomainError as exc:
            self.suite_error = exc.message

    # --- running ---------------------------------------------------------------------------

    @rx.event
    def run_suite(self) -> Any:
        self.suite_error = ""
        try:
            with self.acting() as (session, _u, actor):
                run = runner.start_suite_run(session, actor, parse_id(self.suite_id, "Suite"))
                started = str(run.id)
        except DomainError as exc:
            self.suite_error = exc.message
            return None
        self.run_id = ""
        self._open_suite(self.suite_id)
        self._open_run(started)
        return TestsState.watch_run

    @rx.event
    def cancel_run(self) -> None:
        try:
            with self.acting() as (session, _u, actor):
                runner.cancel_suite_run(session, actor, parse_id(self.run_id, "Suite run"))
        except DomainError as exc:
            self.suite_error = exc.message
        self._open_run(self.run_id)

    @rx.event(background=True)
    async def watch_run(self) -> None:
        """Move the progress bar and fill results as cases are graded; ends when the suite
        run closes or the person left the page."""
        async with self:
            if self._watching:
                return
            self._watching = True
        try:
            for _ in range(WATCH_LIMIT_SECONDS):
                await asyncio.sleep(1.0)
                async with self:
                    if not self.router.page.path.startswith("/tests") or not self.run_id:
                        return
                    await asyncio.to_thread(self._open_run, self.run_id)
                    if not self.run_open:
                        await asyncio.to_thread(self._open_suite, self.suite_id)
                        return
        finally:
            async with self:
                self._watching = False

    @rx.event
    def overrule(self, result_id: str, passed: bool) -> None:
        try:
            with self.acting() as (session, _u, actor):
                runner.overrule(
                    session,
                    actor,
                    parse_id(result_id, "Result"),
                    passed=passed,
                    note="Overruled on the Tests page",
                )
        except DomainError as exc:
            self.suite_error = exc.message
        self._open_run(self.run_id)

    # --- a suite's settings and schedule ------------------------------------------------------

    @rx.event
    def toggle_settings(self) -> None:
        self.settings_error = ""
        if self.settings_open:
            self.settings_open = False
            return
        try:
            with self.acting() as (session, _u, actor):
                suite = suites.get_suite(session, actor, parse_id(self.suite_id, "Suite"))
                self.settings = {
                    "name": suite.name,
                    "repeat": str(suite.repeat),
                    "pass_k": str(suite.pass_k),
                    "pass_threshold": str(suite.pass_threshold),
                    "judge_models": ", ".join(suite.judge_models),
                    "budget_usd": str(suite.budget_usd) if suite.budget_usd is not None else "",
                    "run_on_new_version": "yes" if suite.run_on_new_version else "",
                    "required_for_publish": "yes" if suite.required_for_publish else "",
                    "alert_below": str(suite.alert_below) if suite.alert_below is not None else "",
                    "alert_webhook_url": alerts.shown_webhook(actor, suite.alert_webhook_url) or "",
                }
        except DomainError as exc:
            self.suite_error = exc.message
            return
        self.settings_open = True

    @rx.event
    def set_setting(self, key: str, value: str | bool) -> None:
        if isinstance(value, bool):
            value = "yes" if value else ""
        self.settings = {**self.settings, key: value}

    @rx.event
    def save_settings(self) -> None:
        self.settings_error = ""
        form = self.settings
        try:
            try:
                numbers = {
                    "repeat": int(form["repeat"]),
                    "pass_k": int(form["pass_k"]),
                    "pass_threshold": float(form["pass_threshold"]),
                    "alert_below": float(form["alert_below"]) if form["alert_below"] else None,
                }
            except ValueError:
                raise DomainError(
                    "Repeats and passes are whole numbers; the shares are between 0 and 1."
                ) from None
            with self.acting() as (session, _u, actor):
                suites.update_suite(
                    session,
                    actor,
                    parse_id(self.suite_id, "Suite"),
                    {
                        **numbers,
                        "name": form["name"],
                        "judge_models": [m for m in form["judge_models"].split(",") if m.strip()],
                        "budget_usd": form["budget_usd"],
                        "run_on_new_version": bool(form["run_on_new_version"]),
                        "required_for_publish": bool(form["required_for_publish"]),
                        "alert_webhook_url": form["alert_webhook_url"],
                    },
                )
        except DomainError as exc:
            self.settings_error = exc.message
            return
        self.settings_open = False
        self._open_suite(self.suite_id)

    @rx.event
    def set_schedule_cron(self, value: str) -> None:
        self.schedule_cron = value

    @rx.event
    def schedule_suite(self) -> Any:
        self.suite_error = ""
        try:
            with self.acting() as (session, _u, actor):
                suite_schedules.schedule_suite(
                    session,
                    actor,
                    parse_id(self.suite_id, "Suite"),
                    cron=self.schedule_cron,
                    timezone=self.schedule_zone,
                )
        except DomainError as exc:
            self.suite_error = exc.message
            return None
        self.schedule_cron = ""
        return rx.toast.success("Scheduled: see it on the Schedules page.")

    # --- suites: new, import, export, safety, delete ----------------------------------------

    @rx.event
    def toggle_new_suite(self) -> None:
        self.new_suite_open = not self.new_suite_open
        self.new_suite = {
            "name": "",
            "kind": "functional",
            "agent_id": self.agent_filter
            or (self.agent_options[0]["id"] if self.agent_options else ""),
        }
        self.error = ""

    @rx.event
    def set_new_suite(self, key: str, value: str) -> None:
        self.new_suite = {**self.new_suite, key: value}

    @rx.event
    def create_suite(self) -> None:
        try:
            with self.acting() as (session, _u, actor):
                suite = suites.create_suite(
                    session,
                    actor,
                    parse_id(self.new_suite.get("agent_id", ""), "Agent"),
                    {"name": self.new_suite.get("name", ""), "kind": self.new_suite["kind"]},
                )
                created = str(suite.id)
        except DomainError as exc:
            self.error = exc.message
            return
        self.new_suite_open = False
        self._refresh()
        self._open_suite(created)

    @rx.event
    def toggle_import(self) -> None:
        self.import_open = not self.import_open
        self.import_text, self.import_name, self.error = "", "", ""

    @rx.event
    def set_import_text(self, value: str) -> None:
        self.import_text = value

    @rx.event
    def set_import_name(self, value: str) -> None:
        self.import_name = value

    @rx.event
    def import_suite(self) -> None:
        agent_id = self.agent_filter or (self.agent_options[0]["id"] if self.agent_options else "")
        try:
            with self.acting() as (session, _u, actor):
                suite = suites.import_yaml(
                    session,
                    actor,
                    parse_id(agent_id, "Agent"),
                    self.import_text,
                    name=self.import_name.strip() or None,
                )
                created = str(suite.id)
        except DomainError as exc:
            self.error = exc.message
            return
        self.import_open = False
        self._refresh()
        self._open_suite(created)

    @rx.event
    def export_suite(self) -> Any:
        try:
            with self.acting() as (session, _u, actor):
                text = suites.export_yaml(session, actor, parse_id(self.suite_id, "Suite"))
        except DomainError as exc:
            self.suite_error = exc.message
            return None
        self.export_text = text
        name = (self.suite.get("name") or "suite").lower().replace(" ", "-")
        return rx.download(data=text, filename=f"{name}.yaml")

    @rx.event
    def safety_suite(self) -> None:
        if not self.agent_filter:
            self.error = "Choose an agent first: the safety suite is made for its tools."
            return
        try:
            with self.acting() as (session, _u, actor):
                suite = safety.ensure_safety_suite(
                    session, actor, parse_id(self.agent_filter, "Agent")
                )
                created = str(suite.id)
        except DomainError as exc:
            self.error = exc.message
            return
        self._refresh()
        self._open_suite(created)

    @rx.event
    def delete_suite(self) -> None:
        try:
            with self.acting() as (session, _u, actor):
                suites.delete_suite(session, actor, parse_id(self.suite_id, "Suite"))
        except DomainError as exc:
            self.suite_error = exc.message
            return
        self.suite_id, self.suite, self.run_id, self.run, self.results = "", {}, "", {}, []
        self._refresh()

    # --- generate ---------------------------------------------------------------------------

    @rx.event(background=True)
    async def generate_tests(self) -> None:
        async with self:
            if self.generating:
                return
            if not self.agent_filter:
                self.error = "Choose an agent first: tests are generated from what it is."
                return
            self.generating, self.generate_note, self.error = True, "", ""
            token, agent_filter = self.auth_token, self.agent_filter
            client_ip = self._client_ip()
        try:
            note, suite_id = await self._generate(token, agent_filter, client_ip)
        except DomainError as exc:
            async with self:
                self.error, self.generating = exc.message, False
            return
        async with self:
            self.generating, self.generate_note = False, note
            await asyncio.to_thread(self._refresh)
            await asyncio.to_thread(self._open_suite, suite_id)

    @staticmethod
    async def _generate(token: str, agent_filter: str, client_ip: str | None) -> tuple[str, str]:
        actor = await asyncio.to_thread(actor_from_token, token, client_ip)
        agent_id = uuid.UUID(agent_filter)

        def _prepare() -> generate.Drafting:
            with session_scope() as session:
                return generate.prepare(session, actor, agent_id)

        drafting = await asyncio.to_thread(_prepare)
        proposals, problems = await generate.propose(drafting, generate.call_model)

        def _store() -> generate.Outcome:
            with session_scope() as session:
                return generate.store(session, actor, drafting, proposals, problems)

        outcome = await asyncio.to_thread(_store)
        parts = [f"{outcome.drafted} draft case(s) to review"]
        if outcome.merged:
            parts.append(f"{outcome.merged} near-duplicate(s) merged")
        parts.append("safety probes refreshed")
        note = "Generated: " + ", ".join(parts) + "."
        if outcome.note:
            note += " " + outcome.note
        if outcome.problems:
            note += " " + " ".join(outcome.problems)
        return note, str(outcome.suite_id)

    # --- cases -------------------------------------------------------------------------------

    @rx.event
    def toggle_case(self) -> None:
        self.case_open = not self.case_open
        self.case_form = dict(BLANK_CASE)
        self.case_assertions = [dict(BLANK_ASSERTION)]
        self.case_error = ""

    @rx.event
    def set_case_field(self, key: str, value: str) -> None:
        self.case_form = {**self.case_form, key: value}

    @rx.event
    def set_assertion(self, index: int, key: str, value: str) -> None:
        rows = [dict(a) for a in self.case_assertions]
        rows[index][key] = value
        self.case_assertions = rows

    @rx.event
    def add_assertion(self) -> None:
        self.case_assertions = [*self.case_assertions, dict(BLANK_ASSERTION)]

    @rx.event
    def remove_assertion(self, index: int) -> None:
        self.case_assertions = [a for i, a in enumerate(self.case_assertions) if i != index]

    @rx.event
    def save_case(self) -> None:
        self.case_error = ""
        try:
            assertions = []
            for row in self.case_assertions:
                item: dict[str, Any] = {"type": row["type"]}
                value = _assertion_value(row["type"], row["value"])
                if value is not None:
                    item["value"] = value
                if row["threshold"].strip():
                    try:
                        item["threshold"] = float(row["threshold"])
                    except ValueError:
                        raise DomainError("A threshold is a number, like 0.7 or 2000.") from None
                assertions.append(item)
            with self.acting() as (session, _u, actor):
                suites.add_case(
                    session,
                    actor,
                    parse_id(self.suite_id, "Suite"),
                    {
                        "name": self.case_form["name"],
                        "message": self.case_form["message"],
                        "expected": self.case_form["expected"] or None,
                        "tags": [t for t in self.case_form["tags"].split(",") if t.strip()],
                        "assertions": assertions,
                    },
                )
        except DomainError as exc:
            self.case_error = exc.message
            return
        self.case_open = False
        self._open_suite(self.suite_id)

    @rx.event
    def decide_case(self, case_id: str, accept: bool) -> None:
        status = CaseStatus.ACCEPTED if accept else CaseStatus.REJECTED
        try:
            with self.acting() as (session, _u, actor):
                suites.set_case_status(session, actor, parse_id(case_id, "Case"), status)
        except DomainError as exc:
            self.suite_error = exc.message
        self._open_suite(self.suite_id)

    @rx.event
    def delete_case(self, case_id: str) -> None:
        try:
            with self.acting() as (session, _u, actor):
                suites.delete_case(session, actor, parse_id(case_id, "Case"))
        except DomainError as exc:
            self.suite_error = exc.message
        self._open_suite(self.suite_id)
