"""A campaign runs to completion under a keyword opt-out, in a real browser over a real server
(its in-process worker, the sandbox simulator): three customers write, an imported list records
their consent and tags them, a campaign is made and started on the pages at one message a minute; the last
customer sends SAIR before their message is due; pause and resume send the second customer's
message now instead of a minute later; the page follows the counts live until it says Finished.
The opted-out customer never receives the campaign's message, the others do, and the page counts
them skipped, "Opted out". Screenshots of the list, the form and the finished campaign at 1440 px
light and 375 px dark in var/test-artifacts."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.server import running_conversa
from tests.browser.test_crm import no_horizontal_overflow, signed_in
from tests.browser.test_inbox import customer_writes

pytestmark = pytest.mark.browser

CUSTOMERS = [
    ("5511955557901", "Clara Campos"),
    ("5511955557902", "Diego Dias"),
    ("5511955557903", "Elisa Eiras"),
]
LIST = "campanha-maio.csv"
CSV = (
    "telefone;nome;consentimento;etiquetas\n"
    + "".join(f"+{phone};{name};sim;promo-maio\n" for phone, name in CUSTOMERS)
).encode()
MESSAGE = "Olá {{contact.first_name}}, a promoção de maio começou!"


@pytest.fixture(scope="module")
def conversa_server(tmp_path_factory):
    """The usual server, its campaign pass every second instead of ten (what finishes a
    campaign once nothing of it is left to send)."""
    folder = tmp_path_factory.mktemp("conversa")
    with running_conversa(
        folder, SANDBOX_DELIVERY_DELAY="0.3", CAMPAIGN_PASS_SECONDS="1"
    ) as server:
        yield server


def count(page, name):
    return page.locator(f'#campaign-live [data-count="{name}"] dd')


def shots(browser, server, path, name, *, portuguese=False):
    for width, scheme in [(1440, "light"), (375, "dark")]:
        page = signed_in(browser, server, width=width, scheme=scheme)
        page.goto(f"{server['url']}{path}")
        no_horizontal_overflow(page)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}-{scheme}.png"), full_page=True)
        page.context.close()
    if portuguese:
        page = signed_in(browser, server)
        page.goto(f"{server['url']}{path}")
        page.locator("#lang").select_option("pt-br")
        expect(page.locator("html")).to_have_attribute("lang", "pt-br")
        page.set_viewport_size({"width": 375, "height": 900})
        page.emulate_media(color_scheme="dark")
        no_horizontal_overflow(page)
        page.screenshot(path=str(ARTIFACTS / f"{name}-375-dark-pt.png"), full_page=True)
        page.set_viewport_size({"width": 1440, "height": 900})
        page.locator("#lang").select_option("en")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.context.close()


def test_a_campaign_runs_to_completion_and_skips_who_opted_out(conversa_server, browser):
    server = conversa_server
    chats = [
        customer_writes(browser, server, phone, name.split()[0], "Oi!") for phone, name in CUSTOMERS
    ]
    for chat in chats:
        expect(chat.locator("#chat")).to_contain_text("Oi!")

    page = signed_in(browser, server)
    # Their consent, and the list the campaign goes to, from a spreadsheet.
    page.goto(f"{server['url']}/contacts/import/")
    page.get_by_label(re.compile("CSV or Excel")).set_input_files(
        {"name": LIST, "mimeType": "text/csv", "buffer": CSV}
    )
    page.get_by_role("button", name="Upload and map columns").click()
    page.get_by_label("etiquetas", exact=True).select_option("tags")
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-progress .import-percent")).to_contain_text("100%")
    expect(page.locator(".import-counts div", has_text="Consents recorded")).to_contain_text("3")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    expect(page.get_by_role("heading", name="Campaigns", level=1)).to_be_visible()
    # The demo's finished newsletter campaign is listed (the empty list: test_campaign_pages).
    expect(page.get_by_role("link", name="Coleção de verão")).to_be_visible()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Name", exact=True).fill("Promoção de maio")
    page.get_by_role("textbox", name=re.compile("^Text")).fill(MESSAGE)
    page.get_by_label("promo-maio", exact=True).check()
    page.get_by_label("Vendas").check()
    page.get_by_label("Messages per minute from each number").fill("1")
    no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / "campaign-form-1440-light.png"), full_page=True)
    page.get_by_role("button", name="Save draft").click()

    expect(page.get_by_role("heading", name="Promoção de maio", level=1)).to_be_visible()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("The audience holds 3 people now.")
    expect(preview).to_contain_text("Olá Clara, a promoção de maio começou!")
    expect(preview).to_contain_text("Olá Elisa, a promoção de maio começou!")
    campaign_path = page.url.removeprefix(server["url"])
    shots(browser, server, f"{campaign_path}edit", "campaign-form")

    page.get_by_role("button", name="Start", exact=True).click()
    live = page.locator("#campaign-live")
    expect(live.locator("#campaign-status")).to_have_text("Sending")
    # The first is due at once, the next a minute apart: counted on the page as they go.
    expect(count(page, "sent")).to_have_text("1")
    expect(chats[0].locator("#chat")).to_contain_text("Olá Clara, a promoção de maio começou!")

    chats[2].get_by_placeholder("Write as the customer…").fill("SAIR")
    chats[2].get_by_role("button", name="Send").click()
    expect(chats[2].locator("#chat")).to_contain_text("você não receberá mais")
    expect(live.locator(".campaign-skips")).to_contain_text("Opted out")
    expect(count(page, "queued")).to_have_text("1")

    # Diego's message waits for its slot a minute on; paused and resumed, it is due now.
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(live.locator("#campaign-status")).to_have_text("Paused")
    page.get_by_role("button", name="Resume", exact=True).click()
    expect(live.locator("#campaign-status")).to_have_text("Finished")
    expect(count(page, "sent")).to_have_text("2")
    expect(count(page, "queued")).to_have_text("0")
    expect(count(page, "skipped")).to_have_text("1")
    expect(live.locator(".campaign-skips li")).to_have_text(re.compile(r"Opted out\s+1"))
    expect(chats[1].locator("#chat")).to_contain_text("Olá Diego, a promoção de maio começou!")
    expect(chats[2].locator("#chat")).not_to_contain_text("promoção de maio")
    expect(live.locator(".campaign-series")).to_be_visible()
    assert live.get_attribute("data-poll-every") is None

    shots(browser, server, campaign_path, "campaign-finished", portuguese=True)
    shots(browser, server, "/campaigns/", "campaign-list")
