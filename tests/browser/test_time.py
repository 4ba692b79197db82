"""Times in a real Chromium reading Portuguese: the 24-hour window's countdown keeps the phrase
the server wrote once the page's script takes it over, and messages show a 24-hour clock."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, simulator_page

pytestmark = pytest.mark.browser


def test_window_countdown_and_times_in_portuguese(conversa_server, browser):
    server = conversa_server
    customer = simulator_page(browser, server, locale="en-US")
    customer.goto(f"{server['url']}/sandbox/?phone=5511955557990&name=Relógio")
    customer.get_by_placeholder("Write as the customer…").fill("Que horas são?")
    customer.get_by_role("button", name="Send").click()

    page = browser.new_context(viewport={"width": 1440, "height": 900}, locale="pt-BR").new_page()
    page.goto(f"{server['url']}/login/")
    page.locator("input[name=username]").fill(server["email"])
    page.locator("input[name=password]").fill(server["password"])
    page.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/inbox/"))
    page.goto(f"{server['url']}/inbox/?tab=all")
    link = page.locator(".conversation", has_text="Relógio")
    expect(link).to_be_visible()
    # A full load, so the script's first tick (on DOMContentLoaded) has rewritten the text.
    page.goto(server["url"] + link.get_attribute("href"))

    expect(page.locator("#composer-window .window-left")).to_have_text(
        re.compile(r"^restam 23 h \d{1,2} min$")
    )
    expect(page.locator(".message time").last).to_have_text(re.compile(r"^\d{2}:\d{2}$"))
    page.screenshot(path=str(ARTIFACTS / "inbox-pt-br-times.png"))
