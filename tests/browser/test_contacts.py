"""The Contacts pages in a real Chromium, on a phone, in Portuguese: a member opens Contacts
from the "More" menu, finds a customer by searching, opens them, records the consent they
gave with its evidence, blocks them with a reason, and sees both on the page."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "var" / "shots"


def test_find_a_contact_record_consent_and_block_them_on_a_phone_in_portuguese(
    conversa_server, browser
):
    server = conversa_server
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        viewport={"width": 375, "height": 800}, locale="pt-BR", color_scheme="dark"
    )
    page = context.new_page()
    page.goto(f"{server['url']}/login/")
    page.locator("input[name=username]").fill(server["email"])
    page.locator("input[name=password]").fill(server["passwords"][server["email"]])
    page.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/inbox/"))

    # On a phone, Contacts is in the "More" menu, not the bottom bar.
    bar = page.locator(".nav-main")
    expect(bar.get_by_role("link", name="Contatos")).to_be_hidden()
    page.get_by_role("button", name="Mais").click()
    page.locator("#more-menu").get_by_role("link", name="Contatos").click()
    expect(page.get_by_role("heading", name="Contatos", exact=True)).to_be_visible()

    page.get_by_label("Buscar").fill("Mariana")
    rows = page.locator("#contact-list tbody tr")
    expect(rows).to_have_count(1)
    page.screenshot(path=str(SHOTS / "contacts-list-375-pt.png"), full_page=True)
    rows.first.get_by_role("link", name="Mariana Costa").click()
    expect(page.get_by_role("heading", name="Mariana Costa")).to_be_visible()
    expect(page.locator(".contact-states")).to_contain_text("Sem consentimento de marketing")

    consent = page.locator("form.consent-form")
    consent.get_by_label("Concordou em receber mensagens de marketing").check()
    consent.get_by_label("Prova").fill("Disse sim no balcão, 05/12")
    consent.get_by_role("button", name="Registrar consentimento").click()
    expect(page.locator(".contact-notice")).to_have_text("Consentimento registrado.")
    record = page.locator(".consent-record").first
    expect(record).to_contain_text("Consentiu")
    expect(record).to_contain_text("Disse sim no balcão, 05/12")
    expect(record).to_contain_text("Registrado por alguém da equipe")

    block = page.locator("form", has=page.get_by_role("button", name="Bloquear"))
    block.get_by_label("Motivo").fill("Mensagens ofensivas")
    block.get_by_role("button", name="Bloquear").click()
    expect(page.locator(".contact-states")).to_contain_text("Contato bloqueado")
    expect(page.get_by_role("button", name="Desbloquear")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide on a 375px phone"
    page.screenshot(path=str(SHOTS / "contact-page-375-pt.png"), full_page=True)

    # The list says so too.
    page.goto(f"{server['url']}/contacts/?blocked=yes")
    expect(page.locator("#contact-list")).to_contain_text("Mariana Costa")
    context.close()

    # On a desk, in English and light: Contacts follows Inbox in the sidebar.
    desk = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    page = desk.new_page()
    page.goto(f"{server['url']}/login/")
    page.locator("input[name=username]").fill(server["email"])
    page.locator("input[name=password]").fill(server["passwords"][server["email"]])
    page.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/inbox/"))
    labels = page.locator(".nav-main .nav-label")
    expect(labels.nth(0)).to_have_text("Inbox")
    expect(labels.nth(1)).to_have_text("Contacts")
    labels.nth(1).click()
    # The demo's shop has a week of customers: find her by name.
    page.get_by_label("Search").fill("Mariana")
    page.get_by_role("link", name="Mariana Costa").click()
    expect(page.locator(".contact-states")).to_contain_text("Blocked contact")
    expect(page.locator(".consent-record").first).to_contain_text("Recorded by a team member")
    page.screenshot(path=str(SHOTS / "contact-page-1440-en.png"), full_page=True)
    desk.close()
