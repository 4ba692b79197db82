"""The assistant answering on its own, as the team sees it (issue 20, items 4, 5 and 8): the
demo's assistant answers the number outside business hours; an admin has it answer always; a
customer's question is answered in the thread by the assistant, under a banner saying so; an
operator stops it there, can turn it back on, and inserts a suggested reply with Tab; then the
customer asks for a person and the assistant hands the conversation to the team with a private
note saying why, with a summary of the conversation."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_inbox import (
    customer_writes,
    no_horizontal_overflow,
    open_conversation,
    operator,
)

pytestmark = pytest.mark.browser


def test_automatic_replies_answer_and_a_person_stops_them(conversa_server, browser):
    server = conversa_server
    admin = operator(browser, server, "admin@demo.local", path="/settings/assistant/auto-replies/")
    # The demo's: its persona answers the number outside business hours (the browser tests'
    # demo is open around the clock, so it waits for a test to say otherwise).
    rule = admin.locator("#auto-replies li")
    expect(rule).to_contain_text("Vendas")
    expect(rule).to_contain_text("As Bia · Outside business hours · waits 8 seconds")
    admin.get_by_label("Where").select_option(label="Vendas")
    admin.get_by_label("Answers as").select_option(label="Bia")
    admin.locator("#id_when").select_option(label="Always")
    admin.get_by_label("Wait for more messages (seconds)").fill("0")
    admin.get_by_role("button", name="Save").click()
    expect(rule).to_have_count(1)
    expect(rule).to_contain_text("As Bia · Always · waits 0 seconds")

    customer = customer_writes(
        browser, server, "5511955557901", "Pergunta Rápida", "Qual o horário de atendimento?"
    )
    ana = operator(browser, server, "ana@demo.local")
    open_conversation(ana, "Pergunta Rápida", "Queue")
    banner = ana.locator("#assistant-banner .assistant-banner")
    expect(banner).to_have_attribute("data-state", "active")
    expect(banner).to_contain_text("The assistant is answering this conversation.")
    # The simulated model's answer, sent through the engine like any reply.
    expect(ana.locator(".message.out")).to_have_count(1)
    ana.screenshot(path=str(ARTIFACTS / "auto-reply-1440-light.png"))

    ana.get_by_role("button", name="Stop the assistant").click()
    expect(banner).to_have_attribute("data-state", "taken_over")
    expect(banner).to_contain_text("A person stopped the assistant.")
    ana.get_by_role("button", name="Turn the assistant back on").click()
    expect(banner).to_have_attribute("data-state", "active")

    # An agent asks for a suggested reply, and Tab in the empty reply box inserts it.
    ana.get_by_role("button", name="Suggest a reply").click()
    expect(ana.locator(".assist-suggestion")).to_contain_text("9h às 18h")
    box = ana.locator("#reply-body")
    box.focus()
    box.press("Tab")
    expect(box).to_have_value(re.compile("9h às 18h"))
    expect(ana.locator(".assist-suggestion")).to_be_hidden()

    # The customer asks for a person: the assistant tells them so and hands the conversation
    # to the team, with a private note saying why and summing the conversation up.
    customer.get_by_placeholder("Write as the customer…").fill("Quero falar com atendente")
    customer.get_by_role("button", name="Send").click()
    expect(banner).to_have_attribute("data-state", "handed_off")
    expect(banner).to_contain_text("“falar com atendente”")
    note = ana.locator("#messages .note.ai-note")
    expect(note).to_contain_text("The assistant handed this conversation to the team.")
    expect(note).to_contain_text("The customer wrote: “Quero falar com atendente”")
    expect(note).to_contain_text("Summary: ")
    expect(note).to_contain_text("The customer last said: Quero falar com atendente")
    expect(note.locator(".ai-rating")).to_be_visible()
    expect(ana.locator(".message.out")).to_have_count(2)
    ana.screenshot(path=str(ARTIFACTS / "auto-reply-handoff-1440-light.png"))

    phone = operator(browser, server, "ana@demo.local", width=375, height=800, scheme="dark")
    open_conversation(phone, "Pergunta Rápida", "Queue")
    expect(phone.locator("#assistant-banner .assistant-banner")).to_be_visible()
    no_horizontal_overflow(phone)
    phone.screenshot(path=str(ARTIFACTS / "auto-reply-375-dark.png"))
    admin.set_viewport_size({"width": 375, "height": 800})
    admin.reload()
    no_horizontal_overflow(admin)
    admin.screenshot(path=str(ARTIFACTS / "auto-replies-settings-375.png"), full_page=True)
