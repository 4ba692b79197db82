"""A person goes through the walking skeleton in a real Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, CLOCK, simulator_page

pytestmark = pytest.mark.browser


def sign_in(page, server, email=None):
    """Signs in as the demo's admin, or as `email`, one of the demo members."""
    email = email or server["email"]
    page.goto(f"{server['url']}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(server["passwords"][email])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    # The URL changes when the response starts; the page's deferred scripts (which make the
    # language menu submit itself, among others) run only by DOMContentLoaded.
    page.wait_for_load_state("domcontentloaded")


def test_customer_message_arrives_live_and_the_reply_is_delivered(conversa_server, browser):
    server = conversa_server
    agent = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(agent, server)
    expect(agent.locator("body")).to_have_attribute("data-socket", "open")

    customer = simulator_page(browser, server, viewport={"width": 420, "height": 800})
    customer.goto(f"{server['url']}/sandbox/?phone=5511955557700&name=Lucia")
    customer.get_by_placeholder("Write as the customer…").fill("Vocês abrem sábado? <b>urgente</b>")
    customer.get_by_role("button", name="Send").click()

    # Live: the agent's page was not reloaded.
    entry = agent.locator(".conversation", has_text="Lucia")
    expect(entry).to_be_visible()
    expect(entry).to_contain_text("<b>urgente</b>")  # shown as text, never as markup
    entry.click()
    expect(agent.locator(".message.in").last).to_contain_text("Vocês abrem sábado?")
    expect(agent.locator("body")).to_have_attribute("data-socket", "open")

    agent.get_by_placeholder("Type a reply…").fill("Abrimos sim, das 9h às 13h.")
    agent.keyboard.press("Enter")
    reply = agent.locator(".message.out", has_text="Abrimos sim")
    expect(reply).to_have_attribute("data-status", re.compile("delivered|read"))
    expect(agent.get_by_placeholder("Type a reply…")).to_have_value("")

    # The customer sees the reply; opening the chat marks it read on the agent's side.
    expect(customer.locator("#chat .message", has_text="Abrimos sim")).to_be_visible()
    expect(reply).to_have_attribute("data-status", "read")
    agent.screenshot(path=str(ARTIFACTS / "inbox.png"))

    agent.goto(f"{server['url']}/intents/")
    expect(agent.locator("#intents")).to_contain_text("Abrimos sim")
    # What became of it, in words: sent, and read by now.
    sent = agent.locator("#intents tr", has_text="Abrimos sim").locator(".outgoing-state")
    expect(sent).to_have_text(re.compile(rf"^Sent {CLOCK} · read {CLOCK}$"))


def test_inbox_fits_a_small_phone(conversa_server, browser):
    page = browser.new_context(viewport={"width": 375, "height": 740}).new_page()
    sign_in(page, conversa_server)
    page.locator(".conversation").first.click()
    expect(page.locator(".composer")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.screenshot(path=str(ARTIFACTS / "inbox-375.png"))
    page.get_by_role("link", name="Back to conversations").click()
    expect(page.locator(".conversations")).to_be_visible()


def test_empty_reply_gets_a_form_error_and_sends_nothing(conversa_server, browser):
    page = browser.new_context().new_page()
    sign_in(page, conversa_server)
    opened = page.locator(".conversation").first.get_attribute("data-conversation-id")
    page.locator(f'.conversation[data-conversation-id="{opened}"]').click()
    expect(page.locator("#workspace")).to_have_attribute("data-conversation", opened)
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    before = page.locator(".message.out").count()
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#reply-error")).to_be_visible()
    expect(page.locator(".message.out")).to_have_count(before)
