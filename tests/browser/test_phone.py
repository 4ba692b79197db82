"""The app as people meet it on a phone and at a glance (issue 17): the bottom bar with its
"More" menu in pt-BR, the composer's Send never under the bar, a compact conversation
header; the navigation without placeholders; read and delivered ticks told apart; the
offline banner and the offline send error; a conversation loading; the favicon."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import simulator_page

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "var" / "shots"


# Chromium's offline switch (context.set_offline) stops requests but not WebSockets: the live
# socket goes through this one, which drops the open sockets and, while the network is "down",
# opens new ones to a port nobody answers.
NETWORK_SWITCH = """
(() => {
  const Real = window.WebSocket;
  const network = { down: false, sockets: [] };
  window.__network = network;
  function Switched(url, protocols) {
    const socket = new Real(network.down ? "ws://127.0.0.1:9/" : url, protocols);
    network.sockets.push(socket);
    return socket;
  }
  Switched.prototype = Real.prototype;
  Object.assign(Switched, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = Switched;
})();
"""


def go_offline(page, offline: bool):
    page.context.set_offline(offline)
    page.evaluate(
        "down => { __network.down = down; if (down) __network.sockets.forEach(s => s.close()); }",
        offline,
    )


def signed_in(browser, server, *, width, height, locale="en-US", scheme="light"):
    context = browser.new_context(
        viewport={"width": width, "height": height},
        locale=locale,
        color_scheme=scheme,
        storage_state=server["signed_in"],
    )
    context.add_init_script(NETWORK_SWITCH)
    page = context.new_page()
    page.goto(f"{server['url']}/inbox/")
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    return page


def box(locator):
    found = locator.bounding_box()
    assert found, f"{locator} is not laid out"
    return found


def lines(locator) -> float:
    """How many lines of text an element takes."""
    return locator.evaluate(
        "el => el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight)"
    )


def no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def test_a_phone_in_portuguese_reaches_everything_and_send_stays_clear(conversa_server, browser):
    page = signed_in(browser, conversa_server, width=375, height=740, locale="pt-BR")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")
    bar = page.locator(".nav-main")
    expect(bar.get_by_role("link", name="Caixa de entrada")).to_be_visible()
    # Shown ones: Contacts sits in the bar's list for desks, hidden here (it is in "More").
    labels = bar.locator(".nav-label:visible")
    expect(labels).to_have_count(5)  # four places and "More"
    for index in range(5):
        label = labels.nth(index)
        assert lines(label) <= 2.05, label.inner_text()
        # …and whole: two lines because it fits in two, not because the rest was clipped.
        assert label.evaluate("el => el.scrollHeight - el.clientHeight") <= 1, label.inner_text()
    assert bar.evaluate("el => el.scrollWidth - el.clientWidth") <= 0
    # The list's heading on one line, inside its pane.
    heading = page.locator(".list-head h1")
    assert lines(heading) <= 1.05
    assert heading.evaluate("el => el.scrollWidth - el.clientWidth") <= 0
    assert page.locator(".list-head").evaluate("el => el.scrollWidth - el.clientWidth") <= 0
    no_sideways_scroll(page)

    # Sign-out, the language and the other places are one tap away, in "More".
    sign_out = page.get_by_role("button", name="Sair")
    expect(sign_out).to_be_hidden()
    page.get_by_role("button", name="Mais", exact=True).click()
    expect(sign_out).to_be_visible()
    expect(page.locator("#lang")).to_be_visible()
    expect(page.get_by_role("link", name="Ajustes do inbox")).to_be_visible()
    expect(page.locator("#more-menu").get_by_role("link", name="Contatos")).to_be_visible()
    expect(page.get_by_role("link", name="Configurações")).to_be_visible()
    page.screenshot(path=str(SHOTS / "phone-pt-br-more.png"))
    page.keyboard.press("Escape")
    expect(sign_out).to_be_hidden()

    # A conversation: a compact header, and Send above the bar, where a tap reaches it.
    page.locator(".conversation").first.click()
    send = page.get_by_role("button", name="Enviar", exact=True)
    expect(send).to_be_visible()
    page.screenshot(path=str(SHOTS / "phone-pt-br-thread-head.png"))
    # The state, the owner and both service-level clocks (the demo's queue has targets) with
    # their names, and the main actions: about a quarter of the screen, where it took a third.
    assert box(page.locator("#thread-head"))["height"] <= 740 * 0.27
    button = box(send)
    assert button["y"] + button["height"] <= box(page.locator(".sidebar"))["y"]
    x, y = button["x"] + button["width"] / 2, button["y"] + button["height"] / 2
    assert send.evaluate(f"el => el.contains(document.elementFromPoint({x}, {y}))")
    send.click()  # nothing typed: the form's own error, nothing sent
    expect(page.locator("#reply-error")).to_be_visible()
    no_sideways_scroll(page)
    page.screenshot(path=str(SHOTS / "phone-pt-br-thread.png"))
    page.get_by_role("button", name="Mais ações").click()
    expect(page.get_by_role("button", name="Marcar pendente")).to_be_visible()
    page.screenshot(path=str(SHOTS / "phone-pt-br-thread-actions.png"))
    page.keyboard.press("Escape")

    # The language picker in "More" works.
    page.get_by_role("button", name="Mais", exact=True).click()
    page.locator("#lang").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="More", exact=True)).to_be_visible()

    # The desk's list pane, in Portuguese: the heading whole, on one line.
    wide = signed_in(browser, conversa_server, width=1440, height=900, locale="pt-BR")
    heading = wide.locator(".list-head h1")
    expect(heading).to_have_text("Caixa de entrada")
    assert lines(heading) <= 1.05
    assert heading.evaluate("el => el.scrollWidth - el.clientWidth") <= 0
    assert wide.locator(".list-head").evaluate("el => el.scrollWidth - el.clientWidth") <= 0
    wide.screenshot(path=str(SHOTS / "inbox-1440-pt-br.png"))


def test_ticks_loading_offline_and_the_navigation_on_a_desk(conversa_server, browser):
    server = conversa_server
    page = signed_in(browser, server, width=1440, height=900)
    # Campaigns and Insights are real pages, in the navigation.
    nav = page.locator(".sidebar")
    expect(nav.get_by_role("link", name="Inbox", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Campaigns")).to_be_visible()
    expect(nav.get_by_role("link", name="Insights")).to_have_count(1)
    assert page.request.get(f"{server['url']}/insights/").status == 200
    # The favicon, served by the static files.
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    answer = page.request.get(f"{server['url']}{icon}")
    assert answer.status == 200 and answer.headers["content-type"] == "image/svg+xml"

    # The contact panel's lead: its title, then its stage's dot, name and pipeline on one line.
    page.locator(".conversation", has_text="João Pereira").click()
    stage = page.locator("#contact-panel .contact-lead-stage").first
    expect(stage).to_contain_text("Qualificado · Vendas")
    assert lines(stage) <= 1.05
    dot, name = box(stage.locator(".stage-dot")), box(stage.locator("strong"))
    assert name["y"] <= dot["y"] + dot["height"] / 2 <= name["y"] + name["height"]

    # A reply the customer read, and one only delivered: two ticks each, read in blue.
    customer = simulator_page(browser, server, viewport={"width": 420, "height": 800})
    customer.goto(f"{server['url']}/sandbox/?phone=5511955557790&name=Tiago Ramos")
    customer.get_by_placeholder("Write as the customer…").fill("Oi, vocês entregam hoje?")
    customer.get_by_role("button", name="Send").click()
    page.locator(".conversation", has_text="Tiago Ramos").click()
    expect(page.locator(".message.in").last).to_contain_text("entregam hoje")
    reply = page.get_by_placeholder("Type a reply…")
    reply.fill("Entregamos sim.")
    reply.press("Enter")
    read = page.locator(".message.out", has_text="Entregamos sim.")
    expect(read).to_have_attribute("data-status", "read")
    customer.context.close()
    reply.fill("Até as 18h.")
    reply.press("Enter")
    delivered = page.locator(".message.out", has_text="Até as 18h.")
    expect(delivered).to_have_attribute("data-status", "delivered")
    read_tick, delivered_tick = read.locator(".tick"), delivered.locator(".tick")
    for tick in (read_tick, delivered_tick):
        expect(tick.locator("svg path")).to_have_count(2)
        assert box(tick.locator("svg"))["width"] >= 18
    colour = "el => getComputedStyle(el).color"
    read_colour, delivered_colour = read_tick.evaluate(colour), delivered_tick.evaluate(colour)
    assert read_colour != delivered_colour
    r, g, b = (int(n) for n in re.findall(r"\d+", read_colour)[:3])
    assert b > r + 80 and b > g + 40, read_colour  # blue
    r, g, b = (int(n) for n in re.findall(r"\d+", delivered_colour)[:3])
    assert max(r, g, b) - min(r, g, b) < 50, delivered_colour  # grey
    page.screenshot(path=str(SHOTS / "ticks-1440.png"))

    # A slow conversation says it is loading until it lands.
    held = []
    conversation_page = re.compile(r"/inbox/c/\d+/(\?.*)?$")
    page.route(conversation_page, lambda route: held.append(route))
    other = page.locator(".conversation:not(.active)").first
    other_id = other.get_attribute("data-conversation-id")
    other.click()
    expect(page.locator("#conversation-loading")).to_be_visible()
    page.screenshot(path=str(SHOTS / "loading-1440.png"))
    held[0].continue_()
    page.unroute(conversation_page)
    expect(page.locator("#workspace")).to_have_attribute("data-conversation", other_id)
    expect(page.locator("#conversation-loading")).to_be_hidden()

    # Offline: the banner takes its own room, and a reply that cannot go says so under the
    # composer and keeps its text.
    page.locator(".conversation", has_text="Tiago Ramos").click()
    expect(page.locator(".message.out", has_text="Até as 18h.")).to_be_visible()
    go_offline(page, True)
    expect(page.locator("#socket-status")).to_be_visible()
    banner, head = box(page.locator("#socket-status")), box(page.locator("#thread-head"))
    assert banner["y"] + banner["height"] <= head["y"]
    reply.fill("Mando o link já.")
    page.get_by_role("button", name="Send", exact=True).click()
    error = page.locator("#composer .send-error")
    expect(error).to_contain_text("Not sent: there is no connection")
    expect(reply).to_have_value("Mando o link já.")
    page.screenshot(path=str(SHOTS / "offline-1440.png"))
    go_offline(page, False)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".message.out", has_text="Mando o link já.")).to_be_visible()
    expect(reply).to_have_value("")
