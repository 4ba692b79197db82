"""The CRM in a real Chromium against `conversa serve`: an automation built in the slide-over,
a lead dragged into its stage, step 1 deferred while the number is paused and sent by
"Dispatch now" (the overlay counts it, the simulator shows it); a same-stage drop sends
nothing; the pages at 375 and 1440 px, light and dark (screenshots in var/test-artifacts)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, simulator_page

pytestmark = pytest.mark.browser

YOGA_PHONE = "5511955550102"  # the demo's "Studio Yoga Leve", whose lead is in Novo


def signed_in(browser, server, *, width=1440, height=900, scheme="light"):
    context = browser.new_context(
        viewport={"width": width, "height": height}, color_scheme=scheme, locale="en-US"
    )
    page = context.new_page()
    page.goto(f"{server['url']}/login/")
    page.get_by_label("Email").fill(server["email"])
    page.get_by_label("Password").fill(server["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/inbox/"))
    # The URL changes when the response starts; the deferred scripts (the language menu's
    # submit among them) run only by DOMContentLoaded.
    page.wait_for_load_state("domcontentloaded")
    return page


def no_horizontal_overflow(page):
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def column(page, stage):
    return page.get_by_role("region", name=stage)


def list_refreshed(response):
    """An answer to the automations list's own refresh (not to its filters)."""
    return response.request.headers.get("hx-trigger") == "automation-list"


def number_action(page, server, action):
    page.goto(f"{server['url']}/numbers/")
    card = page.locator(".number-card", has_text="Vendas")
    card.get_by_role("button", name=action).click()
    expect(card.locator("[data-status]")).to_have_text(
        "Paused" if action == "Pause" else "Connected"
    )


def test_build_an_automation_move_a_lead_and_dispatch_its_first_step(conversa_server, browser):
    server = conversa_server
    page = signed_in(browser, server)

    # The slide-over: the list stays behind it; a typo'd variable is caught as it is typed.
    page.goto(f"{server['url']}/automations/")
    expect(page.locator(".flow-row", has_text="Acompanhar proposta")).to_be_visible()
    page.get_by_role("link", name="New automation").first.click()
    panel = page.get_by_role("dialog", name="When a lead enters a stage…")
    expect(panel).to_be_visible()
    panel.get_by_label("Name").fill("Boas-vindas <Qualificado>")
    panel.get_by_label("When a lead enters").select_option(label="Qualificado")
    first = panel.locator(".step-editor").nth(0)
    first.get_by_label("Message").fill("Oi {{contact.first_name}}! {{lead.desconto}}")
    expect(page.locator("#step-preview-0")).to_contain_text(
        "Unknown variable(s): {{lead.desconto}}"
    )
    first.get_by_label("Message").fill(
        "Oi {{contact.first_name}}! Sobre {{lead.title}}: <b>bem-vindo</b>"
    )
    # Rendered for a lead of the stage (João's "Plano anual"), as text.
    expect(page.locator("#step-preview-0")).to_contain_text(
        "Oi João! Sobre Plano anual: <b>bem-vindo</b>"
    )
    page.screenshot(path=str(ARTIFACTS / "crm-automation-editor.png"))

    # A second step, reordered above the first and back.
    panel.get_by_role("button", name="Add step").click()
    second = panel.locator(".step-editor").nth(1)
    second.get_by_label("Wait").fill("2")
    second.get_by_label("Unit").select_option("days")
    second.get_by_label("Message").fill("{{contact.first_name}}, ainda com interesse?")
    second.get_by_role("button", name="Move this step up").click()
    expect(panel.locator(".step-editor").nth(0).get_by_label("Message")).to_have_value(
        "{{contact.first_name}}, ainda com interesse?"
    )
    panel.locator(".step-editor").nth(0).get_by_role("button", name="Move this step down").click()
    expect(panel.locator(".step-editor").nth(0).get_by_label("Message")).to_have_value(
        re.compile("^Oi ")
    )
    expect(panel.locator(".step-n")).to_have_text(["1", "2"])
    panel.get_by_role("button", name="Save automation").click()

    row = page.locator(".flow-row", has_text="Boas-vindas <Qualificado>")
    expect(row).to_be_visible()
    expect(panel).to_be_hidden()
    expect(row.locator(".flow-kind")).to_have_text(
        ["Trigger", "Step 1 · at once", "Step 2 · after 2 days"]
    )
    expect(row.locator(".status-chip")).to_have_text("Running")
    page.screenshot(path=str(ARTIFACTS / "crm-automations.png"), full_page=True)

    # The number is paused: the step will wait, deferred by the Gate.
    number_action(page, server, "Pause")

    # The board: drag Studio Yoga's lead from Novo into Qualificado.
    page.goto(f"{server['url']}/pipeline/")
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    card = page.locator(".lead-card", has_text="Kit boas-vindas para alunos")
    expect(column(page, "Novo").locator(".column-count")).to_have_text("2")
    # Counted in the page: the moves the board sends, as each is sent, and the drops it has
    # handled (this listener runs after the board's own, added first). A drop's handler sends
    # its move before it returns, so once a drop is counted its move, if any, is too.
    page.evaluate(
        """() => { window.movesSent = 0; window.drops = 0;
             document.addEventListener("htmx:beforeRequest", (e) => {
               if (e.detail.requestConfig.path.endsWith("/move")) window.movesSent++; });
             document.addEventListener("drop", () => window.drops++); }"""
    )
    card.drag_to(column(page, "Qualificado").locator(".lead-cards"))
    expect(
        column(page, "Qualificado").locator(".lead-card", has_text="Kit boas-vindas")
    ).to_be_visible()
    expect(column(page, "Qualificado").locator(".column-count")).to_have_text("2")
    expect(column(page, "Novo").locator(".column-count")).to_have_text("1")
    expect(card).not_to_have_class(re.compile("saving"))
    assert page.evaluate("window.movesSent") == 1

    # Dropped on its own stage: nothing is sent, nothing changes.
    card.drag_to(column(page, "Qualificado").locator(".lead-cards"))
    page.wait_for_function("window.drops === 2")
    assert page.evaluate("window.movesSent") == 1
    expect(column(page, "Qualificado").locator(".column-count")).to_have_text("2")
    page.screenshot(path=str(ARTIFACTS / "crm-board.png"), full_page=True)

    # Dispatch now while the number is paused: step 1 is deferred, with the Gate's reason.
    page.goto(f"{server['url']}/automations/")
    expect(page.locator(".flow-row", has_text="Boas-vindas").locator(".flow-pending")).to_have_text(
        "2"
    )
    # A finished dispatch has the list behind it redrawn with the filters it was drawn with:
    # each is waited for, so that no such redraw lands after the filters below are picked.
    with page.expect_response(list_refreshed):
        page.get_by_role("button", name="Dispatch now").click()
        overlay = page.get_by_role("dialog", name="Dispatch now")
        expect(overlay).to_be_visible()
        expect(overlay.locator("#dispatch-deferred")).to_have_text("1")
        expect(overlay).to_contain_text("The number is paused")
        expect(overlay.locator(".dispatch")).to_have_attribute("data-phase", "done")
    page.screenshot(path=str(ARTIFACTS / "crm-dispatch-deferred.png"))
    # Closing the panel stops nothing; the page stays usable.
    overlay.get_by_role("button", name="Close (the dispatch goes on)").click()
    expect(overlay).to_be_hidden()

    # The number is back: resuming it wakes what it held, and step 1 leaves at once, with no
    # second "Dispatch now" (engine/policies.py).
    other = page.context.new_page()
    number_action(other, server, "Resume")

    # The customer's phone: step 1 arrived, rendered for Studio Yoga, as text.
    customer = simulator_page(browser, server, viewport={"width": 420, "height": 800})
    customer.goto(f"{server['url']}/sandbox/?phone={YOGA_PHONE}")
    expect(customer.locator("#chat")).to_contain_text(
        "Oi Studio! Sobre Kit boas-vindas para alunos: <b>bem-vindo</b>"
    )


