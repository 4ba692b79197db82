"""The Insights page in a browser: the demo organization's figures on a desk (light) and a
phone (dark), nothing wider than the screen, a heatmap cell's count shown on focus, and a
figure's link landing on the list behind it with the same filters."""

import re

from playwright.sync_api import expect

from tests.browser.test_phone import SHOTS, signed_in


def test_insights_on_a_desk_and_a_phone(conversa_server, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    desk = signed_in(browser, conversa_server, width=1440, height=900)
    desk.get_by_role("link", name="Insights").click()
    expect(desk.get_by_role("heading", name="Insights", level=1)).to_be_visible()
    expect(desk.locator(".kpi")).to_have_count(10)
    # A cell with conversations behind it is a link (the keyboard stops on it), an empty one
    # takes the focus itself: which comes first depends on the hour the demo was loaded.
    cell = desk.locator(".heat tbody td").first
    focusable = cell.locator("a") if cell.locator("a").count() else cell
    focusable.focus()
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


def test_a_figure_opens_the_conversations_behind_it(conversa_server, browser):
    page = signed_in(browser, conversa_server, width=1280, height=900)
    page.goto(f"{conversa_server['url']}/insights/")
    page.locator(".insights-filters select[name=queue]").select_option(label="Atendimento")
    page.get_by_role("button", name="Show").click()
    # The queue's conversations opened in the week (the demo's history and today's): the
    # inbox's All tab, under the same queue and days, counts as many.
    opened = page.locator("[data-kpi=opened] .kpi-value a")
    expect(opened).to_have_text(re.compile(r"^\d+$"))
    how_many = opened.inner_text()
    opened.click()
    expect(page).to_have_url(re.compile(r"/inbox/\?.*queue=\d+.*by=opened"))
    expect(page.locator("#count-all")).to_have_text(how_many)
    expect(page.locator("select[name=queue]")).to_have_value(re.compile(r"\d+"))
    expect(page.locator("[data-window]")).to_contain_text("Opened from")

    # Open now in the queue: the demo's three live conversations, whatever the period.
    page.go_back()
    backlog = page.locator("[data-kpi=backlog] .kpi-value a")
    expect(backlog).to_have_text("3")
    backlog.click()
    rows = page.locator("#conversation-list .conversation")
    expect(rows).to_have_count(3)
    for name in ("Mariana Costa", "João Pereira", "Carla Mendes"):
        expect(rows.filter(has_text=name)).to_have_count(1)

    # A tag's open conversations: as many rows as the figure says, each carrying the tag.
    page.goto(f"{conversa_server['url']}/insights/")
    cell = page.locator("[data-block=tags] tr", has_text="Entrega").get_by_role("link").last
    count = int(cell.inner_text())
    cell.click()
    expect(rows).to_have_count(count)
    expect(page.locator("select[name=tag]")).to_have_value(re.compile(r"\d+"))


def test_satisfaction_and_messages_open_the_rows_behind_them(conversa_server, browser):
    page = signed_in(browser, conversa_server, width=375, height=800)
    page.goto(f"{conversa_server['url']}/insights/")
    # The demo's week of ratings: "N ratings, average …" opens the N rated conversations.
    ratings = page.locator("[data-kpi=csat] .kpi-delta a")
    expect(ratings).to_have_text(re.compile(r"^\d+ ratings, average \d\.\d of 5$"))
    how_many = ratings.inner_text().split(" ")[0]
    ratings.click()
    expect(page).to_have_url(re.compile(r"/inbox/\?.*rating=any.*by=rated"))
    expect(page.locator("#count-all")).to_have_text(how_many)
    expect(page.locator("[data-window]")).to_contain_text("Rated from")

    page.go_back()
    inbound = page.locator("[data-kpi=inbound] .kpi-value a")
    expect(inbound).to_have_text(re.compile(r"^\d+$"))
    how_many = inbound.inner_text()
    inbound.click()
    expect(page.get_by_role("heading", name="Messages in", level=1)).to_be_visible()
    expect(page.locator("[data-count]")).to_have_attribute("data-count", how_many)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
