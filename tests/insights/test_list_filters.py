"""The filters Insights' links add to the lists behind its figures: the inbox's queue and time
window (opened, resolved, first answered), the Outgoing messages' last day, Gate decision and
reason, stopped follow-ups and due days; and bad values in them ignored, never a 500."""

import pytest

from tests.insights.test_exact_day import (
    day,  # noqa: F401  (the fixture)
    rows_behind,
)


@pytest.fixture
def owner(day, client):  # noqa: F811
    client.force_login(day.owner.user)
    return client


def test_the_inbox_by_queue_and_window(day, owner):  # noqa: F811
    inbox = "/inbox/?tab=all&status=any"
    assert rows_behind(owner, f"{inbox}&queue={day.support.pk}", "conversations") == {
        day.c3.pk,
        day.c5.pk,
    }
    window = "since=2026-03-10&until=2026-03-10"
    assert rows_behind(owner, f"{inbox}&by=opened&{window}", "conversations") == {
        day.c2.pk,
        day.c3.pk,
        day.c4.pk,
    }
    assert rows_behind(owner, f"{inbox}&by=resolved&{window}", "conversations") == {day.c1.pk}
    # Opened from Monday on: c5 (the holiday) too; until Monday only: c5 alone.
    assert day.c5.pk in rows_behind(owner, f"{inbox}&by=opened&since=2026-03-09", "conversations")
    assert rows_behind(owner, f"{inbox}&by=opened&until=2026-03-09", "conversations") == {
        day.c1.pk,
        day.c5.pk,
    }


@pytest.mark.parametrize(
    "query",
    [
        "by=opened&since=2026-02-30",  # no such day: no window
        "by=opened&until=9999-12-31",  # the calendar's last day: no end
        "by=nonsense&since=2026-03-10",  # not a window: ignored
        "queue=99999999999999999999",  # not an id
        "queue=abc&by=opened&since=0001-01-01",
    ],
)
def test_the_inbox_ignores_bad_values(day, owner, query):  # noqa: F811
    assert owner.get(f"/inbox/?tab=all&status=any&{query}").status_code == 200


def test_outgoing_messages_by_decision_and_follow_up(day, owner):  # noqa: F811
    days = "since=2026-03-10&until=2026-03-10"
    held = rows_behind(owner, f"/intents/?verdict=held&{days}", "intents")
    assert held == {day.deferred.pk, day.blocked.pk}
    assert rows_behind(owner, f"/intents/?verdict=block&reason=opted_out&{days}", "intents") == {
        day.blocked.pk
    }
    assert rows_behind(owner, "/intents/?verdict=block&since=2026-03-11", "intents") == set()
    stopped = rows_behind(owner, f"/intents/?stopped=left_stage&by=due&{days}", "intents")
    assert stopped == {day.followups["left"].intent_id}
    tomorrow = rows_behind(owner, "/intents/?by=due&since=2026-03-11", "intents")
    assert tomorrow == {day.followups["tomorrow"].intent_id}
    page = owner.get(f"/intents/?verdict=block&reason=opted_out&{days}").content.decode()
    assert "The contact opted out" in page  # the reason in words, not its code


@pytest.mark.parametrize(
    "query",
    [
        "verdict=maybe",
        "verdict=block&reason=" + "x" * 5000,
        "until=9999-12-31&since=0001-01-01",
        "stopped=" + "y" * 5000 + "&by=due",
        "number=-1&verdict=held",
    ],
)
def test_outgoing_messages_ignore_bad_values(day, owner, query):  # noqa: F811
    assert owner.get(f"/intents/?{query}").status_code == 200
