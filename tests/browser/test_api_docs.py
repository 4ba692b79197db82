"""The API's documentation renders with no internet: Swagger UI comes from our own static files."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_skeleton import sign_in

pytestmark = pytest.mark.browser


def test_api_docs_render_offline(conversa_server, browser):
    server = conversa_server
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    elsewhere = []

    def only_this_server(route):
        # Anything not served by Conversa itself (a CDN, say) is refused, as with no internet.
        if route.request.url.startswith(server["url"]):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    sign_in(page, server)
    page.goto(f"{server['url']}/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Conversa API")
    expect(
        page.locator(".opblock-summary-path", has_text="/api/conversations").first
    ).to_be_visible()
    assert elsewhere == []
