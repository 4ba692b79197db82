"""Every message kind in a real Chromium, on a phone (375 px), light and dark: each is drawn
with its content, nothing overflows the screen, and the screenshots are kept in
var/test-artifacts/thread-kinds-375-*.png for a person to look at."""

import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_inbox import no_horizontal_overflow, operator

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def conversation_id(conversa_server) -> int:
    """Every kind, in the demo's first conversation of the served database."""
    script = "from tests.inbox.every_kind import create_in_demo; print(create_in_demo())"
    done = subprocess.run(
        [sys.executable, "-m", "conversa.cli", "shell", "-c", script],
        env=conversa_server["env"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_kind_on_a_phone(conversa_server, browser, conversation_id, scheme):
    page = operator(
        browser,
        conversa_server,
        "admin@demo.local",
        width=375,
        height=740,
        scheme=scheme,
        path=f"/inbox/c/{conversation_id}/",
    )
    thread = page.locator("#messages")
    expect(thread.get_by_role("link", name="Open map")).to_have_attribute(
        "href",
        "https://www.openstreetmap.org/?mlat=-23.550520&mlon=-46.633308#map=16/-23.550520/-46.633308",
    )
    for words in [
        "Chose: Entrega expressa",
        "Qual horário prefere?",
        "2 × tenis-42",
        "Unsupported message type callLogMessage",
        "This message was deleted",
        "Sent from the phone",
        "Promoção de verão",
        "Voice message",
    ]:
        expect(thread).to_contain_text(words)
    expect(thread.get_by_role("link", name="Find a conversation")).to_have_count(3)
    expect(thread.locator(".reactions li")).to_have_count(2)
    page.locator(".earlier summary").click()
    expect(page.locator(".earlier")).to_contain_text("São 2 pares")
    no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / f"thread-kinds-375-{scheme}.png"))
    # The whole thread at once: the same width, a screen as tall as the thread.
    height = page.locator("#messages-wrap").evaluate("el => el.scrollHeight")
    page.set_viewport_size({"width": 375, "height": height + 480})
    no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / f"thread-kinds-375-{scheme}-all.png"))
    # And in pieces a person can read at full size.
    for n, top in enumerate(range(0, height + 480, 700)):
        clip = {"x": 0, "y": top, "width": 375, "height": min(700, height + 480 - top)}
        page.screenshot(path=str(ARTIFACTS / f"thread-kinds-375-{scheme}-{n}.png"), clip=clip)
