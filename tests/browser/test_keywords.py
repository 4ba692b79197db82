"""The opt-out keywords page, in pt-BR: reached from the settings menu, the default words
shown, a new list and matching mode saved, and an empty list refused in words. Screenshots at
1440 px light and 375 px dark."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_inbox import no_horizontal_overflow, operator

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "var" / "shots"


def test_keywords_are_edited_saved_and_an_empty_list_refused(conversa_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = operator(browser, conversa_server, "admin@demo.local", path="/settings/organization/")
    page.locator("#lang").select_option("pt-br")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")
    page.get_by_role("navigation", name="Configurações").get_by_role(
        "link", name="Palavras de descadastro"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Palavras de descadastro")
    stop = page.get_by_label("Palavras que param as mensagens")
    expect(stop).to_have_value("SAIR\nPARAR\nCANCELAR\nDESCADASTRAR\nSTOP\nUNSUBSCRIBE")
    expect(page.get_by_label("Palavras que retomam as mensagens")).to_have_value("VOLTAR\nSTART")
    expect(page.get_by_label("A mensagem inteira é a palavra-chave")).to_be_checked()
    no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "keywords-1440-light-pt.png"), full_page=True)

    # One per line; a comma separates words too.
    stop.fill("SAIR\nCHEGA, BASTA")
    page.get_by_label("A palavra-chave aparece em qualquer parte da mensagem").check()
    page.get_by_label("Resposta a quem para as mensagens").fill("Pronto, você não recebe mais.")
    page.get_by_role("button", name="Salvar configurações").click()
    expect(page.locator(".alert.info")).to_have_text("Configurações salvas.")
    page.reload()
    expect(stop).to_have_value("SAIR\nCHEGA\nBASTA")
    expect(
        page.get_by_label("A palavra-chave aparece em qualquer parte da mensagem")
    ).to_be_checked()
    expect(page.get_by_label("Resposta a quem para as mensagens")).to_have_value(
        "Pronto, você não recebe mais."
    )

    stop.fill("  \n ")
    page.get_by_role("button", name="Salvar configurações").click()
    expect(page.locator(".field-error")).to_have_text("Informe pelo menos uma palavra-chave.")
    expect(page.locator(".keywords-form .alert.error")).to_have_text(
        "Corrija os campos indicados abaixo."
    )
    # Nothing was saved (a reload would post the form again: the page is opened anew).
    page.goto(f"{conversa_server['url']}/settings/keywords/")
    expect(stop).to_have_value("SAIR\nCHEGA\nBASTA")

    page.set_viewport_size({"width": 375, "height": 800})
    page.emulate_media(color_scheme="dark")
    no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "keywords-375-dark-pt.png"), full_page=True)
