"""Settings → Assistant: reached from the settings menu, it says the simulator plays the model,
"Test connection" shows the simulator's answer over real HTTP and counts its tokens, and an
address on a private network is refused beside its field. Screenshots at 1440 px light and
375 px dark, in pt-BR too."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_inbox import no_horizontal_overflow, operator

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "var" / "shots"


def test_the_model_is_tested_and_a_private_address_refused(conversa_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = operator(browser, conversa_server, conversa_server["email"], path="/settings/")
    page.get_by_role("navigation", name="Settings").get_by_role(
        "link", name="Assistant", exact=True
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Assistant")
    expect(page.locator('[data-state="simulated"]')).to_contain_text("simulator plays the model")
    expect(page.locator('[data-field="effective-model"]')).to_have_text("conversa-sandbox")

    page.get_by_role("button", name="Test connection").click()
    expect(page.locator('[data-result="ok"]')).to_contain_text("You said: Reply with the word OK.")
    page.reload()
    expect(page.locator('[data-field="used-today"]')).not_to_have_text("0")
    no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "assistant-1440-light.png"), full_page=True)

    page.get_by_label("Server address (base URL)").fill("http://10.0.0.5:11434/v1")
    page.get_by_role("textbox", name="Model", exact=True).fill("llama3.1")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".model-form .field-error")).to_contain_text("private or reserved network")
    expect(page.locator('[data-state="simulated"]')).to_be_visible()  # nothing was saved

    page.get_by_label("Server address (base URL)").fill("")
    page.get_by_label("API key").fill("sk-test-key-123456")
    page.get_by_label("Daily token budget").fill("50000")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".alert.info")).to_have_text("Settings saved.")
    expect(page.locator('[data-field="key-state"]')).to_have_text("Stored")
    expect(page.get_by_label("API key")).to_have_value("")
    expect(page.locator(".model-usage")).to_contain_text("of 50000 tokens")

    page.locator("#lang").select_option("pt-br")
    expect(page.locator("html")).to_have_attribute("lang", "pt-br")
    expect(page.locator('[data-state="simulated"]')).to_contain_text("O simulador do Conversa")
    page.set_viewport_size({"width": 375, "height": 800})
    page.emulate_media(color_scheme="dark")
    no_horizontal_overflow(page)
    page.screenshot(path=str(SHOTS / "assistant-375-dark-pt.png"), full_page=True)
