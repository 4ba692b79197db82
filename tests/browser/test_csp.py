"""Under the Content-Security-Policy (no inline scripts, no eval) the main pages load without
a single violation, and what used inline handlers still works (issue 16, item 13)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_skeleton import sign_in

pytestmark = pytest.mark.browser

# Every violation the page reports, and htmx's refusals to eval, kept on window.__csp.
LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});
document.addEventListener("htmx:evalDisallowedError", function () { window.__csp.push("htmx eval"); });
"""


def watched(browser, width=1280):
    page = browser.new_context(viewport={"width": width, "height": 800}).new_page()
    page.add_init_script(LISTEN)
    console: list[str] = []
    page.on(
        "console",
        lambda m: (
            console.append(m.text)
            if re.search(r"Content.Security.Policy|Refused to|evalDisallowed", m.text)
            else None
        ),
    )
    return page, console


def violations(page, console) -> list[str]:
    return page.evaluate("window.__csp || []") + console


def test_the_policy_is_sent_without_unsafe_inline_scripts(conversa_server, browser):
    page, _ = watched(browser)
    answer = page.goto(f"{conversa_server['url']}/login/")
    policy = answer.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if " " in d.strip())
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert "'unsafe-inline'" not in directives["style-src"]
    assert re.search(r"ws://127\.0\.0\.1:\d+", directives["connect-src"])
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"

    # The policy is enforced, and the watch used below sees a violation when there is one.
    ran = page.evaluate(
        """() => { window.__ran = false; const s = document.createElement("script");
        s.textContent = "window.__ran = true"; document.body.append(s); return window.__ran; }"""
    )
    assert ran is False
    page.wait_for_function("window.__csp.length > 0")
    assert "script-src" in page.evaluate("window.__csp[0]")


def test_main_pages_report_no_violation(conversa_server, browser):
    server = conversa_server
    page, console = watched(browser)
    page.goto(f"{server['url']}/login/")
    sign_in(page, server)
    expect(page.locator("body")).to_have_attribute("data-socket", "open")
    page.locator(".conversation").first.click()
    expect(page.locator(".composer")).to_be_visible()
    # htmx triggers with a selector ("from:#search") need no eval.
    with page.expect_request(re.compile(r"/inbox/.*q=zz")):
        page.locator("#search").fill("zz")
    assert violations(page, console) == [], "inbox with a conversation"

    visited = {
        "/numbers/": ".page-head",
        "/numbers/add": "main form",
        "/pipeline/": "#board",
        "/pipeline/list": "#lead-table",
        "/automations/": "main",
        "/intents/": "#intents",
        "/settings/": "main",
    }
    for path, ready in visited.items():
        page.goto(f"{server['url']}{path}")
        expect(page.locator(ready).first).to_be_visible()
        expect(page.locator("body")).to_have_attribute("data-socket", "open")
        assert violations(page, console) == [], path

    page.goto(f"{server['url']}/pipeline/")
    with page.expect_request(re.compile(r"/pipeline/.*q=zz")):
        page.locator("input[name=q]").first.fill("zz")
    assert violations(page, console) == [], "the board's search (from:input[name=q])"

    page.goto(f"{server['url']}/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Conversa API")
    page.locator(".opblock-summary-path", has_text="/api/conversations").first.click()
    assert violations(page, console) == [], "/api/docs"


def test_the_language_menu_still_switches_without_an_inline_handler(conversa_server, browser):
    page, console = watched(browser)
    sign_in(page, conversa_server)
    page.locator("#lang").select_option("pt-br")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")
    page.locator("#lang").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert violations(page, console) == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_sandbox_page_polls_sends_and_resets_under_the_policy(conversa_server, browser, scheme):
    page, console = watched(browser, width=375)
    page.emulate_media(color_scheme=scheme)
    sign_in(page, conversa_server)  # the simulator's pages are for members
    page.goto(f"{conversa_server['url']}/sandbox/?phone=5511955557711&name=Politica")
    box = page.get_by_placeholder("Write as the customer…")
    box.fill(f"Olá em {scheme}")
    page.get_by_role("button", name="Send").first.click()
    expect(page.locator("#chat .message", has_text=f"Olá em {scheme}")).to_be_visible()
    expect(box).to_have_value("")  # data-reset-on-success, once htmx sent it well
    # The chat keeps polling (data-poll-every): a reply sent from elsewhere shows up.
    page.wait_for_event("request", lambda r: "/sandbox/chat" in r.url, timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / f"csp-sandbox-375-{scheme}.png"), full_page=True)
    assert violations(page, console) == []
