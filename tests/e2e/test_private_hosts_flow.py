"""In a real browser: an org admin opens a private host for the org's own model server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import add_scripted_provider, sign_up
from tests.fakes.openai_server import ScriptedLLM

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    """On 127.0.0.2: the instance allow-list of the browser tests opens only 127.0.0.1."""
    with ScriptedLLM(host="127.0.0.2") as server:
        yield server


def test_admin_opens_a_private_host_and_the_provider_then_connects(
    app_server: RunningApp, browser, llm, artifacts
) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(page, app_server.url, name="Dana", email="dana-private@example.com")

    # Refused first, with a pointer to the section that opens it.
    page.click("#nav-settings")
    page.click("#to-providers")
    page.click("#provider-add", timeout=20_000)
    page.click("#provider_kind")
    page.get_by_role("option", name="OpenAI-compatible server").click()
    page.fill("#provider_name", "local")
    page.fill("#provider_api_base", llm.base_url)
    page.fill("#provider_models", "gpt-a")
    page.click("#provider-save")
    expect(page.locator("#provider_api_base-error")).to_contain_text(
        "Private hosts this organization may reach", timeout=20_000
    )
    page.click("#provider-cancel")
    # The dialog gone and the page settled, or its refresh can empty the field typed next.
    expect(page.locator("#provider_name")).to_have_count(0, timeout=20_000)

    # A bad entry is explained under the field; a good one is saved.
    page.fill("#private_hosts", "127.0.0.2\nhttp://ollama:11434")
    expect(page.locator("#private_hosts")).to_have_value("127.0.0.2\nhttp://ollama:11434")
    page.click("#private-hosts-save")
    expect(page.locator("#private-hosts-error")).to_contain_text(
        "is not a host name", timeout=20_000
    )
    page.fill("#private_hosts", "127.0.0.2")
    page.click("#private-hosts-save")
    expect(page.locator("#private-hosts-error")).to_have_count(0, timeout=20_000)
    page.screenshot(path=str(artifacts / "private-hosts.png"), full_page=True)

    add_scripted_provider(page, llm.base_url, key="sk-private-0001")
    page.click("#provider-test-local")
    expect(page.locator("#provider-status-local")).to_contain_text("OK", timeout=30_000)
    assert errors == []
    ctx.close()
