"""A person plays the customer on the sandbox page in a real Chromium: a photo from a file and
a location, on a small phone, both colour schemes."""

import io

import pytest
import segno
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, simulator_context

pytestmark = pytest.mark.browser


def photo() -> bytes:
    buffer = io.BytesIO()
    segno.make("sandbox photo").save(buffer, kind="png", scale=8)
    return buffer.getvalue()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_customer_sends_a_photo_and_a_location(conversa_server, browser, scheme):
    context = simulator_context(
        browser, conversa_server, viewport={"width": 375, "height": 800}, color_scheme=scheme
    )
    page = context.new_page()
    phone = "5511955557811" if scheme == "light" else "5511955557812"
    page.goto(f"{conversa_server['url']}/sandbox/?phone={phone}&name=Fotografa")

    page.get_by_text("Send a file").click()
    page.get_by_label("File", exact=True).set_input_files(
        {"name": "defeito.png", "mimeType": "image/png", "buffer": photo()}
    )
    page.get_by_label("Send it as").select_option("image")
    page.get_by_label("Caption").fill("O defeito na caixa")
    page.get_by_role("button", name="Send file", exact=True).click()

    picture = page.locator("#chat img.sandbox-image")
    expect(picture).to_be_visible()
    assert picture.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.locator("#chat")).to_contain_text("O defeito na caixa")

    page.get_by_text("Share a location").click()
    page.get_by_label("Latitude").fill("-23.5614")
    page.get_by_label("Longitude").fill("-46.6559")
    page.get_by_label("Place name").fill("MASP")
    page.get_by_role("button", name="Share location", exact=True).click()

    place = page.locator("#chat .sandbox-place")
    expect(place).to_contain_text("MASP")
    assert "openstreetmap.org" in place.get_attribute("href")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0

    # The customer deletes the photo for everyone from its message's actions.
    sent_photo = page.locator("#chat .message", has=page.locator("img.sandbox-image"))
    sent_photo.get_by_label("Message actions").click()
    sent_photo.get_by_role("button", name="Delete for everyone").click()
    expect(page.locator("#chat")).to_contain_text("This message was deleted")
    expect(page.locator("#chat img.sandbox-image")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / f"sandbox-customer-375-{scheme}.png"), full_page=True)