def test_a_refused_move_puts_the_card_back_with_a_toast(conversa_server, browser):
    page = signed_in(browser, conversa_server)
    page.goto(f"{conversa_server['url']}/pipeline/")
    card = page.locator(".lead-card", has_text="Uniformes")
    # The server refuses (here: the stage vanished); the card goes back where it was.
    page.route(
        "**/move",
        lambda route: route.fulfill(
            status=404, content_type="text/plain", body="That stage no longer exists."
        ),
    )
    card.locator("summary").click()
    card.get_by_role("button", name="Novo").click()
    expect(page.get_by_role("alert")).to_contain_text("That stage no longer exists.")
    expect(column(page, "Perdido").locator(".lead-card", has_text="Uniformes")).to_be_visible()
    expect(column(page, "Perdido").locator(".column-count")).to_have_text("1")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 1440])
def test_the_crm_pages_fit_phones_and_wide_screens(conversa_server, browser, width, scheme):
    server = conversa_server
    page = signed_in(browser, server, width=width, height=860, scheme=scheme)
    name = f"{width}-{scheme}"
    page.goto(f"{server['url']}/pipeline/")
    expect(page.locator(".lead-card").first).to_be_visible()
    no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / f"crm-board-{name}.png"))
    if width == 375:
        # On a phone the "Move to…" menu is the way to move a lead.
        card = page.locator(".lead-card", has_text="Entrega semanal")
        card.locator("summary").click()
        expect(card.get_by_role("button", name="Qualificado")).to_be_visible()
        no_horizontal_overflow(page)
        page.screenshot(path=str(ARTIFACTS / f"crm-move-menu-{name}.png"))
        page.keyboard.press("Escape")
    page.goto(f"{server['url']}/pipeline/list")
    expect(page.locator(".lead-table")).to_be_visible()
    no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / f"crm-list-{name}.png"), full_page=True)
    page.locator(".lead-title", has_text="Cestas de café").click()
    expect(page.locator("h1")).to_have_text("Cestas de café da manhã")
    no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / f"crm-lead-{name}.png"), full_page=True)
    page.goto(f"{server['url']}/automations/")
    expect(page.locator(".flow-row").first).to_be_visible()
    no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / f"crm-automations-{name}.png"), full_page=True)
    page.locator(".flow-row", has_text="Acompanhar proposta").get_by_role(
        "link", name="Edit"
    ).click()
    expect(page.get_by_role("dialog", name="Acompanhar proposta")).to_be_visible()
    no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / f"crm-automation-edit-{name}.png"))


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 1440])
def test_the_pipelines_page_fits_phones_and_wide_screens(conversa_server, browser, width, scheme):
    server = conversa_server
    page = signed_in(browser, server, width=width, height=860, scheme=scheme)
    name = f"{width}-{scheme}"
    page.goto(f"{server['url']}/pipeline/")
    page.get_by_role("link", name="Manage pipelines").click()
    expect(page.get_by_role("heading", name="Stages of Vendas")).to_be_visible()
    expect(page.locator(".stage-row")).to_have_count(5)
    no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / f"crm-pipelines-{name}.png"), full_page=True)
    row = page.locator(".stage-row", has_text="Qualificado")
    row.locator("summary", has_text="Edit").click()
    expect(row.get_by_label("Name")).to_have_value("Qualificado")
    no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / f"crm-pipelines-edit-{name}.png"))
