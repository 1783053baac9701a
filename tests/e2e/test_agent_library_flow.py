"""The agents library in a real browser: templates, publish with problems, version diff and
restore, duplicate / archive / delete from the row menu, search, phone width."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import add_scripted_provider, sign_up

pytestmark = pytest.mark.browser


def test_library_and_versions(app_server: RunningApp, browser, llm, artifacts) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(page, app_server.url, name="Lib", email="lib@example.com")
    add_scripted_provider(page, llm.base_url, key="sk-scripted-0001", models="gpt-a")

    page.click("#nav-agents")
    expect(page.get_by_text("No agents yet")).to_be_visible(timeout=20_000)
    page.screenshot(path=str(artifacts / "lib-00-empty.png"), full_page=True)
    page.click("#new-agent")
    page.click("#template-research")
    page.screenshot(path=str(artifacts / "lib-01-templates.png"), full_page=True)
    page.click("#create-agent-submit")
    expect(page.locator("#agent-name")).to_have_text("Research assistant", timeout=20_000)
    expect(page.locator("#publish-problems")).to_have_count(0)
    page.click("#publish-agent")
    expect(page.locator("#agent-status")).to_have_text("published", timeout=20_000)
    page.fill("#cfg-instructions", "Research carefully.")
    page.click("#save-agent")
    expect(page.locator("text=Saved as version 2")).to_be_visible(timeout=20_000)
    page.click("#compare-versions")
    expect(page.locator("#diff-table")).to_contain_text("instructions", timeout=20_000)
    page.screenshot(path=str(artifacts / "lib-02-diff.png"), full_page=True)
    expect(page.locator('#diff-table tr[data-kind="changed"]')).to_have_count(1)
    page.click("#diff-only-changes")
    expect(page.locator("#diff-table tbody tr")).to_have_count(1, timeout=20_000)
    page.screenshot(path=str(artifacts / "lib-02-diff.png"), full_page=True)
    page.click("#restore-v1")
    expect(page.locator("#versions")).to_contain_text("current", timeout=20_000)
    expect(page.locator("#restore-v2")).to_be_visible()
    expect(page.locator("#cfg-instructions")).to_contain_text("careful research assistant")
    page.click("#unpublish-agent")
    expect(page.locator("#agent-status")).to_have_text("draft", timeout=20_000)

    page.click("#nav-agents")
    page.click("#new-agent", timeout=20_000)
    page.click("#template-support")
    page.fill("#name", "Helpdesk")
    page.click("#create-agent-submit")
    expect(page.locator("#agent-name")).to_have_text("Helpdesk", timeout=20_000)
    expect(page.locator("#publish-problems")).to_contain_text("has none")
    expect(page.locator("#publish-agent")).to_be_disabled()
    page.screenshot(path=str(artifacts / "lib-03-problems.png"), full_page=True)

    page.click("#nav-agents")
    table = page.locator("#agents-table")
    expect(table).to_contain_text("Helpdesk", timeout=20_000)
    page.click("#sort-agents")
    page.get_by_role("option", name="Sort: Name").click()
    expect(table.locator("tbody tr").first).to_contain_text("Helpdesk", timeout=20_000)
    # keyboard: focus the first row's actions button, open with Enter, pick Duplicate
    first_actions = table.locator("tbody tr").first.locator("[id^=agent-actions-]")
    first_actions.focus()
    page.keyboard.press("Enter")
    page.get_by_role("menuitem", name="Duplicate").click()
    expect(table).to_contain_text("Helpdesk (copy)", timeout=20_000)
    copy_row = table.locator("tbody tr", has_text="Helpdesk (copy)")
    copy_row.locator("[id^=agent-actions-]").click()
    page.get_by_role("menuitem", name="Archive").click()
    expect(table).not_to_contain_text("Helpdesk (copy)", timeout=20_000)
    page.click("#status-filter")
    page.get_by_role("option", name="Archived").click()
    expect(table).to_contain_text("Helpdesk (copy)", timeout=20_000)
    copy_row.locator("[id^=agent-actions-]").click()
    page.get_by_role("menuitem", name="Delete…").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Delete Helpdesk (copy)?")
    page.screenshot(path=str(artifacts / "lib-04-delete.png"), full_page=True)
    page.click("#delete-confirm")
    expect(page.get_by_text("No agents match")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Clear filters").click()
    expect(table).to_contain_text("Research assistant", timeout=20_000)
    page.fill("#agent-search", "help")
    page.keyboard.press("Enter")
    expect(table.locator("tbody tr")).to_have_count(1, timeout=20_000)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts / "lib-05-phone.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    assert errors == []
    ctx.close()
