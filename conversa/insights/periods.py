"""The period an Insights view covers, in the organization's local days, and the previous
period of equal length it is compared with; and the filters, each an object of the caller's
organization (another's id is a 404), an agent always narrowed to their own figures."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.scoping import get_for_org_or_404
from conversa.errors import Refused
from conversa.inbox.models import Queue, Tag
from conversa.insights.figures import Filters
from conversa.numbers.models import Number

MAX_DAYS = 366
# Before any WhatsApp Business message; keeps the previous period's arithmetic on the calendar.
EARLIEST = date(2000, 1, 1)
PRESETS = {"today": 1, "7d": 7, "30d": 30}


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date  # inclusive
    start: datetime
    end: datetime  # exclusive: midnight after the last day

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def previous(self, org: Organization) -> "Period":
        last = self.first_day - timedelta(days=1)
        return local_period(org, last - timedelta(days=self.days - 1), last)


def local_period(org: Organization, first: date, last: date) -> Period:
    zone = ZoneInfo(org.time_zone)
    return Period(
        first,
        last,
        datetime.combine(first, time(), zone),
        datetime.combine(last + timedelta(days=1), time(), zone),
    )


def today(org: Organization) -> date:
    return timezone.now().astimezone(ZoneInfo(org.time_zone)).date()


def preset(org: Organization, name: str) -> Period:
    """The last N local days, today included."""
    last = today(org)
    return local_period(org, last - timedelta(days=PRESETS[name] - 1), last)


def custom(org: Organization, first: date, last: date, max_days: int = MAX_DAYS) -> Period:
    """From `first` to `last`, both included: at most `max_days` days, starting between
    EARLIEST and today."""
    if last < first:
        raise Refused(gettext("The period must end on or after the day it starts."), field="end")
    if (last - first).days + 1 > max_days:
        raise Refused(
            gettext("A period is at most %(days)d days.") % {"days": max_days}, field="end"
        )
    if first < EARLIEST:
        raise Refused(
            gettext("The period cannot start before %(day)s.") % {"day": EARLIEST.isoformat()},
            field="start",
        )
    if first > today(org):
        raise Refused(gettext("The period cannot start in the future."), field="start")
    return local_period(org, first, last)


def filters_for(
    org: Organization,
    member: Member,
    *,
    number_id: int | None = None,
    queue_id: int | None = None,
    agent_id: int | None = None,
    tag_id: int | None = None,
) -> Filters:
    """The filters from ids, each looked up in the organization; an agent sees their own."""
    agent = get_for_org_or_404(org, Member, pk=agent_id) if agent_id else None
    if not member.supervises:
        agent = member
    return Filters(
        number=get_for_org_or_404(org, Number, pk=number_id) if number_id else None,
        queue=get_for_org_or_404(org, Queue, pk=queue_id) if queue_id else None,
        agent=agent,
        tag=get_for_org_or_404(org, Tag, pk=tag_id) if tag_id else None,
    )
