"""Outgoing messages and the CRM's feedback in a real Chromium: a lead dragged into a stage
with an automation says how many follow-ups it scheduled and when the first goes (and, with
every number paused, that they wait); the Outgoing messages page then tells an agent, in
English and Portuguese, when each goes, from which number and what became of it, with no
internal event name on screen, and keeps the raw details in a disclosure for admins."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, CLOCK

pytestmark = pytest.mark.browser

RAW = re.compile(
    r"intent\.created|gate\.(allow|defer|block)|job\.(sent|failed)|\d+:\d+:\d+:\d+:\d+"
)


def signed_in(browser, server, email, *, locale="en-US", width=1440, scheme="light"):
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, locale=locale
    )
    page = context.new_page()
    page.goto(f"{server['url']}/login/")
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(server["passwords"][email])
    page.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/inbox/"))
    return page


def drag_to(page, title, stage):
    card = page.locator(".lead-card", has_text=title)
    card.drag_to(page.get_by_role("region", name=stage).locator(".lead-cards"))
    return page.locator("#toasts .toast.notice").last


def pause_number(page, server, action):
    page.goto(f"{server['url']}/numbers/")
    card = page.locator(".number-card", has_text="Vendas")
    card.get_by_role("button", name=action).click()
    expect(card.locator("[data-status]")).to_have_text(
        "Paused" if action == "Pause" else "Connected"
    )


def test_a_move_says_what_it_scheduled_and_the_outgoing_page_tells_it_in_words(
    conversa_server, browser
):
    server = conversa_server
    admin = signed_in(browser, server, server["email"])

    # Mariana's lead into Proposta, whose automation has three steps, the first at once.
    admin.goto(f"{server['url']}/pipeline/")
    expect(admin.locator("body")).to_have_attribute("data-socket", "open")
    toast = drag_to(admin, "Entrega semanal em Campinas", "Proposta")
    expect(toast).to_have_text(re.compile(r"^3 follow-ups scheduled: the first goes now"))
    # Values in the organization's currency.
    expect(admin.locator(".lead-card", has_text="Plano anual").locator(".lead-value")).to_have_text(
        "R$990"
    )
    admin.screenshot(path=str(ARTIFACTS / "outgoing-move-toast.png"))

    # Every number paused: the move says its follow-ups wait, and why; so does the next run.
    pause_number(admin, server, "Pause")
    admin.goto(f"{server['url']}/pipeline/")
    expect(admin.locator("body")).to_have_attribute("data-socket", "open")
    toast = drag_to(admin, "Kit boas-vindas para alunos", "Proposta")
    expect(toast).to_have_text(re.compile(r"waiting: all numbers are paused"))
    admin.goto(f"{server['url']}/automations/")
    row = admin.locator(".flow-row", has_text="Acompanhar proposta")
    expect(row.locator(".flow-next")).to_have_text("Waiting: all numbers are paused")
    admin.screenshot(path=str(ARTIFACTS / "outgoing-automation-waiting.png"))
    pause_number(admin, server, "Resume")

    # An agent's Outgoing messages: business words only, the scheduled time, the number.
    agent = signed_in(browser, server, "ana@demo.local")
    agent.goto(f"{server['url']}/intents/")
    expect(agent.get_by_role("heading", name="Outgoing messages")).to_be_visible()
    rows = agent.locator("#intents tbody tr", has_text="Mariana Costa")
    scheduled = rows.filter(has_text="conseguiu ver a proposta")
    expect(scheduled).to_contain_text(re.compile(rf"Scheduled for \w{{3}} {CLOCK}"))
    expect(scheduled).to_contain_text("Automation “Acompanhar proposta”")
    expect(scheduled.locator(".sending-number")).to_have_text("Vendas")
    first = rows.filter(has_text="Enviei a proposta")
    expect(first).to_contain_text(re.compile(rf"Sent {CLOCK}"))
    assert not RAW.search(agent.locator("main").inner_text())
    agent.screenshot(path=str(ARTIFACTS / "outgoing-list-agent.png"), full_page=True)
    scheduled.get_by_role("link").click()
    expect(agent.locator(".outgoing-story")).to_contain_text(
        "Allowed for now: all checks passed (checked again when it is due)"
    )
    expect(agent.locator(".outgoing-story")).to_contain_text(re.compile(r"Scheduled for "))
    expect(agent.locator(".raw-details")).to_have_count(0)
    assert not RAW.search(agent.locator("main").inner_text())
    intent_url = agent.url

    # The admin sees the same story, with the raw details behind a disclosure.
    admin.goto(intent_url)
    details = admin.locator(".raw-details")
    expect(details.locator("code").first).not_to_be_visible()
    details.locator("summary").click()
    expect(details).to_contain_text(re.compile(r"\d+:\d+:\d+:\d+:\d+:\d+"))
    expect(details).to_contain_text("kind=gate.allow")
    admin.screenshot(path=str(ARTIFACTS / "outgoing-detail-admin.png"), full_page=True)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 1440])
def test_the_outgoing_page_in_portuguese_fits_phones_and_wide_screens(
    conversa_server, browser, width, scheme
):
    server = conversa_server
    page = signed_in(browser, server, "ana@demo.local", locale="pt-BR", width=width, scheme=scheme)
    page.goto(f"{server['url']}/intents/")
    expect(page.get_by_role("heading", name="Envio de mensagens")).to_be_visible()
    assert not RAW.search(page.locator("main").inner_text())
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=str(ARTIFACTS / f"outgoing-pt-{width}-{scheme}.png"), full_page=True)
    # Deal values in reais, as Brazilians write them.
    page.goto(f"{server['url']}/pipeline/")
    value = page.locator(".lead-card", has_text="Plano anual").locator(".lead-value")
    expect(value).to_have_text(re.compile(r"^R\$\s990$"))
    expect(page.locator(".column-total").first).to_have_text(re.compile(r"R\$\s[\d.]+(,\d\d)?$"))
