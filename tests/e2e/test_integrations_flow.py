"""Connecting GitHub through the real OAuth redirect flow in a browser: our page → the
provider's consent page → Allow → our callback → the connection listed and tested; then one
of its actions granted to an agent, approved by a person in the playground, and removed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import add_scripted_provider, sign_up
from tests.fakes.openai_server import ScriptedLLM, Turn

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


def test_connect_github_grant_an_action_approve_it_and_remove(
    app_server: RunningApp, browser, fake_github, llm, artifacts
) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    sign_up(page, app_server.url, name="Olga", email="olga@example.com")
    # Olga works alone: her own runs' actions need her own yes, so she allows self-approval
    # (off by default: "ask a person first" means another person).
    page.click("#nav-settings")
    switch = page.locator("#self-approval-switch")
    expect(switch).to_have_attribute("data-state", "unchecked", timeout=20_000)
    switch.click()
    expect(switch).to_have_attribute("data-state", "checked", timeout=20_000)

    page.click("#nav-integrations")
    expect(page.get_by_text("No connections yet")).to_be_visible(timeout=20_000)
    page.screenshot(path=str(artifacts / "30-integrations-empty.png"), full_page=True)
    token = "gho_e2e" + "x" * 30  # the next token the fake issues, so we can look for it
    fake_github.set_token(token)
    page.click("#connect-github")

    # the provider's own consent page, on its own origin
    expect(page).to_have_title("GitHub — authorize", timeout=20_000)
    assert page.url.startswith(fake_github.base_url + "/login/oauth/authorize?"), page.url
    assert "code_challenge_method=S256" in page.url and "state=" in page.url
    page.screenshot(path=str(artifacts / "31-oauth-consent.png"), full_page=True)
    page.get_by_role("button", name="Allow").click()

    # back on our page, connected, with the account the check found
    row = page.locator("#conn-row-GitHub")
    expect(row).to_be_visible(timeout=30_000)
    assert page.url.startswith(app_server.url + "/integrations")
    expect(page.locator("#conn-status-GitHub")).to_contain_text("Active")
    expect(row).to_contain_text("octo-fake")
    expect(row).to_contain_text("repo")
    assert fake_github.is_valid(token)
    expect(page.locator("body")).not_to_contain_text(token)
    page.screenshot(path=str(artifacts / "32-integrations-connected.png"), full_page=True)

    page.click("#conn-test-GitHub")
    expect(page.get_by_text("Connection works")).to_be_visible(timeout=20_000)

    # Grant one side-effecting action to an agent, with approval, and run it in the playground.
    llm.script(
        Turn(
            tool_calls=[
                {
                    "name": "github_create_issue",
                    "arguments": {"owner": "octo-fake", "repo": "hello-world", "title": "From e2e"},
                }
            ]
        ),
        Turn(text="Issue filed."),
    )
    add_scripted_provider(page, llm.base_url, key="sk-scripted-0002", models="gpt-a")
    page.click("#nav-agents")
    page.click("#new-agent", timeout=20_000)
    page.fill("#name", "Triage")
    page.fill("#model", "local/gpt-a")
    page.click("#create-agent-submit")
    expect(page.locator("#agent-name")).to_have_text("Triage", timeout=20_000)
    page.locator('[id="grant-GitHub-github.create_issue"]').click()
    expect(page.locator('[id="approval-GitHub-github.create_issue"]')).to_be_checked()
    page.click("#save-agent")
    expect(page.locator("text=Saved as version 2")).to_be_visible(timeout=20_000)
    created_before = len(fake_github.created)
    page.click("#open-playground")
    page.fill("#chat-input", "File an issue about the login bug")
    page.click("#chat-send")
    expect(page.locator("#playground-approval")).to_contain_text(
        "github.create_issue", timeout=30_000
    )
    assert len(fake_github.created) == created_before  # nothing done before the yes
    page.screenshot(path=str(artifacts / "33-playground-approval.png"), full_page=True)
    page.click("#playground-approve")
    expect(page.locator("#chat-log")).to_contain_text("Issue filed.", timeout=30_000)
    assert fake_github.created[-1]["title"] == "From e2e"
    expect(page.locator("#trace-panel")).not_to_contain_text(token)

    page.click("#nav-integrations")
    page.click("#conn-remove-GitHub", timeout=20_000)
    page.click("#conn-remove-confirm")
    expect(page.get_by_text("No connections yet")).to_be_visible(timeout=20_000)
    assert not fake_github.is_valid(token)  # revoked at the provider
    assert errors == []
    ctx.close()
