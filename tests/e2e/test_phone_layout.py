"""Every list page at desktop (1366×768) and phone (390×844) width: no sideways page scroll and
no button pushed past the edge of the screen, with real rows in each table."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import add_scripted_provider, sign_up
from tests.fakes.openai_server import ScriptedLLM, Turn

pytestmark = pytest.mark.browser

SIZES = {"desktop": (1366, 768), "phone": (390, 844)}

# What the page measures: sideways overflow of the document, and every visible button (or
# tab) whose box reaches outside the viewport's width.
MEASURE = """() => {
  const de = document.documentElement;
  const width = de.clientWidth;
  const cut = [];
  for (const b of document.querySelectorAll('button, [role=button], [role=tab]')) {
    const r = b.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (getComputedStyle(b).visibility === 'hidden') continue;
    if (r.left < -1 || r.right > width + 1) {
      const name = b.id || b.getAttribute('aria-label') || b.textContent.trim();
      cut.push(`${name.slice(0, 40)} [${Math.round(r.left)}..${Math.round(r.right)}]`);
    }
  }
  return {overflow: de.scrollWidth - de.clientWidth, cut};
}"""


# A row can pass Playwright's "visible" while a clipped parent hides it: ask the page what is
# drawn at the middle of the row's first cell.
ROW_SHOWN = """(row) => {
  row.scrollIntoView({block: 'center'});
  const cell = row.firstElementChild.getBoundingClientRect();
  const hit = document.elementFromPoint(cell.left + cell.width / 2, cell.top + cell.height / 2);
  return hit !== null && row.contains(hit);
}"""


def _check(page: Any, label: str, artifacts: Any, problems: list[str]) -> None:
    page.screenshot(path=str(artifacts / f"layout-{label}.png"), full_page=True)
    found = page.evaluate(MEASURE)
    if found["overflow"] > 0:
        problems.append(f"{label}: page scrolls sideways by {found['overflow']} px")
    for button in found["cut"]:
        problems.append(f"{label}: button cut off: {button}")


def _seed(page: Any, app: RunningApp, llm: ScriptedLLM, fake_github: Any) -> None:
    """One row in every table: a provider, an agent, a run, a document, a connection, a key."""
    from playwright.sync_api import expect

    sign_up(page, app.url, name="Pat Phone", email="phone@example.com")
    add_scripted_provider(page, llm.base_url, key="sk-scripted-0009", models="gpt-a")

    page.click("#nav-agents")
    page.click("#new-agent", timeout=20_000)
    page.fill("#name", "A rather long agent name for a narrow screen")
    page.fill("#model", "local/gpt-a")
    page.click("#create-agent-submit")
    expect(page.locator("#agent-name")).to_contain_text("narrow screen", timeout=20_000)

    llm.script(Turn(text="Hello from the scripted model."))
    page.click("#open-playground")
    page.fill("#chat-input", "Say hello, please, in a sentence long enough to wrap.")
    page.click("#chat-send")
    # only the run's row matters here, whatever the model answered
    expect(page.locator(".msg-assistant").last).to_be_visible(timeout=30_000)
    page.click("#nav-runs")
    page.locator("#runs-table tbody tr a").first.click(timeout=20_000)
    expect(page.locator("#run-version")).to_have_text("version 1", timeout=20_000)
    page.click("#replay-run")
    expect(page.locator("#run-replay-of")).to_be_visible(timeout=20_000)

    page.click("#nav-knowledge")
    page.fill("#collection_name", "handbook", timeout=20_000)
    page.click("#collection-create")
    expect(page.locator("#collections-list")).to_contain_text("handbook", timeout=20_000)
    page.locator("#knowledge-upload input[type=file]").set_input_files(
        files=[
            {
                "name": "a-document-with-a-long-file-name-for-phones.txt",
                "mimeType": "text/plain",
                "buffer": b"Refunds are possible within 30 days.\n",
            }
        ]
    )
    page.click("#knowledge-upload-button")
    expect(page.locator("#documents-table")).to_contain_text("long-file-name", timeout=30_000)

    fake_github.set_token("gho_layout" + "y" * 30)
    page.click("#nav-integrations")
    page.click("#connect-github", timeout=20_000)
    page.get_by_role("button", name="Allow").click(timeout=20_000)
    expect(page.locator("#conn-row-GitHub")).to_be_visible(timeout=30_000)

    page.click("#nav-settings")
    page.click("#tab-keys", timeout=20_000)
    page.fill("#key_name", "CI pipeline")
    page.click("#key-submit")
    expect(page.locator("body")).to_contain_text("CI pipeline", timeout=20_000)


def test_list_pages_fit_desktop_and_phone(
    app_server: RunningApp, browser, llm, fake_github, artifacts
) -> None:
    from playwright.sync_api import expect

    width, height = SIZES["desktop"]
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _seed(page, app_server, llm, fake_github)

    tables = {
        "settings/providers": "#providers-table",
        "integrations": "#connections-table",
        "agents": "#agents-table",
        "runs": "#runs-table",
        "knowledge": "#documents-table",
    }
    problems: list[str] = []
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        for name, table in tables.items():
            page.goto(f"{app_server.url}/{name}")
            if name == "knowledge":
                page.locator("#collection-item-0").click(timeout=20_000)
            row = page.locator(f"{table} tbody tr").first
            expect(row).to_be_visible(timeout=30_000)
            if not row.evaluate(ROW_SHOWN):
                problems.append(f"{size}-{name}: the first row of {table} is not drawn")
            page.evaluate("window.scrollTo(0, 0)")
            _check(page, f"{size}-{name.split('/')[-1]}", artifacts, problems)
        page.goto(f"{app_server.url}/settings")
        for tab in ["organization", "members", "invitations", "keys", "audit"]:
            page.click(f"#tab-{tab}", timeout=20_000)
            expect(page.locator(f"#tab-{tab}")).to_have_attribute("data-state", "active")
            _check(page, f"{size}-settings-{tab}", artifacts, problems)
    assert not problems, "\n".join(problems)
    assert not errors, errors
    ctx.close()


def test_dark_mode_toggle_switches_and_is_remembered(app_server: RunningApp, browser) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, color_scheme="light")
    page = ctx.new_page()
    sign_up(page, app_server.url, name="Dana Dark", email="dark@example.com")
    html = page.locator("html")
    expect(html).not_to_have_class(re.compile(r"\bdark\b"))
    toggle = page.locator("#color-mode-toggle")
    expect(toggle).to_have_text("Dark mode")
    toggle.click()
    expect(html).to_have_class(re.compile(r"\bdark\b"))
    expect(toggle).to_have_text("Light mode")
    page.reload()
    expect(page.locator("#current-user-name")).to_have_text("Dana Dark", timeout=20_000)
    expect(html).to_have_class(re.compile(r"\bdark\b"))

    page.set_viewport_size({"width": 390, "height": 844})
    page.click("#mobile-menu")
    page.click("#mobile-color-mode")
    expect(html).not_to_have_class(re.compile(r"\bdark\b"))
    ctx.close()


def test_model_picker_offers_what_the_provider_serves(app_server: RunningApp, browser, llm) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    sign_up(page, app_server.url, name="Mo Picker", email="picker@example.com")
    add_scripted_provider(page, llm.base_url, key="sk-scripted-0010", models="gpt-a")
    page.click("#nav-agents")
    page.click("#new-agent", timeout=20_000)
    expect(page.locator("#create-model-choices option")).to_have_count(1, timeout=20_000)
    assert page.get_attribute("#model", "list") == "create-model-choices"
    page.click("#create-fetch-models")
    expect(page.locator("#create-models-note")).to_have_text("2 models.", timeout=20_000)
    expect(page.locator("#create-model-choices option")).to_have_count(2)
    page.fill("#name", "Picky")
    page.fill("#model", "local/gpt-a")
    page.click("#create-agent-submit")
    expect(page.locator("#agent-name")).to_have_text("Picky", timeout=20_000)
    agent_id = page.url.split("id=")[1]
    page.goto(f"{app_server.url}/builder?id={agent_id}")
    page.locator('.react-flow__node[data-id="model"]').click(timeout=30_000)
    options = page.locator("#model-choices option")
    expect(options).to_have_count(1, timeout=20_000)
    assert page.get_attribute("#node_model", "list") == "model-choices"
    page.click("#fetch-models")
    expect(page.locator("#models-note")).to_have_text("2 models.", timeout=20_000)
    values = [options.nth(i).get_attribute("value") for i in range(options.count())]
    assert values == ["local/gpt-a", "local/gpt-b"]
    ctx.close()
