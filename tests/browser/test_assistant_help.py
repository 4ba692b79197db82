"""The assistant's help in a real Chromium, with the simulator playing the model: an agent
rewrites the draft (and undoes it), rates the rewrite, summarizes the conversation into a note
the assistant wrote and rates that; the owner reads it on the activity page. At a phone's width
in the dark too (screenshots under var/test-artifacts)."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_inbox import open_conversation, operator

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(conversa_server):
    return conversa_server


def test_rewrite_summarize_and_rate_in_a_conversation(server, browser):
    page = operator(browser, server, "admin@demo.local")
    open_conversation(page, "João Pereira")
    draft = page.locator("#reply-body")
    bar = page.locator("#assist")

    # Rewrite with nothing written: said, nothing asked.
    bar.get_by_text("Rewrite", exact=True).click()
    bar.get_by_role("button", name="Fix spelling").click()
    expect(bar.locator(".assist-status")).to_have_text("Write a draft first.")

    draft.fill("you will recieve it tommorow")
    bar.get_by_text("Rewrite", exact=True).click()
    bar.get_by_role("button", name="Fix spelling").click()
    expect(draft).to_have_value("You will receive it tomorrow.")
    expect(bar.locator(".assist-status")).to_have_text("Draft replaced. Undo puts yours back.")
    bar.get_by_role("button", name="Undo").click()
    expect(draft).to_have_value("you will recieve it tommorow")

    bar.get_by_text("Rewrite", exact=True).click()
    bar.get_by_role("button", name="Friendlier").click()
    expect(draft).to_have_value("Hi! You will recieve it tommorow. Thank you so much!")
    good = bar.locator(".assist-rating").get_by_role("button", name="Good")
    good.click()
    expect(bar.locator(".ai-rating")).to_have_attribute("data-rating", "good")

    bar.get_by_role("button", name="Summarize").click()
    note = page.locator(".note.ai-note").last
    expect(note).to_contain_text("Summary by the assistant")
    expect(note).to_contain_text("The customer last said:")
    # The thread is redrawn once more when the note's realtime event arrives: a click on the
    # note being replaced is lost, and a person (like this) clicks again.
    for _ in range(2):
        note.get_by_role("button", name="Bad").click()
        try:
            expect(note.locator(".ai-rating")).to_have_attribute(
                "data-rating", "bad", timeout=3_000
            )
            break
        except AssertionError:
            continue
    expect(note.locator(".ai-rating")).to_have_attribute("data-rating", "bad")

    page.locator("#ai-insight").get_by_role("button", name="Classify").click()
    expect(page.locator("#ai-insight .ai-topic")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "assistant-conversation.png"))

    page.goto(f"{server['url']}/settings/assistant/activity")
    expect(page.locator(".ai-output").first).to_be_visible()
    expect(page.locator('.ai-output[data-kind="summary"] .ai-rating').first).to_have_attribute(
        "data-rating", "bad"
    )
    expect(page.locator('#ai-accuracy tr[data-kind="rewrite"] td[data-days="7"]')).to_contain_text(
        "100%"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "assistant-activity.png"), full_page=True)
    page.context.close()


def test_the_helpers_on_a_phone_in_the_dark_in_portuguese(server, browser):
    page = operator(browser, server, "admin@demo.local", width=375, height=740, scheme="dark")
    open_conversation(page, "João Pereira")
    # The same conversation's address, read in Portuguese.
    page.context.add_cookies([{"name": "django_language", "value": "pt-br", "url": server["url"]}])
    page.reload()
    expect(page.locator(".thread-title h2")).to_have_text("João Pereira")
    bar = page.locator("#assist")
    page.locator("#reply-body").fill("chega amanha, voce vai gostar")
    bar.get_by_text("Traduzir", exact=True).click()
    bar.get_by_role("button", name="Espanhol").click()
    expect(page.locator("#reply-body")).to_have_value("[es] chega amanha, voce vai gostar")
    expect(bar.get_by_role("button", name="Desfazer")).to_be_visible()
    bar.get_by_text("Reescrever", exact=True).click()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide at 375"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "assistant-composer-phone-dark.png"))
    page.goto(f"{server['url']}/settings/assistant/activity")
    expect(page.get_by_role("heading", name="Atividade do assistente")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "assistant-activity-phone-dark.png"), full_page=True)
    page.context.close()
