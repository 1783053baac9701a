"""Steps several browser journeys share: signing up, adding the scripted model provider."""

from __future__ import annotations

from typing import Any

PASSWORD = "correct horse battery"


def sign_up(page: Any, app_url: str, *, name: str, email: str) -> None:
    from playwright.sync_api import expect

    page.goto(app_url + "/register")
    page.wait_for_selector("#register-submit")
    page.fill("#name", name)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("#register-submit")
    expect(page.locator("#current-user-name")).to_have_text(name, timeout=20_000)


def add_scripted_provider(
    page: Any, base_url: str, *, key: str, models: str = "gpt-a", name: str = "local"
) -> None:
    """Settings → Model providers → an OpenAI-compatible provider at the scripted server."""
    from playwright.sync_api import expect

    page.click("#nav-settings")
    page.click("#to-providers")
    page.click("#provider-add", timeout=20_000)
    page.click("#provider_kind")
    page.get_by_role("option", name="OpenAI-compatible server").click()
    page.fill("#provider_name", name)
    page.fill("#provider_api_base", base_url)
    page.fill("#provider_api_key", key)
    page.fill("#provider_models", models)
    page.click("#provider-save")
    expect(page.locator("#providers-table")).to_contain_text(name, timeout=20_000)
