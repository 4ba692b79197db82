"""Outbound webhooks end to end in a browser: an endpoint pointed at the simulator's request
bin (its secret shown once), a customer's message, and the bin showing the delivery with its
signature verified. Screenshots at 375 px, dark."""

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import simulator_page
from tests.browser.test_inbox import customer_writes, no_horizontal_overflow, operator

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "var" / "shots"


def test_an_endpoint_at_the_request_bin_receives_a_verified_message(conversa_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    server = conversa_server
    bin_page = simulator_page(
        browser, server, viewport={"width": 375, "height": 800}, color_scheme="dark"
    )
    bin_page.goto(f"{server['url']}/sandbox/hooks/")
    address = bin_page.locator("#bin-address").input_value()

    page = operator(
        browser, server, "admin@demo.local", width=375, scheme="dark", path="/settings/webhooks/"
    )
    page.get_by_label("URL").fill(address)
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("#webhook-secret").input_value()
    assert secret.startswith("whsec_")
    no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "webhooks-375-dark.png"), full_page=True)

    bin_page.get_by_label("Signing secret").fill(secret)
    bin_page.get_by_role("button", name="Save").click()
    customer_writes(browser, server, "5511955557791", "Bia", "Quero rastrear o pedido 77")

    # The bin's page does not update itself: look again until the worker has delivered.
    delivery = bin_page.locator(".webhook-delivery", has_text="pedido 77")
    deadline = time.monotonic() + 60
    while not delivery.count() and time.monotonic() < deadline:
        bin_page.wait_for_timeout(500)
        bin_page.reload()
    expect(delivery).to_contain_text("Signature verified")
    expect(delivery).to_contain_text("message.received")
    no_horizontal_overflow(bin_page)
    bin_page.screenshot(path=str(SHOTS / "webhooks-bin-375-dark.png"), full_page=True)

    page.get_by_role("link", name=address).click()
    expect(page.locator(".webhook-delivery").first).to_contain_text("Delivered")
    no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "webhook-log-375-dark.png"), full_page=True)
