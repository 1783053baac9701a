"""Schedules in a real browser, against `up` (whose scheduler process ticks): create a schedule
from the agent page, see its next fire times, see it fire, open its run from the history; the
page at phone width."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import add_scripted_provider, sign_up
from tests.fakes.openai_server import ScriptedLLM

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


def test_create_preview_fire_and_open_the_run(
    app_server: RunningApp, browser, llm, artifacts
) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(page, app_server.url, name="Sched", email="sched@example.com")
    add_scripted_provider(page, llm.base_url, key="sk-scripted-0001", models="gpt-a")
    page.click("#nav-agents")
    page.click("#new-agent", timeout=20_000)
    page.click("#template-research")
    page.click("#create-agent-submit")
    expect(page.locator("#agent-name")).to_have_text("Research assistant", timeout=20_000)

    page.click("#open-schedules")
    expect(page.get_by_text("No schedules yet")).to_be_visible(timeout=20_000)
    page.click("#schedule-new")
    page.fill("#schedule-name", "Weekday digest")
    page.fill("#schedule-timezone", "America/New_York")
    page.fill("#schedule-cron", "30 2 * * *")
    preview = page.locator("#schedule-preview")
    expect(preview.locator("tbody tr")).to_have_count(5, timeout=20_000)
    expect(preview).to_contain_text("02:30")
    expect(preview).to_contain_text("Your time (")  # the browser's own zone, whichever it is
    page.fill("#schedule-cron", "61 * * * *")
    expect(page.locator("#schedule-preview-error")).to_contain_text(
        "not a valid cron expression", timeout=20_000
    )
    page.screenshot(path=str(artifacts / "schedules-01-editor.png"), full_page=True)

    # A one-off half a minute ahead (in UTC; time to fill the form even on a busy machine):
    # the platform's own scheduler process fires it.
    page.click("#schedule-kind")
    page.get_by_role("option", name="Once").click()
    page.fill("#schedule-timezone", "UTC")
    soon = datetime.now(UTC) + timedelta(seconds=30)
    page.fill("#schedule-run_at", soon.strftime("%Y-%m-%dT%H:%M:%S"))
    expect(preview.locator("tbody tr")).to_have_count(1, timeout=20_000)
    page.fill("#schedule-message", "Summarise today")
    page.click("#schedule-save")
    table = page.locator("#schedules-table")
    expect(table).to_contain_text("Weekday digest", timeout=20_000)
    expect(table).to_contain_text("Research assistant")

    page.locator(".schedule-history").first.click()
    expect(page.locator("#fires-card")).to_be_visible(timeout=20_000)
    link = page.locator(".fire-run-link")
    deadline = datetime.now(UTC) + timedelta(seconds=150)
    while link.count() == 0:  # the fire happens in the scheduler process: ask again until then
        assert datetime.now(UTC) < deadline, (
            "the schedule did not fire within 2 minutes of its time"
        )
        page.click("#fires-refresh")
        page.wait_for_timeout(500)  # sleep-ok: one poll step of a loop bounded by a deadline
    expect(page.locator("#fires-table")).to_contain_text("started")
    expect(table).to_contain_text("paused")  # a one-off pauses itself after its fire
    page.screenshot(path=str(artifacts / "schedules-02-fired.png"), full_page=True)
    link.first.click()
    expect(page.locator("body")).to_contain_text("Summarise today", timeout=20_000)
    page.screenshot(path=str(artifacts / "schedules-03-run.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(app_server.url + "/schedules")
    expect(page.locator("#schedules-table")).to_contain_text("Weekday digest", timeout=20_000)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at a 390 px viewport"
    page.screenshot(path=str(artifacts / "schedules-04-phone.png"), full_page=True)
    assert errors == []
