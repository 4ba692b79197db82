"""Presence and notifications in a real Chromium: the availability menu in the shell, a
customer's message in my conversation raising a browser notification and the count in the
tab's title (cleared when I open it), permission asked only from a click; the team view and
the notifications page on a phone and a wide screen, light and dark (var/test-artifacts)."""

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_inbox import customer_writes, no_horizontal_overflow, operator
from tests.conftest import wait_for

pytestmark = pytest.mark.browser

# Headless Chromium shows no notifications: this records what the page asks for, and
# answers permission as the browser does (the context's permissions decide it), or, with
# `undecided`, as a browser whose user was never asked (headless denies those outright).
RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  let undecided = %s;
  window.__notifications = [];
  window.__asked = 0;
  class Recorded {
    constructor(title, options) {
      window.__notifications.push({ title, body: (options || {}).body, tag: (options || {}).tag });
    }
    close() {}
    static get permission() { return undecided ? "default" : Real.permission; }
    static requestPermission(callback) {
      window.__asked += 1;
      undecided = false;
      const answer = Promise.resolve("granted");
      if (callback) answer.then(callback);
      return answer;
    }
  }
  window.Notification = Recorded;
})();
"""


@pytest.fixture(scope="module")
def server(conversa_server):
    return conversa_server


def operator_recording(browser, server, email, *, permissions=(), undecided=False):
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="en-US", permissions=list(permissions)
    )
    context.add_init_script(RECORD_NOTIFICATIONS % ("true" if undecided else "false"))
    page = context.new_page()
    page.goto(f"{server['url']}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(server["passwords"][email])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/inbox/"))
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    return page


def choose(page, label: str) -> None:
    """Pick `label` in the availability menu. A live refresh of the menu may land as it is
    opened: a person opens it again, and so does this."""
    menu = page.locator("#availability")
    for _ in range(3):
        if not menu.evaluate("el => el.open"):
            menu.locator("summary").click()
        try:
            menu.get_by_role("button", name=re.compile(f"^{label}")).click(timeout=3_000)
            break
        except PlaywrightTimeout:  # redrawn under the click: try again
            continue
    expect(page.locator("#availability")).to_have_attribute("data-availability", label.lower())


def title_count(page) -> int:
    found = re.match(r"^\((\d+)\) ", page.title())
    return int(found.group(1)) if found else 0


def test_a_message_in_my_conversation_notifies_me_and_counts_in_the_title(server, browser):
    ana = operator_recording(browser, server, "ana@demo.local", permissions=["notifications"])
    # Opening the app made Ana online: the menu says so.
    expect(ana.locator("#availability")).to_have_attribute("data-availability", "online")
    assert ana.evaluate("Notification.permission") == "granted"
    expect(ana.locator("#shell")).to_have_attribute("data-unread", re.compile(r"\d+"))
    before = title_count(ana)

    customer_writes(browser, server, "5531976540003", "Carla Mendes", "Alguma novidade?")
    wait_until(ana, "window.__notifications.length > 0")
    notes = ana.evaluate("window.__notifications")
    assert notes[0]["title"] == "New message in one of your conversations"
    assert "Alguma novidade" not in str(notes), "the customer's words never reach the socket"
    expect(ana).to_have_title(re.compile(r"^\(\d+\) Inbox · Conversa$"))
    assert title_count(ana) >= max(before, 1)
    counted = title_count(ana)
    assert ana.evaluate("window.__asked") == 0, "permission is asked from a click, never on load"

    ana.locator(".conversation", has_text="Carla Mendes").click()
    expect(ana.locator(".thread-title h2")).to_have_text("Carla Mendes")
    wait_until(ana, f"parseInt(document.getElementById('shell').dataset.unread) < {counted}")
    assert title_count(ana) == counted - 1


def test_permission_is_asked_from_the_menus_button(server, browser):
    bruno = operator_recording(browser, server, "bruno@demo.local", undecided=True)
    assert bruno.evaluate("Notification.permission") == "default"
    bruno.locator("#availability summary").click()
    ask = bruno.get_by_role("button", name="Turn on desktop notifications")
    expect(ask).to_be_visible()
    assert bruno.evaluate("window.__asked") == 0
    ask.click()
    wait_until(bruno, "window.__asked === 1")
    expect(ask).to_be_hidden()  # asked once: granted now, the button goes


def test_the_menu_chooses_away_and_another_tab_sees_it_live(server, browser):
    first = operator(browser, server, "bruno@demo.local")
    second = operator(browser, server, "bruno@demo.local", path="/settings/notifications/")
    expect(first.locator("#availability")).to_have_attribute("data-availability", "online")
    choose(first, "Away")
    expect(second.locator("#availability")).to_have_attribute("data-availability", "away")
    choose(second, "Online")
    expect(first.locator("#availability")).to_have_attribute("data-availability", "online")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_menu_team_view_and_notifications_page_on_a_phone_and_a_wide_screen(
    server, browser, scheme
):
    for width, height in ((1440, 900), (375, 740)):
        admin = operator(
            browser, server, "admin@demo.local", width=width, height=height, scheme=scheme
        )
        if width < 760:  # on a phone the availability is in the bottom bar's "More" menu
            admin.get_by_role("button", name="More", exact=True).click()
        admin.locator("#availability summary").click()
        expect(admin.locator("#availability .menu-body")).to_be_visible()
        no_horizontal_overflow(admin)
        admin.screenshot(path=str(ARTIFACTS / f"presence-menu-{width}-{scheme}.png"))

        admin.goto(f"{server['url']}/inbox/team")
        expect(admin.locator("#team .team-row").first).to_be_visible()
        expect(admin.locator(".queue-row", has_text="Atendimento")).to_contain_text("waiting")
        no_horizontal_overflow(admin)
        admin.screenshot(path=str(ARTIFACTS / f"team-{width}-{scheme}.png"), full_page=True)

        admin.goto(f"{server['url']}/settings/notifications/")
        expect(admin.get_by_label("Play a sound")).to_be_checked()
        no_horizontal_overflow(admin)
        admin.screenshot(
            path=str(ARTIFACTS / f"notifications-{width}-{scheme}.png"), full_page=True
        )
        admin.context.close()


def test_the_team_view_updates_live_when_someone_changes(server, browser):
    admin = operator(browser, server, "admin@demo.local", path="/inbox/team")
    row = admin.locator(".team-row", has_text="Bruno")
    expect(row).to_be_visible()
    bruno = operator(browser, server, "bruno@demo.local")
    for choice in ("Away", "Online"):
        choose(bruno, choice)
        expect(row).to_have_attribute("data-availability", choice.lower())


def wait_until(page, expression: str) -> None:
    """Wait until `expression` is true in the page. Not Playwright's wait_for_function: it
    compiles its predicate with eval, which the Content-Security-Policy refuses."""
    wait_for(lambda: page.evaluate(expression), expression)
