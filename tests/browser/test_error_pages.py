"""The error pages as people meet them: a 404 inside the app with its navigation and a way
back, in English and pt-BR; an agent on an owners' settings page told who can give access; a
visitor sent to sign in (issue 17, point 7)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_skeleton import sign_in

pytestmark = pytest.mark.browser

SHOTS = ARTIFACTS.parent / "shots"


def test_404_and_403_pages_lead_back(conversa_server, browser):
    server = conversa_server
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(page, server)
    answer = page.goto(f"{server['url']}/no-such-page/")
    assert answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.screenshot(path=str(SHOTS / "error-404-1440-en.png"))
    page.get_by_role("link", name="Go to the inbox").click()
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    page.wait_for_load_state("domcontentloaded")  # the language menu's script is deferred

    page.locator("#lang").select_option("pt-br")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")
    page.goto(f"{server['url']}/numbers/999999/pairing")
    expect(page.get_by_role("heading", level=1)).to_have_text("Página não encontrada")
    expect(page.get_by_role("navigation", name="Principal")).to_be_visible()
    expect(page.get_by_role("link", name="Ir para a caixa de entrada")).to_be_visible()
    page.screenshot(path=str(SHOTS / "error-404-1440-pt.png"))
    page.locator("#lang").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # An agent on an owners' and admins' page: the reason, who can help, the way back.
    for width, scheme in ((1440, "light"), (375, "dark")):
        context = browser.new_context(viewport={"width": width, "height": 800}, color_scheme=scheme)
        agent = context.new_page()
        sign_in(agent, server, "ana@demo.local")
        answer = agent.goto(f"{server['url']}/settings/members/")
        assert answer.status == 403
        expect(agent.get_by_role("heading", level=1)).to_have_text(
            "You do not have access to this page"
        )
        expect(agent.locator(".error-page")).to_contain_text("Admin Demo (Owner)")
        expect(agent.get_by_role("link", name="Go to the inbox")).to_be_visible()
        assert agent.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        agent.screenshot(path=str(SHOTS / f"error-403-{width}-{scheme}.png"))
        context.close()

    # Someone not signed in: a plain page that leads to the sign-in page.
    visitor = browser.new_context(viewport={"width": 375, "height": 740}).new_page()
    answer = visitor.goto(f"{server['url']}/no-such-page/")
    assert answer.status == 404
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(visitor.locator(".sidebar")).to_have_count(0)
    visitor.screenshot(path=str(SHOTS / "error-404-375-visitor.png"))
    visitor.get_by_role("link", name="Go to the sign-in page").click()
    expect(visitor).to_have_url(re.compile(r"/login/"))
