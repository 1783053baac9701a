"""Knowledge in a real browser: upload streams to the server, a worker indexes it while the page
shows progress, search finds it, and a file over the limit is refused without a trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.journeys import sign_up

pytestmark = pytest.mark.browser

LIMIT = 20_000_000  # the app's default MAX_UPLOAD_BYTES


def test_upload_index_search_and_refuse_oversized(
    app_server: RunningApp, browser, artifacts, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    planets = tmp_path / "planets.txt"
    planets.write_text("Jupiter is the largest planet of the solar system. " * 300)
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as out:
        out.write(b"a" * (LIMIT + 1_000_000))

    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(page, app_server.url, name="Kim", email="kim@example.com")
    page.click("#nav-knowledge")
    page.fill("#collection_name", "Astronomy")
    page.click("#collection-create")
    expect(page.locator("#collection-title")).to_have_text("Astronomy", timeout=20_000)

    page.set_input_files("#knowledge-upload input[type=file]", str(planets))
    expect(page.locator("#knowledge-selected-files")).to_contain_text("planets.txt")
    page.click("#knowledge-upload-button")
    # The worker indexes it; the page follows without a reload.
    expect(page.locator("#document-status-0")).to_contain_text("ready", timeout=60_000)
    expect(page.locator("#document-row-0")).to_contain_text("planets.txt")
    page.screenshot(path=str(artifacts / "knowledge-01-ready.png"), full_page=True)

    page.fill("#knowledge-search-input", "largest planet")
    page.click("#knowledge-search-button")
    expect(page.locator("#knowledge-hit-0")).to_contain_text("Jupiter", timeout=20_000)

    page.set_input_files("#knowledge-upload input[type=file]", str(huge))
    page.click("#knowledge-upload-button")
    expect(page.locator("#knowledge-upload-errors")).to_contain_text(
        "huge.txt is larger than the limit of 20,000,000 bytes", timeout=60_000
    )
    page.screenshot(path=str(artifacts / "knowledge-02-refused.png"), full_page=True)
    expect(page.locator("[id^=document-row-]")).to_have_count(1)
    assert errors == []
    ctx.close()
