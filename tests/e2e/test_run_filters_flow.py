"""The runs list in a real browser: runs of two agents, one that succeeds and one that fails,
narrowed by the agent filter and by the status filter, and back to all."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import add_scripted_provider, sign_up
from tests.fakes.openai_server import ScriptedLLM, Turn

pytestmark = pytest.mark.browser


def _new_agent(page, name: str, model: str) -> None:
    from playwright.sync_api import expect

    page.click("#nav-agents")
    page.click("#new-agent", timeout=20_000)
    page.fill("#name", name)
    page.fill("#model", model)
    page.fill("#instructions", "Answer briefly.")
    page.click("#create-agent-submit")
    expect(page.locator("#agent-name")).to_have_text(name, timeout=20_000)


def _pick(page, trigger: str, option: str) -> None:
    page.click(trigger)
    page.get_by_role("option", name=option, exact=True).click()


def test_runs_narrow_by_agent_and_by_status(
    app_server: RunningApp, browser, llm: ScriptedLLM, artifacts
) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(page, app_server.url, name="Rita Runs", email="rita@example.com")
    add_scripted_provider(page, llm.base_url, key="sk-runs-0007", models="gpt-a, gpt-b")

    # Alpha answers; Beta's model refuses (a 400 is not retried), so its run fails.
    llm.reset()
    llm.script(*[Turn(status=400, error="this model is switched off")] * 4, model="gpt-b")
    _new_agent(page, "Alpha", "local/gpt-a")
    page.click("#open-playground")
    page.fill("#chat-input", "first question")
    page.click("#chat-send")
    expect(page.locator(".msg-assistant").last).to_have_text("echo: first question", timeout=30_000)
    _new_agent(page, "Beta", "local/gpt-b")
    page.click("#open-playground")
    page.fill("#chat-input", "second question")
    page.click("#chat-send")
    expect(page.locator("#chat-log")).to_contain_text("switched off", timeout=30_000)

    page.click("#nav-runs")
    rows = page.locator("#runs-table tbody tr")
    expect(rows).to_have_count(2, timeout=20_000)
    expect(page.locator("#runs-table")).to_contain_text("succeeded")
    expect(page.locator("#runs-table")).to_contain_text("failed")

    _pick(page, "#agent-filter", "Alpha")
    expect(rows).to_have_count(1, timeout=20_000)
    expect(rows.first).to_contain_text("Alpha")
    expect(rows.first).to_contain_text("succeeded")
    page.screenshot(path=str(artifacts / "runs-01-by-agent.png"), full_page=True)

    _pick(page, "#agent-filter", "All agents")
    expect(rows).to_have_count(2, timeout=20_000)
    _pick(page, "#status-filter", "failed")
    expect(rows).to_have_count(1, timeout=20_000)
    expect(rows.first).to_contain_text("Beta")
    expect(rows.first).to_contain_text("second question")
    page.screenshot(path=str(artifacts / "runs-02-failed.png"), full_page=True)

    # Both filters at once: Alpha has no failed run.
    _pick(page, "#agent-filter", "Alpha")
    expect(page.get_by_text("No runs match")).to_be_visible(timeout=20_000)
    expect(rows).to_have_count(0)
    page.screenshot(path=str(artifacts / "runs-03-none.png"), full_page=True)
    assert errors == [], errors
    assert "Traceback" not in app_server.log(), app_server.log()[-4000:]
    ctx.close()
