""" "Add number" refuses an Evolution server on a private address with a form error, in words,
in both languages and schemes, at desktop and phone widths (issue 16, problem 3)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_skeleton import sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("width", "scheme"), [(1440, "light"), (375, "dark")])
def test_a_private_evolution_server_is_a_form_error(conversa_server, browser, width, scheme):
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.emulate_media(color_scheme=scheme)
    sign_in(page, conversa_server)
    page.goto(f"{conversa_server['url']}/numbers/add")
    page.get_by_label("Name").fill("Servidor interno")
    page.get_by_role("radio", name=re.compile("^Evolution API")).check()
    page.get_by_label("Evolution server URL").fill("http://169.254.169.254/latest")
    page.get_by_label("Evolution API key").fill("a-key-that-goes-nowhere")
    page.get_by_role("button", name="Check and continue").click()
    error = page.locator(".field-error", has_text="private or reserved network")
    expect(error).to_be_visible()
    expect(page).to_have_url(re.compile(r"/numbers/add$"))
    page.screenshot(
        path=str(ARTIFACTS / f"add-number-private-{width}-{scheme}.png"), full_page=True
    )


def test_the_refusal_reads_in_portuguese(conversa_server, browser):
    page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    sign_in(page, conversa_server)
    page.locator("#lang").select_option("pt-br")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")
    page.goto(f"{conversa_server['url']}/numbers/add")
    page.locator("input[name=name]").fill("Servidor interno")
    page.locator("input[name=provider][value=evolution]").check()
    page.locator("input[name=base_url]").fill("http://10.0.0.8:8080")
    page.locator("input[name=api_key]").fill("chave")
    page.locator("form button[type=submit]").last.click()
    expect(page.locator(".field-error", has_text="rede privada ou reservada")).to_be_visible()
    page.locator("#lang").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
