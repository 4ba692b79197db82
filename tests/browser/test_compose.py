"""The composer's files in a real Chromium: attached with the button, dropped on the composer or
pasted into the reply box, listed with a way to remove each, sent with a caption and seen in
the thread; a file WhatsApp does not take is an error on the page; an audio file offers the
voice note; the reaction picker on a customer's message. On a phone's width too."""

import pytest
from playwright.sync_api import expect

from tests import media_samples as samples
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_inbox import open_conversation, operator

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(conversa_server):
    return conversa_server


def a_file(name: str, data: bytes, mime_type: str) -> dict:
    return {"name": name, "mimeType": mime_type, "buffer": data}


HAND_OVER = """([name, type, bytes, event]) => {
  const data = new DataTransfer();
  data.items.add(new File([new Uint8Array(bytes)], name, {type}));
  if (event === "paste") {
    document.getElementById("reply-body").dispatchEvent(
      new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
  } else {
    const form = document.querySelector("#composer form.composer");
    for (const kind of ["dragover", "drop"]) {
      form.dispatchEvent(new DragEvent(kind, {dataTransfer: data, bubbles: true, cancelable: true}));
    }
  }
}"""


def test_a_photo_attached_in_the_composer_is_seen_in_the_thread(server, browser):
    page = operator(browser, server, "admin@demo.local")
    open_conversation(page, "João Pereira")
    page.locator("#composer-attach").set_input_files([a_file("foto.png", samples.PNG, "image/png")])
    files = page.locator("#composer-files")
    expect(files).to_contain_text("foto.png")
    expect(page.locator(".voice-option")).to_be_hidden()
    page.locator("#reply-body").fill("Segue a foto do produto")
    page.get_by_role("button", name="Send", exact=True).click()
    sent = page.locator(".message.out", has_text="Segue a foto do produto")
    expect(sent).to_be_visible()
    # The photo itself, served to the organization's members only.
    expect(sent.locator(".attachment img").first).to_be_visible()
    # The composer comes back empty.
    expect(page.locator("#composer-files")).to_be_hidden()
    expect(page.locator("#reply-body")).to_have_value("")


def test_dropped_and_pasted_files_are_listed_and_can_be_removed(server, browser):
    page = operator(browser, server, "admin@demo.local")
    open_conversation(page, "João Pereira")
    page.evaluate(HAND_OVER, ["nota.pdf", "application/pdf", list(samples.PDF), "drop"])
    page.evaluate(HAND_OVER, ["recado.ogg", "audio/ogg", list(samples.OGG), "paste"])
    files = page.locator("#composer-files .composer-file")
    expect(files).to_have_count(2)
    expect(files.nth(0)).to_contain_text("nota.pdf")
    expect(files.nth(1)).to_contain_text("recado.ogg")
    expect(page.locator(".voice-option")).to_be_visible()  # an audio file is among them
    page.locator("#composer").screenshot(path=str(ARTIFACTS / "compose-files.png"))
    page.get_by_role("button", name="Remove recado.ogg").click()
    expect(files).to_have_count(1)
    expect(page.locator(".voice-option")).to_be_hidden()
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".message.out", has_text="nota.pdf")).to_be_visible()
    expect(page.locator(".message.out", has_text="recado.ogg")).to_have_count(0)


def test_a_file_whatsapp_does_not_take_is_an_error_beside_the_composer(server, browser):
    page = operator(browser, server, "admin@demo.local", width=375, height=740)
    open_conversation(page, "Carla Mendes")
    page.locator("#composer-attach").set_input_files(
        [a_file("programa.png", samples.EXE, "image/png")]
    )
    page.locator("#reply-body").fill("Instale isto")
    page.get_by_role("button", name="Send", exact=True).click()
    error = page.locator("#reply-error")
    expect(error).to_contain_text("cannot be sent on WhatsApp")
    expect(page.locator("#reply-body")).to_have_value("Instale isto")
    expect(page.locator(".message.out", has_text="Instale isto")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "compose-error-375.png"))


def test_the_reaction_picker_on_a_customers_message(server, browser):
    page = operator(browser, server, "admin@demo.local")
    open_conversation(page, "Carla Mendes")
    inbound = page.locator(".message.in").last
    inbound.locator(".react-menu summary[aria-label=React]").click()
    choices = inbound.locator(".react-choices")
    expect(choices).to_be_visible()
    with page.expect_response(lambda r: r.url.endswith("/react")) as answer:
        choices.get_by_role("button", name="👍").click()
    assert answer.value.status == 200
