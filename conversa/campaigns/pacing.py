"""A campaign's pace: a slot per message per number, counted only within its sending hours, so
a campaign spread over several days resumes each morning at its pace instead of all at once."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Max

from conversa.campaigns.models import Campaign
from conversa.engine import gate
from conversa.engine.models import MessageIntent
from conversa.numbers.models import Number


class Pacer:
    """The due time of each next message of one number: `per_minute` a minute from `start`,
    counted within `hours` (weekday → local spans; empty: any time)."""

    def __init__(self, start: datetime, per_minute: int, hours: dict, tz: ZoneInfo):
        self.at, self.hours, self.tz = start, hours, tz
        self.step = timedelta(minutes=1) / per_minute if per_minute else timedelta(0)
        self.open_until: datetime | None = None

    def next(self) -> datetime:
        if self.hours and (self.open_until is None or self.at >= self.open_until):
            self.at, self.open_until = self.period(self.at)
        due = self.at
        self.at += self.step
        return due

    def period(self, at: datetime) -> tuple[datetime, datetime]:
        opens = gate.next_sending_period(at, self.tz, self.hours)
        if opens is None:  # no allowed time at all: the Gate holds them, and says why
            return at, datetime.max.replace(tzinfo=UTC)
        local = opens.astimezone(self.tz)
        for begin, end in self.hours.get(gate.WEEKDAY_KEYS[local.weekday()], []):
            begins = datetime.combine(local.date(), time.fromisoformat(begin), tzinfo=self.tz)
            ends = datetime.combine(local.date(), time.fromisoformat(end), tzinfo=self.tz)
            if begins <= local < ends:
                return opens, ends.astimezone(UTC)
        # Inside a span that began the day before (past midnight): look again in a minute.
        return opens, opens + timedelta(minutes=1)


def pacers(campaign: Campaign, numbers: list[Number], after: datetime) -> dict[int, Pacer]:
    """One pacer per number, from the later of `after` and the slot after the number's last
    message already scheduled in this campaign (the people a later pass adds queue behind)."""
    tz = ZoneInfo(campaign.organization.time_zone)
    last = dict(
        MessageIntent.objects.filter(campaign=campaign, not_before__isnull=False)
        .values_list("number_id")
        .annotate(last=Max("not_before"))
    )
    found = {}
    for number in numbers:
        pacer = Pacer(after, campaign.pace_per_minute, campaign.sending_hours or {}, tz)
        if number.pk in last and last[number.pk] >= after:
            pacer.at = last[number.pk] + pacer.step
        found[number.pk] = pacer
    return found
