"""The Tests page in a real browser, against `up` (its agent worker runs the cases, its general
worker grades them): generate tests from an agent, accept a draft, run the suite, read the
results with the answer beside each case; the page at phone width."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import add_scripted_provider, sign_up
from tests.fakes.openai_server import ScriptedLLM, Turn

pytestmark = pytest.mark.browser

GENERATED = {
    "functional": [
        {
            "name": "Sunday hours",
            "message": "When are you open on Sundays?",
            "must_contain": ["sunday"],
        },
        {"name": "Returns", "message": "Can I return worn shoes?", "must_contain": ["receipt"]},
    ],
    "quality": [],
}


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


def test_generate_accept_run_and_read_results(
    app_server: RunningApp, browser, llm, artifacts
) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(page, app_server.url, name="Tess", email="tess@example.com")
    add_scripted_provider(page, llm.base_url, key="sk-scripted-0013", models="gpt-a")
    page.click("#nav-agents")
    page.click("#new-agent", timeout=20_000)
    page.fill("#name", "Shoe helper")
    page.fill("#model", "local/gpt-a")
    page.click("#create-agent-submit")
    expect(page.locator("#agent-name")).to_have_text("Shoe helper", timeout=20_000)

    page.click("#open-tests")
    expect(page.locator("#tests-generate")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("No test suites yet")).to_be_visible()
    llm.reset()
    llm.script(Turn(text=json.dumps(GENERATED)))
    page.click("#tests-generate")
    expect(page.locator("#generate-note")).to_contain_text("2 draft case(s)", timeout=30_000)
    expect(page.locator("#suite-name")).to_have_text("Generated tests")
    prompt = llm.requests[-1]["body"]["messages"][1]["content"]
    assert "Shoe helper" in prompt

    # Accept the first draft only; the second stays out of the run.
    page.locator(".case-accept").first.click()
    expect(page.locator("#cases-table")).to_contain_text("accepted", timeout=20_000)
    llm.script(Turn(text="On Sunday we open at 10 and close at 16."))
    page.click("#suite-run")
    expect(page.locator("#suite-run-status")).to_have_text("passed", timeout=60_000)
    results = page.locator("#results-table")
    expect(results).to_contain_text("Sunday hours")
    expect(results).to_contain_text("On Sunday we open at 10")
    expect(results).not_to_contain_text("Returns")
    page.screenshot(path=str(artifacts / "70-tests-results.png"), full_page=True)

    # The trace of the case's run opens from its row.
    with page.expect_navigation():
        results.get_by_text("Trace").first.click()
    expect(page.get_by_text("On Sunday we open at 10").first).to_be_visible(timeout=30_000)
    # ...marked as a test run, its badge leading back to the suite run's results.
    with page.expect_navigation():
        page.locator("#run-test-run").click()
    expect(page.locator("#results-table")).to_contain_text("Sunday hours", timeout=30_000)

    # At phone width the tables become cards and nothing widens the page.
    phone = ctx.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(page.url.split("/tests")[0] + "/tests")
    expect(phone.locator("#suites-table")).to_contain_text("Generated tests", timeout=30_000)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    phone.screenshot(path=str(artifacts / "71-tests-phone.png"), full_page=True)

    assert errors == [], errors
    assert "Traceback" not in app_server.log(), app_server.log()[-4000:]
