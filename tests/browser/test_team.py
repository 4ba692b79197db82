"""A new install in a real Chromium: the first run creates the organization and its owner, the
owner invites a colleague, the colleague accepts and lands in the inbox; the team's pages at
1440 and 375 px, light and dark (screenshots in var/test-artifacts)."""

import os
import re
import subprocess
import sys

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, free_port
from tests.browser.server import stop
from tests.conftest import wait_for

pytestmark = pytest.mark.browser

OWNER = {"email": "dona@padaria.example", "password": "pão de queijo quentinho"}
SIZES = [("1440", 1440, 900), ("375", 375, 812)]
SCHEMES = ["light", "dark"]


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    """`conversa serve` on a migrated, empty database: no organization, no demo."""
    tmp_path = tmp_path_factory.mktemp("fresh")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "REDIS_URL": "",
        "CONVERSA_DATA_DIR": str(tmp_path),
        "CONVERSA_PUBLIC_URL": base,
        "CSRF_TRUSTED_ORIGINS": base,
        "EMAIL_HOST": "",
    }
    conversa = [sys.executable, "-m", "conversa.cli"]
    subprocess.run([*conversa, "migrate", "--noinput", "-v", "0"], env=env, check=True)
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 (closed at teardown)
    server = subprocess.Popen(
        [*conversa, "serve", "--no-worker", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def answering():
        """`conversa serve` to answer /health"""
        if server.poll() is not None:
            raise AssertionError(f"conversa serve exited with {server.returncode}")
        try:
            return httpx.get(f"{base}/health").status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(answering, timeout=60)
    yield base
    stop(server)
    log.close()


def new_page(browser, width=1280, height=860, scheme="light"):
    context = browser.new_context(
        viewport={"width": width, "height": height}, color_scheme=scheme, locale="en-US"
    )
    return context.new_page()


def shoot(browser, url: str, name: str, storage_state=None):
    for size, width, height in SIZES:
        for scheme in SCHEMES:
            context = browser.new_context(
                viewport={"width": width, "height": height},
                color_scheme=scheme,
                locale="en-US",
                storage_state=storage_state,
            )
            page = context.new_page()
            page.goto(url)
            page.screenshot(
                path=str(ARTIFACTS / f"team-{name}-{size}-{scheme}.png"), full_page=True
            )
            if size == "375":
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 0, f"{name} scrolls sideways at 375 px"
            context.close()


def test_first_run_then_an_invitation_accepted(fresh_server, browser):
    base = fresh_server
    shoot(browser, f"{base}/setup/", "setup")
    page = new_page(browser)
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/setup/$"))
    expect(page.get_by_role("heading", name="Create your organization")).to_be_visible()
    page.get_by_label("Organization name").fill("Padaria Pão Quente")
    page.get_by_label("Time zone").select_option("America/Recife")
    page.get_by_label("Your name").fill("Dona Benta")
    page.get_by_label("Your email").fill(OWNER["email"])
    page.get_by_label("Password").fill("123")
    page.get_by_role("button", name="Create organization").click()
    expect(page.locator(".field-error")).to_contain_text("too short")
    page.get_by_label("Password").fill(OWNER["password"])
    page.get_by_role("button", name="Create organization").click()
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    # The first run is over.
    assert httpx.get(f"{base}/setup/").status_code == 404

    page.goto(f"{base}/settings/members/")
    expect(page.locator("#member-rows")).to_contain_text("Dona Benta")
    page.get_by_label("Email").fill("ana@padaria.example")
    page.get_by_label("Role", exact=True).select_option("supervisor")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".invite-result")).to_contain_text("Invitation sent to ana@padaria.example")
    link = page.locator(".invite-link").input_value()
    expect(page.locator("#invitation-rows")).to_contain_text("ana@padaria.example")
    owner_state = page.context.storage_state()
    shoot(browser, f"{base}/settings/members/", "members", owner_state)
    shoot(browser, f"{base}/settings/profile/", "profile", owner_state)

    invitee = new_page(browser, 390, 844)
    invitee.goto(link)
    expect(invitee.get_by_role("heading", name="Join Padaria Pão Quente")).to_be_visible()
    invitee.screenshot(path=str(ARTIFACTS / "team-invitation-390.png"), full_page=True)
    invitee.get_by_label("Your name").fill("Ana Lima")
    invitee.get_by_label("Password").fill("um segredo bem longo")
    invitee.get_by_role("button", name="Join the team").click()
    expect(invitee).to_have_url(re.compile(r"/inbox/$"))

    page.goto(f"{base}/settings/members/")
    row = page.locator(".member-row", has_text="Ana Lima")
    expect(row).to_contain_text("Active")
    expect(row.locator("select")).to_have_value("supervisor")
    expect(page.locator("#invitation-rows")).to_have_count(0)
    # The link worked once.
    again = new_page(browser)
    again.goto(link)
    expect(again.locator(".alert.error")).to_contain_text("not valid")
    shoot(browser, f"{base}/password-reset/", "password-reset")
    shoot(browser, f"{base}/login/", "login")
