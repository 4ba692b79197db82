"""The API tokens page in a real browser: create a token (its secret shown once, copied with
the button), use it, revoke it; the page at 375 and 1440 px, light and dark (screenshots in
var/test-artifacts)."""

from datetime import date, timedelta

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_crm import no_horizontal_overflow, signed_in

pytestmark = pytest.mark.browser


def test_create_use_and_revoke_a_token(conversa_server, browser):
    server = conversa_server
    page = signed_in(browser, server)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{server['url']}/settings/tokens/")
    expect(page.get_by_role("heading", name="API tokens", level=1)).to_be_visible()
    page.get_by_label("Name").fill("Reports script")
    page.get_by_label("Read and send").check()
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#token-secret").input_value()
    assert secret.startswith("cv_")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    api = httpx.Client(base_url=server["url"], headers={"Authorization": f"Bearer {secret}"})
    answer = api.get("/api/numbers")
    assert answer.status_code == 200 and "RateLimit-Remaining" in answer.headers
    assert api.post("/api/numbers/1/pause").status_code == 403

    page.goto(f"{server['url']}/settings/tokens/")
    row = page.locator(".token-row", has_text="Reports script")
    expect(row).to_contain_text("Read and send")
    assert secret not in page.content()
    row.get_by_text("Revoke", exact=True).click()
    row.get_by_role("button", name="Revoke token").click()
    expect(page.locator(".token-row", has_text="Reports script")).to_contain_text("Revoked")
    assert api.get("/api/numbers").status_code == 401


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 1440])
def test_the_tokens_page_fits_phones_and_wide_screens(conversa_server, browser, width, scheme):
    server = conversa_server
    page = signed_in(browser, server, width=width, height=900, scheme=scheme)
    page.goto(f"{server['url']}/settings/tokens/")
    page.get_by_label("Name").fill(f"CRM sync {width} {scheme}")
    page.get_by_label("At the end of").check()
    page.get_by_label("Expiry date").fill((date.today() + timedelta(days=200)).isoformat())
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#token-secret")).to_be_visible()
    no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / f"tokens-{width}-{scheme}.png"), full_page=True)
