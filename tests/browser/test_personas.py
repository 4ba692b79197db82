"""Settings → Assistant personas: an admin adds questions and answers to the knowledge, makes a
persona (a form error first), asks its test chat a question and sees the answer written from
the knowledge (the simulator's model, streamed), with the passage it used, rates it good,
asks for a person and sees the handoff, and turns the persona on; then the pages in pt-BR.
Screenshots at 1440 px light, 375 px dark in pt-BR, and the list (the demo's persona) at 375 px."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_inbox import no_horizontal_overflow, operator

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "var" / "shots"
FAQ = """Quais formas de pagamento vocês aceitam?
Aceitamos Pix, boleto e cartão de crédito em até 12 vezes.

Vocês entregam aos sábados?
Sim, das 9h às 13h, nas capitais."""


def add_faq(page, server):
    page.goto(f"{server['url']}/settings/knowledge/new?kind=faq")
    page.get_by_label("Title").fill("Perguntas frequentes")
    page.get_by_label("Questions and answers").fill(FAQ)
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("heading", name="2 passages")).to_be_visible()


def test_an_admin_makes_a_persona_and_tries_it_in_the_test_chat(conversa_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = operator(browser, conversa_server, "admin@demo.local", path="/settings/profile/")
    page.get_by_role("navigation", name="Settings").get_by_role(
        "link", name="Assistant personas"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Assistant personas")
    # The demo's assistant, which answers the demo number outside business hours.
    expect(page.locator("#personas")).to_contain_text("Bia")
    page.set_viewport_size({"width": 375, "height": 800})
    no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "personas-375.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})

    add_faq(page, conversa_server)
    page.goto(f"{conversa_server['url']}/settings/assistant/personas/")
    page.get_by_role("link", name="New persona").click()
    expect(page.get_by_label("Phrases that ask for a person")).to_contain_text(
        "falar com atendente"
    )
    page.get_by_label("Hand off after this many answers").fill("0")
    page.get_by_role("button", name="Create persona").click()
    expect(page.locator(".persona-form .field-error").first).to_be_visible()
    page.locator("#id_name").fill("Ana da Loja")
    page.get_by_label("Hand off after this many answers").fill("5")
    for part in ("Morning", "Afternoon", "Evening"):
        page.get_by_label(f"{part} greeting").fill("Olá!")
    page.get_by_label("Topics it leaves to people").fill("política")
    page.get_by_role("button", name="Create persona").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ana da Loja")
    chat = page.locator("#test-chat")
    expect(chat.locator('[data-state="simulated"]')).to_be_visible()
    expect(chat.locator(".test-chat-empty")).to_be_visible()

    ask = chat.get_by_role("textbox", name="Question")
    ask.fill("Vocês aceitam Pix?")
    chat.get_by_role("button", name="Ask").click()
    answer = chat.locator(".test-answer").first
    expect(answer.locator('[data-field="answer"]')).to_have_text(
        "Olá! Aceitamos Pix, boleto e cartão de crédito em até 12 vezes."
    )
    expect(answer).to_have_attribute("data-outcome", "answered")
    answer.get_by_text("1 passage used").click()
    expect(answer.locator(".test-passages")).to_contain_text(
        "Perguntas frequentes › Quais formas de pagamento vocês aceitam?"
    )
    answer.get_by_role("button", name="Good").click()
    expect(answer.get_by_role("button", name="Good")).to_have_attribute("aria-pressed", "true")

    ask.fill("Quero falar com atendente")
    chat.get_by_role("button", name="Ask").click()
    handed = chat.locator(".test-answer").first
    expect(handed).to_have_attribute("data-outcome", "handed_off")
    expect(handed.locator(".test-outcome")).to_contain_text("Handed to a person")
    expect(handed.locator(".test-outcome")).to_contain_text("“falar com atendente”")
    expect(chat.locator(".test-answer")).to_have_count(2)

    chat.get_by_role("button", name="Turn on").click()
    expect(page.locator('#test-chat [data-state="on"]')).to_have_text("On")
    no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "persona-1440-light.png"), full_page=True)

    # A reload keeps the answers and the rating (they are kept as test answers).
    page.reload()
    expect(chat.locator(".test-answer")).to_have_count(2)
    expect(chat.locator(".test-answer").last.get_by_role("button", name="Good")).to_have_attribute(
        "aria-pressed", "true"
    )

    page.goto(f"{conversa_server['url']}/settings/organization/")
    page.locator("#lang").select_option("pt-br")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")
    page.goto(f"{conversa_server['url']}/settings/assistant/personas/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Personas do assistente")
    expect(page.locator("#personas")).to_contain_text("Ana da Loja")
    page.get_by_role("link", name="Ana da Loja").click()
    page.set_viewport_size({"width": 375, "height": 800})
    page.emulate_media(color_scheme="dark")
    chat.get_by_role("textbox", name="Pergunta").fill("entregam aos sábados?")
    chat.get_by_role("button", name="Perguntar").click()
    expect(chat.locator(".test-answer").first.locator('[data-field="answer"]')).to_have_text(
        "Olá! Sim, das 9h às 13h, nas capitais."
    )
    no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "persona-375-dark-pt.png"), full_page=True)
    chat.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "persona-chat-375-dark-pt.png"))
