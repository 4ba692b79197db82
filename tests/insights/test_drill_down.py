"""Every figure on the Insights page links to the list behind it, and that list holds as
many rows as the figure says: messages in and out (the whole period, each day, a number's
sent and failed), satisfaction (the rated conversations, in all and per agent) and the
conversations each agent handled; on the day of known events (test_exact_day), with and
without filters. Bad values in the new filters are refused (400), never a 500."""

import pytest

from tests.insights.test_exact_day import (
    day,  # noqa: F401  (the fixture)
    rows_behind,
)

TUESDAY = "/insights/?period=custom&start=2026-03-10&end=2026-03-10"


@pytest.fixture
def owner(day, client):  # noqa: F811
    client.force_login(day.owner.user)
    return client


def listed(client, link: str) -> int:
    """How many messages the messages list behind a figure says it holds (and shows)."""
    page = client.get(link)
    assert page.status_code == 200, link
    assert len(page.context["messages_shown"]) == page.context["count"]
    return page.context["count"]


def test_messages_in_and_out_link_to_as_many_messages(day, owner):  # noqa: F811
    page = owner.get(TUESDAY)
    cards = {card["key"]: card for card in page.context["cards"]}
    for key in ("inbound", "outbound"):
        assert cards[key]["value"] == 5
        assert listed(owner, cards[key]["link"]) == cards[key]["value"]
    (tuesday,) = page.context["bars"]["days"]
    assert listed(owner, tuesday["links"]["in"]) == tuesday["inbound"] == 5
    assert listed(owner, tuesday["links"]["out"]) == tuesday["outbound"] == 5
    (number,) = page.context["data"]["numbers"]
    assert listed(owner, number["sent_link"]) == number["sent"] == 4
    assert listed(owner, number["failed_link"]) == number["failed"] == 1
    html = page.content.decode()
    assert cards["inbound"]["link"].replace("&", "&amp;") in html


def test_each_heatmap_cell_links_to_its_messages(day, owner):  # noqa: F811
    page = owner.get(TUESDAY)
    cells = [cell for row in page.context["heat"] for cell in row["hours"]]
    assert sum(cell["count"] for cell in cells) == 5
    for cell in cells:
        if cell["count"]:
            assert listed(owner, cell["link"]) == cell["count"], cell
        else:
            assert not cell["link"]
    busy = next(cell for cell in cells if cell["count"])
    assert busy["link"].replace("&", "&amp;") in page.content.decode()


def test_a_filter_narrows_the_messages_as_the_figure(day, owner):  # noqa: F811
    page = owner.get(f"{TUESDAY}&queue={day.sales.pk}")
    cards = {card["key"]: card for card in page.context["cards"]}
    # c1 answered on Tuesday, c2 wrote twice and was answered twice.
    assert (cards["inbound"]["value"], cards["outbound"]["value"]) == (2, 3)
    assert listed(owner, cards["inbound"]["link"]) == 2
    assert listed(owner, cards["outbound"]["link"]) == 3


def test_satisfaction_links_to_the_rated_conversations(day, owner):  # noqa: F811
    page = owner.get(TUESDAY)
    csat = page.context["data"]["csat"]
    assert csat["count"] == 2
    rated = rows_behind(owner, page.context["csat_link"], "conversations")
    assert rated == {day.c1.pk, day.c2.pk}
    agents = {a["member_id"]: a for a in page.context["data"]["agents"]}
    assert rows_behind(owner, agents[day.a.pk]["csat_link"], "conversations") == {day.c1.pk}
    assert rows_behind(owner, agents[day.b.pk]["csat_link"], "conversations") == {day.c2.pk}
    # The day before had no ratings; a rating of 2 was c2's alone.
    assert rows_behind(owner, "/inbox/?tab=all&status=any&rating=2", "conversations") == {day.c2.pk}
    monday = "/inbox/?tab=all&status=any&rating=any&by=rated&since=2026-03-09&until=2026-03-09"
    assert rows_behind(owner, monday, "conversations") == set()


def test_handled_links_to_the_conversations_each_agent_replied_in(day, owner):  # noqa: F811
    page = owner.get(TUESDAY)
    agents = {a["member_id"]: a for a in page.context["data"]["agents"]}
    a, b = agents[day.a.pk], agents[day.b.pk]
    assert rows_behind(owner, a["handled_link"], "conversations") == {day.c1.pk, day.c3.pk}
    assert rows_behind(owner, b["handled_link"], "conversations") == {day.c2.pk}
    assert (a["handled"], b["handled"]) == (2, 1)
    listed_page = owner.get(a["handled_link"]).content.decode()
    assert f"Replied to by {day.a.display_name}" in listed_page


def test_an_agent_sees_their_own_messages_only(day, client):  # noqa: F811
    client.force_login(day.b.user)
    page = client.get(TUESDAY)
    cards = {card["key"]: card for card in page.context["cards"]}
    # B's conversation c2: two messages in, two out.
    assert listed(client, cards["inbound"]["link"]) == cards["inbound"]["value"] == 2
    assert listed(client, cards["outbound"]["link"]) == cards["outbound"]["value"] == 2


@pytest.mark.parametrize(
    "query",
    [
        "direction=sideways",
        "status=delivered",
        "page=0",
        "page=51",
        "page=" + "9" * 40,
        "start=2026-02-30&end=2026-03-10",
        "start=2026-03-10&end=2026-03-01",
        "start=2020-01-01&end=2026-03-10",  # more than a year
        "queue=99999999",  # another organization's, or none
        "weekday=8&hour=1",
        "weekday=1&hour=24",
        "weekday=1",
        "hour=-1",
    ],
)
def test_the_messages_list_refuses_bad_values(day, owner, query):  # noqa: F811
    answer = owner.get(f"/insights/messages/?start=2026-03-10&end=2026-03-10&{query}")
    assert answer.status_code == 400, query


@pytest.mark.parametrize("rating", ["0", "6", "good", "5" * 300])
def test_the_inbox_refuses_a_rating_it_does_not_know(day, owner, rating):  # noqa: F811
    assert owner.get(f"/inbox/?tab=all&status=any&rating={rating}").status_code == 400


def test_the_messages_list_escapes_what_customers_wrote(day, owner):  # noqa: F811
    from conversa.inbox.models import Message

    Message.objects.filter(conversation=day.c4).update(body="<script>alert(1)</script>")
    page = owner.get("/insights/messages/?start=2026-03-10&end=2026-03-10&direction=in")
    html = page.content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_reopened_and_the_response_times_counts_link_to_their_conversations(
    day,  # noqa: F811
    owner,
):
    page = owner.get(TUESDAY)
    data = page.context["data"]
    assert data["conversations"]["reopened"] == 1
    assert rows_behind(owner, page.context["reopened_link"], "conversations") == {day.c2.pk}
    links = page.context["times_links"]
    first = rows_behind(owner, links["first_response"], "conversations")
    assert len(first) == data["times"]["first_response"]["count"] == 3
    resolved = rows_behind(owner, links["resolution"], "conversations")
    assert len(resolved) == data["times"]["resolution"]["count"] == 1
    html = page.content.decode()
    assert page.context["reopened_link"].replace("&", "&amp;") in html
