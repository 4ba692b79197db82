"""A contact's privacy page in pt-BR: an admin erases a customer after typing the word, and the
thread shows placeholders instead of the texts; the retention period on the organization's
settings. Screenshots at 1440 (light) and 375 px (dark)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_inbox import customer_writes, no_horizontal_overflow, operator
from tests.conftest import wait_for

pytestmark = pytest.mark.browser

PHONE = "5511955557790"


def in_portuguese(page, server) -> None:
    page.context.add_cookies([{"name": "django_language", "value": "pt-br", "url": server["url"]}])


def conversation_of(page, server, phone: str) -> dict:
    def found():
        answer = page.request.get(f"{server['url']}/api/conversations?tab=all&status=any")
        return next((c for c in answer.json() if c["contact"]["phone"] == phone), None)

    return wait_for(found, f"the conversation with {phone}")


def test_an_admin_erases_a_contact_after_confirming_and_the_thread_shows_placeholders(
    conversa_server, browser
):
    customer_writes(browser, conversa_server, PHONE, "Bruna Lima", "Moro na Rua B, 20")
    admin = operator(browser, conversa_server, "admin@demo.local")
    in_portuguese(admin, conversa_server)
    conversation = conversation_of(admin, conversa_server, PHONE)
    contact_id = conversation["contact"]["id"]
    url = conversa_server["url"]

    admin.goto(f"{url}/contacts/{contact_id}/privacy/")
    expect(admin.get_by_role("heading", level=1)).to_have_text("Privacidade de Bruna Lima")
    expect(admin.get_by_role("link", name="Baixar os dados (ZIP)")).to_be_visible()
    admin.screenshot(path=str(ARTIFACTS / "contact-privacy-1440-light.png"), full_page=True)

    erase = admin.get_by_role("button", name="Apagar os dados deste contato")
    confirmation = admin.get_by_label("Digite APAGAR para confirmar")
    confirmation.fill("sim")
    erase.click()
    expect(admin.locator("#confirmation-error")).to_have_text("Digite APAGAR para confirmar.")
    admin.get_by_label("Digite APAGAR para confirmar").fill("apagar")
    admin.get_by_role("button", name="Apagar os dados deste contato").click()

    expect(admin.locator("#erased-notice")).to_contain_text("Os dados pessoais do contato")
    expect(admin.get_by_role("heading", level=1)).to_have_text(
        f"Privacidade de Contato apagado nº {contact_id}"
    )
    expect(admin.get_by_role("button", name="Apagar os dados deste contato")).to_have_count(0)

    admin.goto(f"{url}/inbox/c/{conversation['id']}/")
    placeholder = admin.locator(".removed-text").first
    expect(placeholder).to_have_text("Removida quando os dados do contato foram apagados")
    expect(admin.locator("#messages")).not_to_contain_text("Rua B")
    admin.screenshot(path=str(ARTIFACTS / "contact-erased-thread-1440-light.png"))

    admin.set_viewport_size({"width": 375, "height": 800})
    admin.emulate_media(color_scheme="dark")
    admin.goto(f"{url}/contacts/{contact_id}/privacy/")
    no_horizontal_overflow(admin)
    admin.screenshot(path=str(ARTIFACTS / "contact-privacy-375-dark.png"), full_page=True)


def test_the_retention_period_is_set_on_the_organization_settings(conversa_server, browser):
    admin = operator(browser, conversa_server, "admin@demo.local")
    in_portuguese(admin, conversa_server)
    admin.goto(f"{conversa_server['url']}/settings/organization/")
    admin.get_by_label("Guardar mensagens por (dias)").fill("0")
    admin.get_by_role("button", name="Salvar", exact=True).click()
    expect(admin.locator("#retention-error")).to_contain_text("de 1 a 3650 dias")
    admin.get_by_label("Guardar mensagens por (dias)").fill("365")
    admin.get_by_role("button", name="Salvar", exact=True).click()
    expect(admin).to_have_url(re.compile(r"saved=retention"))
    expect(admin.get_by_label("Guardar mensagens por (dias)")).to_have_value("365")
    admin.locator("#retention").screenshot(path=str(ARTIFACTS / "settings-retention-1440.png"))
