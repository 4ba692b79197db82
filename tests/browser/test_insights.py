"""The Insights page in a browser: the demo organization's figures on a desk (light) and a
phone (dark), nothing wider than the screen, a heatmap cell's count shown on focus."""

from playwright.sync_api import expect

from tests.browser.test_phone import SHOTS, signed_in


def test_insights_on_a_desk_and_a_phone(conversa_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    desk = signed_in(browser, conversa_server, width=1440, height=900)
    desk.get_by_role("link", name="Insights").click()
    expect(desk.get_by_role("heading", name="Insights", level=1)).to_be_visible()
    expect(desk.locator(".kpi")).to_have_count(8)
    cell = desk.locator(".heat tbody td").first
    cell.focus()
    expect(cell.locator("span")).to_have_css("opacity", "1")
    desk.screenshot(path=str(SHOTS / "insights-1440-light.png"), full_page=True)

    phone = signed_in(browser, conversa_server, width=375, height=800, scheme="dark")
    phone.goto(f"{conversa_server['url']}/insights/?period=30d")
    expect(phone.get_by_role("heading", name="Insights", level=1)).to_be_visible()
    phone.screenshot(path=str(SHOTS / "insights-375-dark.png"), full_page=True)
    phone.screenshot(path=str(SHOTS / "insights-375-dark-top.png"))
    phone.locator(".heat").scroll_into_view_if_needed()
    phone.screenshot(path=str(SHOTS / "insights-375-dark-heat.png"))
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
