"""Segments in a real Chromium: a supervisor filters the Contacts page, saves the filters as a
segment, watches the live count follow the search as they narrow it, saves it and finds it in
the list with its count; then the list and the form on a phone, dark."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_skeleton import sign_in

pytestmark = pytest.mark.browser


def test_save_the_contacts_filters_as_a_segment_with_a_live_count(conversa_server, browser):
    server = conversa_server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.emulate_media(color_scheme="light")
    sign_in(page, server)
    page.goto(f"{server['url']}/contacts/")
    expect(page.get_by_role("link", name="Segments")).to_be_visible()

    page.get_by_label("Marketing consent").select_option("no")
    save = page.get_by_role("link", name="Save as segment…")
    # The link is redrawn with the rows: it carries the filters they were drawn with.
    expect(save).to_have_attribute("href", re.compile(r"consent=no"))
    listed = page.locator(".contact-count").inner_text().split()[0]
    page.screenshot(path=str(ARTIFACTS / "segment-from-contacts-1440-light.png"))
    save.click()
    expect(page).to_have_url(re.compile(r"/contacts/segments/new\?consent=no"))
    expect(page.get_by_label("Marketing consent")).to_have_value("no")
    count = page.locator("#segment-count")
    # The form counts what the list counted, then follows each change.
    expect(count).to_have_text(re.compile(rf"{listed}\s+contacts match now"))
    page.get_by_label("Search").fill("Mariana")
    expect(count).to_have_text(re.compile(r"1\s+contact matches now"))
    page.get_by_label("Search").fill("Ninguém tem este nome")
    expect(count).to_have_text(re.compile(r"0\s+contacts match now"))
    page.get_by_label("Search").fill("Mariana")
    expect(count).to_have_text(re.compile(r"1\s+contact matches now"))
    page.get_by_label("Name", exact=True).fill("Mariana sem consentimento")
    page.screenshot(path=str(ARTIFACTS / "segment-form-1440-light.png"), full_page=True)

    page.get_by_role("button", name="Save segment").click()
    expect(page).to_have_url(re.compile(r"/contacts/segments/$"))
    expect(page.locator(".segment-notice")).to_have_text("Segment saved.")
    row = page.locator("tr", has=page.get_by_role("link", name="Mariana sem consentimento"))
    expect(row.locator(".segment-count-cell")).to_have_text("1")
    expect(row).to_contain_text("Search: “Mariana”")
    expect(row).to_contain_text("No marketing consent")
    page.screenshot(path=str(ARTIFACTS / "segment-list-1440-light.png"), full_page=True)
    segment_url = row.get_by_role("link").get_attribute("href")
    page.context.close()

    phone = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
    phone.emulate_media(color_scheme="dark")
    sign_in(phone, server)
    phone.goto(f"{server['url']}/contacts/segments/")
    expect(phone.get_by_role("link", name="Mariana sem consentimento")).to_be_visible()
    for name in ("list", "form"):
        if name == "form":
            phone.goto(f"{server['url']}{segment_url}")
            expect(phone.locator("#segment-count")).to_contain_text("1")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the segment {name} is {width}px wide on a 375px phone"
        phone.screenshot(path=str(ARTIFACTS / f"segment-{name}-375-dark.png"), full_page=True)
    phone.context.close()
