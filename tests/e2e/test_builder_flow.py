"""The visual builder in a real browser: drag a tool and a knowledge collection onto the
canvas, wire them into the model, save (a new version), run the draft in the test panel."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import add_scripted_provider, sign_up
from tests.fakes.openai_server import Turn

pytestmark = pytest.mark.browser


def _wire(page, node_id: str) -> None:
    """Drag from the node's output handle to the model's input handle, like a person does."""
    source = page.locator(f'.react-flow__node[data-id="{node_id}"] .react-flow__handle.source')
    target = page.locator('.react-flow__node[data-id="model"] .react-flow__handle.target')
    a, b = source.bounding_box(), target.bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=12)
    page.mouse.up()


def test_build_on_the_canvas_save_and_test(app_server: RunningApp, browser, llm, artifacts) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    sign_up(page, app_server.url, name="Bea", email="bea@example.com")

    # a model provider and a knowledge collection to build with
    add_scripted_provider(page, llm.base_url, key="sk-scripted-0003", models="gpt-a")
    page.click("#nav-knowledge")
    page.fill("#collection_name", "handbook", timeout=20_000)
    page.click("#collection-create")
    expect(page.locator("#collections-list")).to_contain_text("handbook", timeout=20_000)

    page.click("#nav-agents")
    page.click("#new-agent", timeout=20_000)
    page.fill("#name", "Canvas agent")
    page.fill("#model", "local/gpt-a")
    page.click("#create-agent-submit")
    expect(page.locator("#agent-name")).to_have_text("Canvas agent", timeout=20_000)
    agent_id = page.url.split("id=")[1]

    page.goto(f"{app_server.url}/builder?id={agent_id}")
    expect(page.locator("#builder-version")).to_have_text("version 1", timeout=30_000)
    canvas = page.locator("#canvas .react-flow__pane")
    expect(page.locator('.react-flow__node[data-id="model"]')).to_be_visible()

    page.drag_and_drop(
        '[data-palette="tool:calculator"]',
        "#canvas .react-flow__pane",
        target_position={"x": 120, "y": 380},
    )
    page.drag_and_drop(
        '[data-palette="knowledge:handbook"]',
        "#canvas .react-flow__pane",
        target_position={"x": 120, "y": 470},
    )
    calculator = page.locator('.react-flow__node[data-id="tool:calculator"]')
    handbook = page.locator('.react-flow__node[data-id="knowledge:handbook"]')
    expect(calculator).to_contain_text("Not connected to the model", timeout=10_000)
    expect(handbook).to_contain_text("Not connected to the model")
    expect(page.locator("#builder-problems")).to_be_visible()
    page.click("#builder-save")
    expect(page.locator("#builder-error")).to_contain_text("Fix the marked nodes first")

    page.screenshot(path=str(artifacts / "39-builder-dropped.png"), full_page=True)
    _wire(page, "tool:calculator")
    expect(calculator).not_to_contain_text("Not connected", timeout=10_000)
    _wire(page, "knowledge:handbook")
    expect(calculator).not_to_contain_text("Not connected", timeout=10_000)
    expect(handbook).not_to_contain_text("Not connected")
    expect(page.locator("#builder-problems")).to_have_count(0)
    assert canvas.count() == 1
    page.screenshot(path=str(artifacts / "40-builder-canvas.png"), full_page=True)

    page.click("#builder-save")
    expect(page.locator("#builder-version")).to_have_text("version 2", timeout=20_000)
    expect(page.locator(".react-flow__edge")).to_have_count(3)  # instructions and the two new ones

    # the form editor shows the same agent: what the canvas shows is what runs
    page.goto(f"{app_server.url}/agent?id={agent_id}")
    expect(page.locator("#tool-calculator")).to_be_checked(timeout=20_000)
    # the new version beside the previous one
    expect(page.locator("#versions")).to_contain_text("2")
    page.click("#compare-versions")
    diff = page.locator("#diff-table")
    expect(diff).to_contain_text("calculator", timeout=20_000)
    expect(diff).to_contain_text("handbook")
    expect(diff).to_contain_text("Version 1")
    expect(diff).to_contain_text("Version 2")
    page.screenshot(path=str(artifacts / "43-version-diff.png"), full_page=True)

    page.goto(f"{app_server.url}/builder?id={agent_id}")
    expect(page.locator("#builder-version")).to_have_text("version 2", timeout=30_000)
    expect(page.locator('.react-flow__node[data-id="tool:calculator"]')).to_be_visible()
    llm.reset()
    llm.script(
        Turn(tool_calls=[{"name": "calculator", "arguments": {"expression": "21*2"}}]),
        Turn(text="It is 42.", chunk_size=2, chunk_delay=0.02),
    )
    page.fill("#test-message", "What is 21 times 2?")
    page.click("#test-run")
    expect(page.locator("#test-output")).to_have_text("It is 42.", timeout=30_000)
    expect(page.locator("#test-panel")).to_contain_text("✓ calculator")
    page.screenshot(path=str(artifacts / "41-builder-test-panel.png"), full_page=True)

    # the dashboard counts the run, for the organization and on the agent's own view
    page.click("#nav-dashboard")
    expect(page.locator("#stat-runs")).to_have_text("1", timeout=30_000)
    expect(page.locator("#runs-chart")).to_be_visible()
    page.screenshot(path=str(artifacts / "42-dashboard.png"), full_page=True)
    page.goto(f"{app_server.url}/dashboard?agent={agent_id}")
    expect(page.locator("#dashboard-agent-name")).to_have_text("Canvas agent", timeout=30_000)
    expect(page.locator("#stat-runs")).to_have_text("1")

    # delete with the keyboard
    page.goto(f"{app_server.url}/builder?id={agent_id}")
    expect(page.locator("#builder-version")).to_have_text("version 2", timeout=30_000)
    # keyboard only: Enter on a palette item adds it already wired in; Delete removes a node
    page.focus('[data-palette="tool:json_extract"]')
    page.keyboard.press("Enter")
    added = page.locator('.react-flow__node[data-id="tool:json_extract"]')
    expect(added).to_be_visible(timeout=10_000)
    expect(added).not_to_contain_text("Not connected")
    page.keyboard.press("Escape")

    page.locator('.react-flow__node[data-id="tool:calculator"]').click()
    expect(page.locator("#side-panel")).to_contain_text("calculator")
    page.keyboard.press("Delete")
    expect(page.locator('.react-flow__node[data-id="tool:calculator"]')).to_have_count(0)
    expect(page.locator("#builder-dirty")).to_be_visible()

    # phone width: the panels stack under the canvas, nothing needs sideways scrolling
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{app_server.url}/builder?id={agent_id}")
    expect(page.locator('.react-flow__node[data-id="model"]')).to_be_visible(timeout=30_000)
    expect(page.locator("#builder-save")).to_be_visible()
    expect(page.locator("#test-panel")).to_be_attached()
    pane = page.locator("#canvas .react-flow__pane").bounding_box()
    assert pane["width"] > 300 and pane["height"] > 300, pane  # a canvas, not a sliver
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path=str(artifacts / "44-builder-phone.png"), full_page=True)
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px at phone width"
    assert errors == []
    ctx.close()
