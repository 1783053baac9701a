"""Streaming sends only what is new (issue 10, item 22), checked on the websocket in Chromium.

A property of the protocol, not a speed: an answer streamed in 60 chunks of 6 characters must
reach the page whole and in order, in the playground and in the builder's test panel, for at
most twice its own bytes plus a fixed overhead (the send, the running flags, the trace row, the
totals). Before, every frame carried the whole answer so far: ~21 KB for 360 characters. And a
page load carries only its own page's state, not the conversation and graph of pages the tab
visited before.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import add_scripted_provider, sign_up
from tests.e2e.wire import WATCH_TEXT_JS, FrameLog, seen_texts, total
from tests.fakes.openai_server import ScriptedLLM, Turn

pytestmark = pytest.mark.browser

WORDS = "each piece of the answer travels once and lands after the piece before it".split()
ANSWER = " ".join(f"{WORDS[i % len(WORDS)]}{i}" for i in range(80))[:360]
# Bytes a streamed turn may cost beyond twice the answer, whatever the answer's length: the
# send's own update (running, the conversation list of a new conversation), the trace row of
# the model step (which quotes up to 600 characters of the answer), totals, closing flags.
FIXED_OVERHEAD = 3_000


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


def _stream_in_order(page, element_id: str) -> None:
    """Every text the streaming element showed was a beginning of the answer, each longer."""
    seen = [text for text in seen_texts(page, element_id) if text]
    assert len(seen) >= 2, f"the answer did not stream (shown {len(seen)} times)"
    for earlier, later in zip(seen, seen[1:], strict=False):
        assert len(later) > len(earlier), (earlier, later)
    for text in seen:
        assert ANSWER.startswith(text), text


def test_streamed_answers_arrive_whole_in_order_and_once(
    app_server: RunningApp, browser, llm, artifacts
) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log = FrameLog.attach(page)
    answer_bytes = len(ANSWER.encode())

    sign_up(page, app_server.url, name="Wren", email="wren@example.com")
    add_scripted_provider(page, llm.base_url, key="sk-scripted-0022", models="gpt-a")
    page.click("#nav-agents")
    page.click("#new-agent", timeout=20_000)
    page.fill("#name", "Streamer")
    page.fill("#model", "local/gpt-a")
    page.click("#create-agent-submit")
    expect(page.locator("#agent-name")).to_have_text("Streamer", timeout=20_000)
    agent_id = page.url.split("id=")[1]

    # 1. The playground: the answer streams into the chat, once.
    page.goto(f"{app_server.url}/playground?agent={agent_id}")
    expect(page.locator("#chat-send")).to_be_visible(timeout=30_000)
    page.evaluate(WATCH_TEXT_JS, "streaming-text")
    llm.reset()
    llm.script(Turn(text=ANSWER, chunk_size=6, chunk_delay=0.05))
    mark = log.mark()
    page.fill("#chat-input", "Tell me about streaming.")
    page.click("#chat-send")
    answer = page.locator(".msg-assistant").last
    expect(answer).to_have_text(ANSWER, timeout=30_000)
    expect(page.locator("#chat-send")).to_be_visible(timeout=30_000)
    expect(page.locator("#trace-totals")).to_contain_text("tokens")
    assert answer.text_content() == ANSWER
    _stream_in_order(page, "streaming-text")
    received = total(log.received_since(mark))
    assert received <= 2 * answer_bytes + FIXED_OVERHEAD, (
        f"the playground received {received} B for a {answer_bytes} B answer"
    )
    page.screenshot(path=str(artifacts / "60-playground-streamed.png"), full_page=True)

    # 2. The builder's test panel: the same answer, the same way.
    page.goto(f"{app_server.url}/builder?id={agent_id}")
    expect(page.locator('.react-flow__node[data-id="model"]')).to_be_visible(timeout=30_000)
    page.evaluate(WATCH_TEXT_JS, "test-output")
    llm.script(Turn(text=ANSWER, chunk_size=6, chunk_delay=0.05))
    mark = log.mark()
    page.fill("#test-message", "Tell me about streaming.")
    page.click("#test-run")
    expect(page.locator("#test-output")).to_have_text(ANSWER, timeout=30_000)
    expect(page.locator("#test-run")).to_be_enabled(timeout=30_000)
    assert page.locator("#test-output").text_content() == ANSWER
    _stream_in_order(page, "test-output")
    received = total(log.received_since(mark))
    assert received <= 2 * answer_bytes + FIXED_OVERHEAD, (
        f"the test panel received {received} B for a {answer_bytes} B answer"
    )

    # 3. A page load after both carries its own page's state only: neither the conversation
    #    nor the builder's graph comes along with the agents list.
    mark = log.mark()
    page.goto(f"{app_server.url}/agents")
    expect(page.locator("#agents-table")).to_contain_text("Streamer", timeout=30_000)
    first = log.first_update_since(mark)
    assert first is not None
    assert "playground_state" not in first.text, first.text[:2000]
    assert "builder_state" not in first.text, first.text[:2000]
    assert ANSWER[:40] not in first.text

    assert errors == [], errors
    assert "Traceback" not in app_server.log(), app_server.log()[-4000:]
