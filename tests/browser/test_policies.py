"""The kill switch from the organization's settings page: asked to confirm, then a banner on
every member's pages (live, on a page already open, and in the conversation), and off again.
Screenshots of the policies' pages, light and dark, at 1440 and 375 px."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_inbox import no_horizontal_overflow, open_conversation, operator

pytestmark = pytest.mark.browser


def test_the_kill_switch_is_confirmed_shown_to_everyone_live_and_turned_off(
    conversa_server, browser
):
    ana = operator(browser, conversa_server, "ana@demo.local")
    open_conversation(ana, "João Pereira", "Queue")
    expect(ana.locator("#org-banner")).to_have_text("")
    admin = operator(browser, conversa_server, "admin@demo.local", path="/settings/organization/")
    admin.get_by_role("button", name="Pause all sending").click()
    expect(admin.get_by_role("heading", name="Pause all sending?")).to_be_visible()
    admin.screenshot(path=str(ARTIFACTS / "kill-switch-confirm-1440-light.png"), full_page=True)
    admin.get_by_role("button", name="Yes, pause all sending").click()
    banner = ".org-banner"
    expect(admin.locator(banner)).to_contain_text("Sending is paused for the whole organization")
    expect(admin.locator("#kill-switch")).to_contain_text("Paused")
    # Ana's page was not reloaded: the banner arrives, and the conversation says why.
    expect(ana.locator(banner)).to_contain_text("Sending is paused")
    expect(ana.locator(".hold-banner")).to_contain_text("Sending is paused for the organization")
    ana.screenshot(path=str(ARTIFACTS / "hold-banner-1440-light.png"))

    admin.get_by_role("button", name="Resume sending").first.click()
    admin.get_by_role("button", name="Yes, resume sending").click()
    expect(admin.locator(banner)).to_have_count(0)
    expect(ana.locator(banner)).to_have_count(0)
    expect(ana.locator(".hold-banner")).to_have_count(0)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1440, 375])
def test_the_policies_pages_fit_light_and_dark(conversa_server, browser, scheme, width):
    page = operator(
        browser,
        conversa_server,
        "admin@demo.local",
        width=width,
        scheme=scheme,
        path="/settings/organization/",
    )
    page.get_by_label("Only in these periods").check()
    expect(page.locator(".dayparts")).to_be_visible()
    no_horizontal_overflow(page)
    page.screenshot(
        path=str(ARTIFACTS / f"settings-organization-{width}-{scheme}.png"), full_page=True
    )
    page.goto(f"{conversa_server['url']}/numbers/")
    page.locator(".number-card").first.get_by_role("link", name="Settings").click()
    expect(page.get_by_label("Messages per hour")).to_be_visible()
    no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / f"number-settings-{width}-{scheme}.png"), full_page=True)
