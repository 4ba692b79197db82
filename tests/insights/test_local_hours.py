"""The counts' hours are the organization's local hours, :30 and :45 time zones included; the
conversations each agent handled are counted by local day from the aggregates, equal to the
distinct conversations they replied in for any period; durations' medians and 90th
percentiles are interpolated in their buckets."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from conversa.inbox.models import Contact, Conversation, Message
from conversa.insights import aggregates, figures, periods
from conversa.insights.durations import bucket_summary
from conversa.insights.figures import Filters

IN, OUT = Message.Direction.INBOUND, Message.Direction.OUTBOUND
D = date(2026, 6, 3)  # a Wednesday


class Zoned:
    def __init__(self, org, zone: str):
        self.org, self.number = org.org, org.number
        self.org.time_zone = zone
        self.org.save(update_fields=["time_zone"])
        self.zone = ZoneInfo(zone)
        self.a, self.b = org.member(), org.member()
        self.phones = iter(range(10, 99))

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), self.zone)

    def conversation(self) -> Conversation:
        contact = Contact.objects.create(
            organization=self.org, phone=f"55119666660{next(self.phones)}", name="Cliente"
        )
        when = self.at(D - timedelta(days=3), 8)
        return Conversation.objects.create(
            organization=self.org,
            number=self.number,
            contact=contact,
            created_at=when,
            opened_at=when,
        )

    def message(self, conversation, direction, when, sender=None) -> Message:
        return Message.objects.create(
            organization=self.org,
            conversation=conversation,
            number=self.number,
            direction=direction,
            status=Message.Status.RECEIVED if direction == IN else Message.Status.SENT,
            sender=sender,
            created_at=when,
        )

    def period(self, first: date, last: date):
        return periods.local_period(self.org, first, last)


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Australia/Eucla"])
def test_a_local_midnight_between_two_messages_of_one_utc_hour(org, zone):
    """Kolkata is UTC+5:30, Eucla UTC+8:45: 23:50 and 00:10 there are 20 minutes apart within
    one UTC hour, on two local days, in two weekday rows of the heatmap."""
    z = Zoned(org, zone)
    c = z.conversation()
    late, early = z.at(D, 23, 50), z.at(D + timedelta(days=1), 0, 10)
    assert late.astimezone(UTC).hour == early.astimezone(UTC).hour
    z.message(c, IN, late)
    z.message(c, IN, early)
    both = z.period(D, D + timedelta(days=1))
    for step in ("pending", "folded", "rebuilt"):
        if step == "folded":
            aggregates.fold_all()
        elif step == "rebuilt":
            aggregates.rebuild(z.org)
        per_day = figures.messages_per_day(z.org, both.start, both.end, figures.NONE)
        assert [(row["day"], row["inbound"]) for row in per_day] == [
            (D, 1),
            (D + timedelta(days=1), 1),
        ], step
        grid = figures.heatmap(z.org, both.start, both.end, figures.NONE)
        assert grid[2][23] == 1 and grid[3][0] == 1 and sum(map(sum, grid)) == 2, step
        second = z.period(D + timedelta(days=1), D + timedelta(days=1))
        counts = figures.message_counts(z.org, second.start, second.end, figures.NONE)
        assert counts["inbound"] == 1, step


def live_handled(z: Zoned, first: date, last: date, agent=None) -> dict:
    period = z.period(first, last)
    rows = Message.objects.filter(
        organization=z.org,
        direction=OUT,
        sender__isnull=False,
        created_at__gte=period.start,
        created_at__lt=period.end,
    )
    if agent is not None:
        rows = rows.filter(sender=agent)
    found: dict = {}
    for sender, _conversation in set(rows.values_list("sender_id", "conversation_id")):
        found[sender] = found.get(sender, 0) + 1
    return found


def handled(z: Zoned, first: date, last: date, filters=figures.NONE) -> dict:
    period = z.period(first, last)
    found = figures.handled_counts(z.org, period.start, period.end, filters)
    return {agent: n for agent, n in found.items() if n}


def test_the_conversations_handled_by_local_day_equal_the_distinct_replies(org):
    """Replies across local midnights of Kolkata, written out of order, one deleted and one
    moved: every period of one to four days counts each agent's distinct conversations."""
    z = Zoned(org, "Asia/Kolkata")
    c1, c2, c3 = z.conversation(), z.conversation(), z.conversation()
    days = [D + timedelta(days=n) for n in range(4)]
    z.message(c1, OUT, z.at(days[0], 23, 50), z.a)
    z.message(c1, OUT, z.at(days[1], 0, 10), z.a)  # the same UTC hour, the next local day
    z.message(c1, OUT, z.at(days[3], 9), z.a)
    z.message(c2, OUT, z.at(days[1], 12), z.a)
    z.message(c2, OUT, z.at(days[1], 13), z.b)
    z.message(c3, OUT, z.at(days[2], 10), z.b)
    z.message(c1, OUT, z.at(days[2], 8), z.a)  # written late, between two days already there
    gone = z.message(c3, OUT, z.at(days[2], 11), z.a)
    moved = z.message(c2, OUT, z.at(days[3], 11), z.b)

    def check(step):
        for first in range(4):
            for last in range(first, 4):
                assert handled(z, days[first], days[last]) == live_handled(
                    z, days[first], days[last]
                ), (step, first, last)
        assert handled(z, days[0], days[3], Filters(agent=z.b)) == live_handled(
            z, days[0], days[3], agent=z.b
        )

    check("written")
    gone.delete()
    Message.objects.filter(pk=moved.pk).update(created_at=z.at(days[0], 22))
    check("changed")
    aggregates.fold_all()
    check("folded")
    aggregates.rebuild(z.org)
    check("rebuilt")


def test_a_new_time_zone_recounts_the_hours(org, django_capture_on_commit_callbacks):
    z = Zoned(org, "UTC")
    c = z.conversation()
    z.message(c, IN, datetime(2026, 6, 3, 18, 40, tzinfo=UTC))  # 00:10 on the 4th in Kolkata
    aggregates.fold_all()
    with django_capture_on_commit_callbacks(execute=True):
        z.org.time_zone = "Asia/Kolkata"
        z.org.save(update_fields=["time_zone"])
    fourth = z.period(D + timedelta(days=1), D + timedelta(days=1))
    assert figures.message_counts(z.org, fourth.start, fourth.end, figures.NONE)["inbound"] == 1


def test_percentiles_are_interpolated_in_their_buckets():
    # One duration alone in its bucket is exact: 900, 1800 and 19800 seconds.
    assert bucket_summary({5: [1, 900], 7: [1, 1800], 13: [1, 19800]}) == {
        "count": 3,
        "median": 1800,
        "p90": 19800,
    }
    # Ten in the 10–15 minute bucket with a mean of 12.5 minutes: spread evenly over it.
    ten = bucket_summary({4: [10, 7500]})
    assert ten["count"] == 10
    assert ten["median"] == pytest.approx(750)
    assert 810 <= ten["p90"] < 900
    # Ten with a mean near the bucket's floor stay within it, around their mean.
    low = bucket_summary({4: [10, 6100]})
    assert 600 <= low["median"] <= 620 and low["p90"] < 900
    assert bucket_summary({}) == {"count": 0, "median": None, "p90": None}
