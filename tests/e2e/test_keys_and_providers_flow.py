"""Settings pages in a real browser: an API key works against the REST API until it is revoked
there; a model provider is edited (new address, key kept) and deleted."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import add_scripted_provider, sign_up
from tests.fakes.openai_server import ScriptedLLM

pytestmark = pytest.mark.browser


def api_get(url: str, key: str) -> tuple[int, dict]:
    """GET with `Authorization: Bearer <key>`, the way a script uses the key."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"{}")


def test_an_api_key_works_until_it_is_revoked_on_the_page(
    app_server: RunningApp, browser, artifacts
) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(page, app_server.url, name="Ines Keys", email="ines@example.com")
    page.click("#nav-settings")
    page.click("#tab-keys", timeout=20_000)
    expect(page.get_by_text("No API keys")).to_be_visible(timeout=20_000)

    page.click("#key-submit")  # no name: said once, under the field
    expect(page.locator("#key_name-error")).to_be_visible(timeout=20_000)
    expect(page.locator("#key-form-error")).to_have_count(0)
    expect(page.locator("#settings-error")).to_have_count(0)
    page.fill("#key_name", "nightly export")
    page.click("#key-submit")
    expect(page.locator("#new-key")).to_contain_text("ap_", timeout=20_000)
    expect(page.locator("#key_name")).to_have_value("")
    expect(page.locator("#key_name-error")).to_have_count(0)
    secret = page.locator("#new-key").inner_text().strip()
    row = page.locator("#keys-table tbody tr", has_text="nightly export")
    last_used = row.locator(".key-last-used")
    expect(last_used).to_have_text("never")  # not used yet
    assert secret not in page.locator("#keys-table").inner_text()  # the table shows a prefix

    status, org = api_get(app_server.url + "/api/v1/org", secret)
    assert status == 200, org
    assert org["name"] and org["role"]

    # Coming back to the page reads the list again: the use is recorded.
    page.click("#new-key-dismiss")
    expect(page.locator("#new-key")).to_have_count(0)
    page.click("#nav-agents")
    expect(page.locator("#page-title")).to_have_text("Agents", timeout=20_000)
    page.click("#nav-settings")
    page.click("#tab-keys", timeout=20_000)
    expect(last_used).not_to_have_text("never", timeout=20_000)
    page.screenshot(path=str(artifacts / "keys-01-used.png"), full_page=True)

    row.get_by_role("button", name="Revoke").click()
    page.click("#key-revoke-confirm")  # revoking asks first
    expect(page.locator("#keys-table tbody tr", has_text="nightly export")).to_have_count(
        0, timeout=20_000
    )
    page.screenshot(path=str(artifacts / "keys-02-revoked.png"), full_page=True)
    status, body = api_get(app_server.url + "/api/v1/org", secret)
    assert status == 401, body
    assert errors == [], errors
    ctx.close()


@pytest.fixture(scope="module")
def first_llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


@pytest.fixture(scope="module")
def moved_llm() -> Iterator[ScriptedLLM]:
    """Where the provider moves to when it is edited."""
    with ScriptedLLM() as server:
        yield server


def test_a_provider_is_edited_keeping_its_key_and_then_deleted(
    app_server: RunningApp, browser, first_llm: ScriptedLLM, moved_llm: ScriptedLLM, artifacts
) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(page, app_server.url, name="Pia Providers", email="pia@example.com")
    add_scripted_provider(page, first_llm.base_url, key="sk-first-key-0042", name="house")
    row = page.locator("#provider-row-house")
    expect(row).to_contain_text(first_llm.base_url)
    expect(row).to_contain_text("gpt-a")

    # Edit: another address and another model list, the key field left empty.
    page.click("#provider-edit-house")
    expect(page.locator("#provider_api_base")).to_have_value(first_llm.base_url, timeout=20_000)
    expect(page.locator("#provider_api_key")).to_have_value("")
    page.fill("#provider_api_base", moved_llm.base_url)
    page.fill("#provider_models", "gpt-b, gpt-c")
    page.click("#provider-save")
    expect(row).to_contain_text(moved_llm.base_url, timeout=20_000)
    expect(row).to_contain_text("gpt-b, gpt-c")
    expect(row).not_to_contain_text(first_llm.base_url)
    expect(page.locator("[id^=provider-row-]")).to_have_count(1)  # edited, not added

    # The stored key went with it: the test call reaches the new address with the old key.
    first_llm.reset()
    moved_llm.reset()
    page.click("#provider-test-house")
    expect(page.locator("#provider-status-house")).to_contain_text("OK", timeout=30_000)
    assert first_llm.requests == []
    sent = moved_llm.requests[-1]
    assert sent.model == "gpt-b"  # the first model of the edited list
    headers = {name.lower(): value for name, value in sent.headers.items()}
    assert headers["authorization"] == "Bearer sk-first-key-0042"
    page.screenshot(path=str(artifacts / "providers-01-edited.png"), full_page=True)

    page.click("#provider-delete-house")
    expect(page.get_by_role("alertdialog")).to_contain_text("house")
    page.click("#provider-delete-confirm")
    expect(page.locator("[id^=provider-row-]")).to_have_count(0, timeout=20_000)
    page.screenshot(path=str(artifacts / "providers-02-deleted.png"), full_page=True)

    # Gone for good: a reload does not bring it back.
    page.reload()
    page.wait_for_selector("#provider-add", timeout=20_000)
    expect(page.locator("[id^=provider-row-]")).to_have_count(0)
    assert errors == [], errors
    ctx.close()
