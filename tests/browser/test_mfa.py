"""Two-step verification in a real Chromium against `conversa serve`: the owner sets it up by
reading the key off the page (pyotp computes the code, as an authenticator app would), signs
out, and signs in again with a code; then the security and audit log pages at 1440 and 375 px,
light and dark (screenshots in var/test-artifacts)."""

import re

import pyotp
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def next_code(secret: str) -> str:
    """The app's code for the next 30-second step (the current one was spent at set-up; a code
    one step ahead is accepted)."""
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(timezone.now()) + 1)


def sign_in_with_code(context, server, code):
    page = context.new_page()
    page.goto(f"{server['url']}/login/")
    page.get_by_label("Email").fill(server["email"])
    page.get_by_label("Password").fill(server["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/login/verify$"))
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page).to_have_url(re.compile(r"/inbox/$"))
    return page


WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll("body *")]
  .filter(e => e.getBoundingClientRect().width > window.innerWidth + 1)
  .slice(0, 5).map(e => e.tagName + "." + e.className + " " + e.getBoundingClientRect().right)"""


def no_horizontal_overflow(page):
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        (ARTIFACTS / "overflow.html").write_text(page.content())
    assert overflow <= 0, page.evaluate(WIDER_THAN_THE_SCREEN)


def test_set_up_two_step_verification_then_sign_in_with_a_code(conversa_server, browser):
    server = conversa_server
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    page = context.new_page()
    page.goto(f"{server['url']}/login/")
    page.get_by_label("Email").fill(server["email"])
    page.get_by_label("Password").fill(server["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/inbox/$"))

    page.goto(f"{server['url']}/settings/")
    page.get_by_role("link", name="Security").click()
    page.get_by_role("button", name="Set up two-step verification").click()
    expect(
        page.get_by_role("img", name="QR code to scan with your authenticator app")
    ).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")
    page.screenshot(path=str(ARTIFACTS / "mfa-enroll-1440-light.png"), full_page=True)
    page.get_by_label("Type the 6-digit code the app shows").fill("000000")
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator(".field-error")).to_contain_text("not right")
    totp = pyotp.TOTP(secret)
    page.get_by_label("Type the 6-digit code the app shows").fill(totp.now())
    page.get_by_role("button", name="Turn on").click()
    codes = page.get_by_test_id("recovery-codes").locator("li")
    expect(codes).to_have_count(10)
    recovery = [line.strip() for line in codes.all_inner_texts()]
    page.screenshot(path=str(ARTIFACTS / "mfa-recovery-codes-1440-light.png"), full_page=True)
    page.get_by_role("link", name="I have saved them").click()
    expect(page.get_by_text("10 recovery codes left.")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    # Signed out: the password alone no longer signs in.
    page.get_by_label("Email").fill(server["email"])
    page.get_by_label("Password").fill(server["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/login/verify$"))
    page.goto(f"{server['url']}/inbox/")
    expect(page).to_have_url(re.compile(r"/login/"))
    context.close()

    # A new browser: password, then the app's code; later sign-ins within the same 30 seconds
    # use recovery codes (the app's code of a step is good once).
    sign_ins = iter([next_code(secret), *recovery])
    for width, height in ((1440, 900), (375, 800)):
        for scheme in ("light", "dark"):
            context = browser.new_context(
                viewport={"width": width, "height": height}, color_scheme=scheme, locale="en-US"
            )
            page = sign_in_with_code(context, server, next(sign_ins))
            for section in ("security", "audit"):
                page.goto(f"{server['url']}/settings/{section}/")
                expect(page.locator("h1")).to_be_visible()
                no_horizontal_overflow(page)
                shot = ARTIFACTS / f"settings-{section}-{width}-{scheme}.png"
                page.screenshot(path=str(shot), full_page=True)
            expect(page.locator(".audit-table")).to_contain_text("Turned on two-step verification")
            expect(page.locator(".audit-table")).to_contain_text("Signed in")
            if scheme == "dark" and width == 375:
                expect(page.locator(".audit-table")).to_contain_text("with a recovery code")
            context.close()
