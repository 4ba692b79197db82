"""Settings → Assistant knowledge: an admin adds questions and answers, sees their passages,
and finds the right one with the try box (and none for a question the knowledge does not
answer); then the page in pt-BR. Screenshots at 1440 px light and 375 px dark."""

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


def test_an_admin_adds_a_faq_and_finds_it_with_the_try_box(conversa_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = operator(browser, conversa_server, "admin@demo.local", path="/settings/profile/")
    page.get_by_role("navigation", name="Settings").get_by_role(
        "link", name="Assistant knowledge"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Assistant knowledge")
    # The demo's FAQs (its assistant answers from them).
    expect(page.locator("#knowledge-sources")).to_contain_text("Entregas")

    page.get_by_role("link", name="Add questions and answers").click()
    page.get_by_label("Questions and answers").fill("Vocês abrem no domingo?")
    page.get_by_role("button", name="Add").click()
    expect(page.locator("#title-error")).to_have_text("Give it a title of 1 to 200 characters.")
    page.get_by_label("Title").fill("Perguntas frequentes")
    page.get_by_role("button", name="Add").click()
    expect(page.locator("#body-error")).to_have_text(
        "The question “Vocês abrem no domingo?” has no answer."
    )
    page.set_viewport_size({"width": 375, "height": 800})
    no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "knowledge-form-error-375.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.get_by_label("Questions and answers").fill(FAQ)
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("heading", name="2 passages")).to_be_visible()
    expect(page.locator(".knowledge-hit").first).to_contain_text("Aceitamos Pix")

    page.locator(".knowledge-back a").click()
    expect(page.locator("#knowledge-sources li", has_text="Perguntas frequentes")).to_contain_text(
        "2 passages"
    )
    ask = page.get_by_role("textbox", name="Question")
    ask.fill("vcs aceitam PIX?")
    page.get_by_role("button", name="Search").click()
    first = page.locator("#try-results .knowledge-hit").first
    expect(first).to_contain_text("Quais formas de pagamento vocês aceitam?")
    expect(first.locator(".knowledge-score")).to_have_text("score 1.00")
    no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "knowledge-1440-light.png"), full_page=True)

    ask.fill("Qual a previsão do tempo?")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#try-results")).to_contain_text("No passage answers this question")

    page.goto(f"{conversa_server['url']}/settings/organization/")
    page.locator("#lang").select_option("pt-br")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")
    page.goto(f"{conversa_server['url']}/settings/knowledge/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Conhecimento do assistente")
    expect(page.locator("#knowledge-sources li", has_text="Perguntas frequentes")).to_contain_text(
        "2 trechos"
    )
    page.set_viewport_size({"width": 375, "height": 800})
    page.emulate_media(color_scheme="dark")
    page.get_by_role("textbox", name="Pergunta").fill("entregam sábado?")
    page.get_by_role("button", name="Buscar").click()
    expect(page.locator("#try-results .knowledge-hit").first).to_contain_text(
        "Vocês entregam aos sábados?"
    )
    no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "knowledge-375-dark-pt.png"), full_page=True)
