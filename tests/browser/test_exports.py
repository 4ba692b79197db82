"""An export in a real browser: from the Insights page of the demo organization, the last 30
days' messages asked for as CSV; the exports page follows it until the server's in-process
worker has written it, and the file downloads with every message of the period; the pages at
1440 px light and 375 px dark (screenshots in var/test-artifacts)."""

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_crm import no_horizontal_overflow, signed_in

pytestmark = pytest.mark.browser


def test_export_the_messages_from_insights_and_download_them(conversa_server, browser):
    server = conversa_server
    page = signed_in(browser, server)
    page.goto(f"{server['url']}/insights/?period=30d")
    form = page.locator(".export-form")
    expect(form.locator("input[name=start]")).to_have_count(1)
    form.locator("select[name=kind]").select_option("messages")
    form.locator("select[name=format]").select_option("csv")
    page.screenshot(path=str(ARTIFACTS / "insights-export-1440-light.png"))
    form.get_by_role("button", name="Export").click()

    expect(page.get_by_role("heading", name="Exports", level=1)).to_be_visible()
    row = page.locator("tr[id^=export-]").first
    expect(row).to_have_attribute("data-status", "done", timeout=60_000)
    expect(row).to_contain_text("Messages")
    page.screenshot(path=str(ARTIFACTS / "exports-1440-light.png"), full_page=True)
    with page.expect_download() as download:
        row.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename.startswith("messages-")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["Message", "Conversation", "Direction"]
    assert len(rows) > 1  # the demo's conversations have messages in the last 30 days
    assert {r[2] for r in rows[1:]} <= {"In", "Out"}

    phone = signed_in(browser, server, width=375, height=800, scheme="dark")
    phone.goto(f"{server['url']}/exports/")
    expect(phone.locator("tr[id^=export-]").first).to_have_attribute("data-status", "done")
    no_horizontal_overflow(phone)
    phone.screenshot(path=str(ARTIFACTS / "exports-375-dark.png"), full_page=True)
    phone.goto(f"{server['url']}/insights/")
    no_horizontal_overflow(phone)
