"""The "Add number" wizard never fails without a word, and a card's "Reconnect" pairs the number
again (issue 17, point 1); the card says how sending goes in plain words (point 9)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, simulator_page
from tests.browser.test_skeleton import sign_in

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS.parent / "shots"


def test_a_switched_provider_a_bad_url_and_reconnect(conversa_server, browser):
    server = conversa_server
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, server)

    # A bad address says one thing, visibly, beside its field, and the form says why it stayed.
    page.goto(f"{server['url']}/numbers/add")
    page.get_by_label("Name").fill("Loja Norte")
    page.get_by_role("radio", name=re.compile("^Evolution API")).check()
    page.get_by_label("Evolution server URL").fill("evolution dot com")
    page.get_by_label("Evolution API key").fill("a-key")
    page.get_by_role("button", name="Check and continue").click()
    expect(page.get_by_role("alert")).to_contain_text("The number was not added")
    errors = page.locator(".field-error:visible")
    expect(errors).to_have_count(1)
    expect(errors).to_have_text(
        "Type the server's full address, like https://evolution.example.com."
    )
    expect(page.get_by_label("Evolution server URL")).to_be_focused()
    page.screenshot(path=str(SHOTS / "add-number-bad-url-1440.png"), full_page=True)

    # Something typed into Evolution's fields, then Sandbox chosen: a working sandbox number.
    page.get_by_role("radio", name=re.compile("^Sandbox")).check()
    expect(page.get_by_label("Evolution server URL")).to_be_hidden()
    expect(page.locator("input[name=base_url]")).to_be_disabled()
    page.get_by_role("button", name="Check and continue").click()
    expect(page).to_have_url(re.compile(r"/numbers/\d+/pairing$"))
    expect(page.locator("img.qr")).to_be_visible()
    simulator_url = page.get_by_role("link", name="Open the simulator to scan it").get_attribute(
        "href"
    )
    simulator = simulator_page(browser, server, viewport={"width": 420, "height": 800})
    simulator.goto(f"{server['url']}{simulator_url}")
    simulator.get_by_role("button", name="Scan the QR code").click()
    expect(page.locator("#pairing")).to_have_attribute("data-status", "connected")

    # The card: sending in words, then logged out and paired again from "Reconnect".
    page.goto(f"{server['url']}/numbers/")
    card = page.locator(".number-card", has_text="Loja Norte")
    expect(card).to_contain_text("Sending normally")
    expect(page.locator("#numbers")).not_to_contain_text("Circuit breaker")
    page.screenshot(path=str(SHOTS / "numbers-cards-1440.png"), full_page=True)
    card.get_by_role("button", name="Log out").click()
    reconnect = card.get_by_role("link", name="Reconnect")
    expect(reconnect).to_be_visible()
    reconnect.click()
    expect(page).to_have_url(re.compile(r"/numbers/\d+/pairing$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Reconnect Loja Norte")
    expect(page.locator(".steps")).to_have_count(0)
    expect(page.locator("img.qr")).to_be_visible()
    page.screenshot(path=str(SHOTS / "number-reconnect-1440.png"), full_page=True)
    simulator.goto(f"{server['url']}{simulator_url}")
    simulator.get_by_role("button", name="Scan the QR code").click()
    expect(page.locator("#pairing")).to_have_attribute("data-status", "connected")
