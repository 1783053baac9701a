"""The runtime journey in a real browser: provider → agent → chat with streaming and a tool call."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import add_scripted_provider, sign_up
from tests.fakes.openai_server import Turn

pytestmark = pytest.mark.browser


def test_configure_provider_build_agent_and_chat(
    app_server: RunningApp, browser, llm, artifacts
) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    sign_up(page, app_server.url, name="Carol", email="carol@example.com")

    # 1. A provider pointing at the scripted OpenAI-compatible server.
    add_scripted_provider(page, llm.base_url, key="sk-scripted-0001", models="gpt-a, gpt-b")
    expect(page.locator("#providers-table")).not_to_contain_text("sk-scripted-0001")
    page.click("#provider-test-local")
    expect(page.locator("#provider-status-local")).to_contain_text("OK", timeout=30_000)

    # 2. An agent with the calculator tool.
    page.click("#nav-agents")
    page.click("#new-agent", timeout=20_000)
    page.fill("#name", "Math helper")
    page.fill("#model", "local/gpt-a")
    page.fill("#instructions", "You help with arithmetic.")
    page.click("#create-agent-submit")
    expect(page.locator("#agent-name")).to_have_text("Math helper", timeout=20_000)
    page.click("#tool-calculator")
    page.click("#save-agent")
    expect(page.locator("text=Saved as version 2")).to_be_visible(timeout=20_000)
    page.screenshot(path=str(artifacts / "10-agent-editor.png"), full_page=True)

    # 3. Chat: the model calls the calculator, then streams its answer slowly.
    llm.reset()
    llm.script(
        Turn(tool_calls=[{"name": "calculator", "arguments": {"expression": "6*7"}}]),
        Turn(
            text="The answer is 42, computed with the calculator.", chunk_size=3, chunk_delay=0.08
        ),
    )
    page.click("#open-playground")
    page.fill("#chat-input", "What is 6 times 7?")
    page.fill("#chat-budget", "abc")  # refused: both boxes keep what was typed
    page.click("#chat-send")
    expect(page.locator("#playground-error")).to_be_visible(timeout=20_000)
    expect(page.locator("#chat-input")).to_have_value("What is 6 times 7?")
    expect(page.locator("#chat-budget")).to_have_value("abc")
    page.fill("#chat-budget", "")
    page.click("#chat-send")
    expect(page.locator("#chat-input")).to_have_value("", timeout=20_000)  # it started
    # visible while streaming: the first piece goes at once, the rest in a few bigger pieces
    streaming = page.locator("#streaming-text")
    expect(streaming).to_contain_text("The", timeout=30_000)
    partial = streaming.inner_text()
    assert partial != "The answer is 42, computed with the calculator."
    assert "The answer is 42, computed with the calculator.".startswith(partial)
    page.screenshot(path=str(artifacts / "11-playground-streaming.png"), full_page=True)
    expect(page.locator(".msg-assistant").last).to_have_text(
        "The answer is 42, computed with the calculator.", timeout=30_000
    )
    trace = page.locator("#trace-panel")
    expect(trace).to_contain_text("tool · calculator")
    expect(trace).to_contain_text("42")
    expect(page.locator("#trace-totals")).to_contain_text("tokens")
    page.screenshot(path=str(artifacts / "12-playground-done.png"), full_page=True)

    # 4. The run is listed and its page shows the whole trace.
    page.click("#nav-runs")
    expect(page.locator("#runs-table")).to_contain_text("succeeded", timeout=20_000)
    page.locator("#runs-table a").first.click()
    expect(page.locator("#run-output")).to_have_text(
        "The answer is 42, computed with the calculator.", timeout=20_000
    )
    expect(page.locator(".trace-step")).to_have_count(3)

    sent = llm.requests[0]["body"]
    assert sent["tools"][0]["function"]["name"] == "calculator"
    assert errors == [], errors
    assert "Traceback" not in app_server.log(), app_server.log()[-4000:]
