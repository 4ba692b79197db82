"""The composer's 24-hour window and a held reply, as an operator sees them (issue 17): the
time left is shown and kept current (never blanked by the page's script), warns in its last
hour and says when it has closed; a reply held because its number is paused says why under
it, in words, and leaves (its reason with it) as soon as the number is resumed."""

import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_crm import number_action
from tests.browser.test_inbox import customer_writes, open_conversation, operator

pytestmark = pytest.mark.browser


def customer_wrote_ago(server, phone: str, seconds: float) -> None:
    """Move the customer's last message back in time (as if written `seconds` ago)."""
    code = (
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from conversa.inbox.models import Conversation\n"
        f"Conversation.objects.filter(contact__phone='{phone}').update("
        f"last_inbound_at=timezone.now() - timedelta(seconds={seconds}))\n"
    )
    subprocess.run(
        [sys.executable, "-m", "conversa.cli", "shell", "-c", code],
        env=server["env"],
        check=True,
    )


def test_the_window_counts_down_warns_and_closes(conversa_server, browser):
    server, phone = conversa_server, "5511955557801"
    customer_writes(browser, server, phone, "Janela Aberta", "Ainda dá tempo?")
    page = operator(browser, server, "ana@demo.local")
    open_conversation(page, "Janela Aberta", "Queue")
    line = page.locator("#composer-window")
    left = line.locator(".window-left")
    # The script's first tick has run (the workspace settled): its words, not an empty string.
    expect(left).to_have_text(re.compile(r"^23 h \d{1,2} min left$"))
    expect(line.locator(".window-warning")).to_be_hidden()
    expect(line).not_to_have_class(re.compile(r"window-ending"))

    # In its last hour the line turns into a warning.
    customer_wrote_ago(server, phone, 24 * 3600 - 40 * 60)
    page.reload()
    expect(left).to_have_text(re.compile(r"^(39|40) min left$"))
    expect(line).to_have_class(re.compile(r"window-ending"))
    expect(line.locator(".window-warning")).to_have_text(
        "Closing soon: reply while the customer is still here."
    )
    page.screenshot(path=str(ARTIFACTS / "window-ending-1440-light.png"))

    # Its last seconds: the page closes it itself, when it ends, without a reload.
    customer_wrote_ago(server, phone, 24 * 3600 - 20)
    page.reload()
    expect(line.locator(".window-label")).to_have_text("24-hour window closed")
    expect(line).to_have_class(re.compile(r"window-closed"))
    expect(left).to_have_count(0)  # the server's closed state, redrawn
    page.screenshot(path=str(ARTIFACTS / "window-closed-1440-light.png"))


def test_a_held_reply_says_why_and_goes_when_the_number_is_resumed(conversa_server, browser):
    server = conversa_server
    customer_writes(browser, server, "5511955557802", "Retida Silva", "Alô?")
    admin = operator(browser, server, "admin@demo.local")
    number_action(admin, server, "Pause")
    page = operator(browser, server, "ana@demo.local")
    open_conversation(page, "Retida Silva", "Queue")
    page.locator("#reply-body").fill("Já te respondo")
    page.get_by_role("button", name="Send").click()
    reply = page.locator(".message.out", has_text="Já te respondo")
    held = reply.locator(".message-held")
    expect(held).to_have_text(
        "Waiting to send: The number is paused. It goes out as soon as the number is resumed."
    )
    expect(reply).to_have_attribute("data-status", "pending")
    page.screenshot(path=str(ARTIFACTS / "held-reply-1440-light.png"))

    number_action(admin, server, "Resume")
    # Live, without a reload: it leaves at once (not at the Gate's next look) and says no more.
    expect(reply).not_to_have_attribute("data-status", "pending", timeout=15_000)
    expect(held).to_have_count(0)
