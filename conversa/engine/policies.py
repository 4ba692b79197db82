"""The policies the Gate enforces, changed by people: the organization's (time zone, quiet
hours, allowed dayparts, reopen window, default quotas, the kill switch) and each number's own
(name, quotas, queue, pause).

Owners and admins only. Each change is checked whole before anything is saved, saved in one
transaction, and recorded on the audit timeline with what it was before. A change that may
let held messages leave (sending resumed, a number resumed, a policy relaxed) wakes them after
commit; every change that alters what the Gate does to a number announces the number, so its
banners (numbers page, conversations) redraw live.
"""

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from conversa import business_hours as sla
from conversa.accounts.models import (
    MAX_DAILY_QUOTA,
    MAX_HOURLY_QUOTA,
    MAX_REOPEN_WINDOW_HOURS,
    Member,
    Organization,
    time_zones,
)
from conversa.accounts.services import record, same_org
from conversa.engine import gate, wakeup
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.errors import Forbidden, Refused
from conversa.inbox import deadlines
from conversa.inbox.models import Conversation, Queue
from conversa.money import CURRENCIES
from conversa.numbers.models import Number
from conversa.realtime import events, publisher

MAX_NAME = 200


def must_administer(member: Member) -> None:
    """Refuse (403) unless `member` is an owner or admin of the organization."""
    if not member.administers:
        raise Forbidden(gettext("Only owners and admins change the organization's policies."))


@dataclass(frozen=True)
class OrganizationPolicies:
    """Everything the organization settings page and `PATCH /api/organization` change."""

    name: str
    time_zone: str
    quiet_hours_start: time | None
    quiet_hours_end: time | None
    sending_hours: dict
    reopen_window_hours: int
    default_hourly_quota: int
    default_daily_quota: int
    # The currency of the organization's deals (crm/wording.py's CURRENCIES).
    currency: str

    @classmethod
    def of(cls, org: Organization) -> "OrganizationPolicies":
        return cls(**{name: getattr(org, name) for name in cls.__dataclass_fields__})


def whole_number(value, field: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise Refused(gettext("A whole number from 0 to %(max)s.") % {"max": maximum}, field=field)
    return value


def check_policies(wanted: OrganizationPolicies) -> OrganizationPolicies:
    """`wanted`, cleaned; refused on the first field that is wrong."""
    name = " ".join(str(wanted.name).split())
    if not name or len(name) > MAX_NAME:
        raise Refused(gettext("A name is 1 to 200 characters."), field="name")
    if wanted.time_zone not in time_zones():
        raise Refused(gettext("Choose a time zone from the list."), field="time_zone")
    start, end = wanted.quiet_hours_start, wanted.quiet_hours_end
    if (start is None) != (end is None):
        raise Refused(
            gettext("Quiet hours need both a start and an end (or neither)."),
            field="quiet_hours_start" if start is None else "quiet_hours_end",
        )
    if start is not None and not (isinstance(start, time) and isinstance(end, time)):
        raise Refused(gettext("Quiet hours are times of day."), field="quiet_hours_start")
    if start is not None and start == end:
        start = end = None  # an empty window is no window
    hours = wanted.sending_hours
    problems = sla.schedule_problems("UTC", hours, [])
    if problems:
        raise Refused(problems[0], field="sending_hours")
    if hours and not any(hours.values()):
        raise Refused(
            gettext("Allow at least one period, or allow sending at any time."),
            field="sending_hours",
        )
    if wanted.currency not in CURRENCIES:
        raise Refused(gettext("Choose a currency from the list."), field="currency")
    return OrganizationPolicies(
        name=name,
        currency=wanted.currency,
        time_zone=wanted.time_zone,
        quiet_hours_start=start,
        quiet_hours_end=end,
        sending_hours=normalized_hours(hours),
        reopen_window_hours=whole_number(
            wanted.reopen_window_hours, "reopen_window_hours", MAX_REOPEN_WINDOW_HOURS
        ),
        default_hourly_quota=whole_number(
            wanted.default_hourly_quota, "default_hourly_quota", MAX_HOURLY_QUOTA
        ),
        default_daily_quota=whole_number(
            wanted.default_daily_quota, "default_daily_quota", MAX_DAILY_QUOTA
        ),
    )


def normalized_hours(hours: dict) -> dict:
    """Weekdays in order, spans sorted, times as HH:MM: the same dayparts store the same way."""
    return {
        day: sorted(
            [time.fromisoformat(a).strftime("%H:%M"), time.fromisoformat(b).strftime("%H:%M")]
            for a, b in hours[day]
        )
        for day in sla.WEEKDAYS
        if day in hours
    }


def stored(value):
    return value.strftime("%H:%M") if isinstance(value, time) else value


@transaction.atomic
def update_organization(
    org: Organization, *, acting_member: Member, wanted: OrganizationPolicies
) -> dict:
    """Change the organization's settings and policies at once, all or nothing.

    Returns what changed as {field: [before, after]} (empty: nothing, and nothing recorded);
    recorded as one `organization.settings_changed`. A new time zone recomputes the SLA due
    times (business hours are local); any change to what the Gate reads announces the
    organization's numbers and wakes its held messages after commit, so they are judged
    again by the new rules.
    """
    must_administer(acting_member)
    same_org(acting_member, org.pk)
    clean = check_policies(wanted)
    before = OrganizationPolicies.of(org)
    changes = {
        name: [stored(getattr(before, name)), stored(getattr(clean, name))]
        for name in OrganizationPolicies.__dataclass_fields__
        if getattr(before, name) != getattr(clean, name)
    }
    if not changes:
        return {}
    for name in changes:
        setattr(org, name, getattr(clean, name))
    org.save(update_fields=list(changes))
    record(org.pk, "organization.settings_changed", org, actor=acting_member, **changes)
    if "time_zone" in changes:
        deadlines.recompute(Conversation.objects.for_org(org))
    if set(changes) - {"name", "reopen_window_hours", "currency"}:
        policies_changed(org.pk)
    return changes


@transaction.atomic
def set_sending_paused(org: Organization, *, acting_member: Member, paused: bool) -> bool:
    """The kill switch: while on, the Gate lets nothing leave for the organization (each
    message waits, none is lost). Returns False when it was that already (nothing recorded).

    Recorded as `organization.sending_paused` or `organization.sending_resumed`; turning it
    off wakes the held messages at once. Every member's pages show a banner while it is on.
    """
    must_administer(acting_member)
    same_org(acting_member, org.pk)
    if not isinstance(paused, bool):
        raise Refused(gettext("Say whether sending is paused."), field="sending_paused")
    locked = Organization.objects.select_for_update().get(pk=org.pk)
    if locked.sending_paused == paused:
        org.sending_paused = paused
        return False
    Organization.objects.filter(pk=org.pk).update(sending_paused=paused)
    org.sending_paused = paused
    verb = "organization.sending_paused" if paused else "organization.sending_resumed"
    record(org.pk, verb, org, actor=acting_member)
    policies_changed(org.pk)
    return True


MAX_NUMBER_NAME = Number._meta.get_field("name").max_length


@dataclass(frozen=True)
class NumberPolicies:
    """A number's own settings: its name, quotas (0: unlimited), the queue its new
    conversations land in (None: none), and whether it is paused."""

    name: str
    hourly_quota: int
    daily_quota: int
    queue_id: int | None
    paused: bool


def first_queue_id(number: Number) -> int | None:
    """The queue a number's new conversations land in: its first by id."""
    return number.queues.order_by("pk").values_list("pk", flat=True).first()


def number_policies(number: Number) -> NumberPolicies:
    return NumberPolicies(
        name=number.name,
        hourly_quota=number.hourly_quota,
        daily_quota=number.daily_quota,
        queue_id=first_queue_id(number),
        paused=number.paused,
    )


@transaction.atomic
def update_number(number: Number, *, acting_member: Member, wanted: NumberPolicies) -> dict:
    """Change a number's name, quotas, queue and pause at once, all or nothing. Returns what
    changed as {field: [before, after]} (empty: nothing, and nothing recorded), recorded as
    `number.settings_changed`.

    The queue: the number's new conversations land in the chosen queue (it becomes the
    number's only one; conversations already open stay where they are). Resuming, or more
    quota, wakes the messages held on the number after commit.
    """
    must_administer(acting_member)
    same_org(number, acting_member.organization_id)
    if number.status == Number.Status.REMOVED:
        raise Refused(gettext("This number was removed."))
    name = " ".join(str(wanted.name).split())
    if not name or len(name) > MAX_NUMBER_NAME:
        raise Refused(
            gettext("A name is 1 to %(max)s characters.") % {"max": MAX_NUMBER_NAME},
            field="name",
        )
    hourly = whole_number(wanted.hourly_quota, "hourly_quota", MAX_HOURLY_QUOTA)
    daily = whole_number(wanted.daily_quota, "daily_quota", MAX_DAILY_QUOTA)
    if not isinstance(wanted.paused, bool):
        raise Refused(gettext("Say whether the number is paused."), field="paused")
    queue = None
    if wanted.queue_id is not None:
        queue = Queue.objects.for_org(number.organization_id).filter(pk=wanted.queue_id).first()
        if queue is None:
            raise Refused(gettext("Choose a queue of this organization."), field="queue_id")
    before = number_policies(number)
    after = NumberPolicies(name, hourly, daily, wanted.queue_id, wanted.paused)
    changes = {
        field: [getattr(before, field), getattr(after, field)]
        for field in NumberPolicies.__dataclass_fields__
        if getattr(before, field) != getattr(after, field)
    }
    if not changes:
        return {}
    columns = {f: getattr(after, f) for f in changes if f != "queue_id"}
    if columns:
        Number.objects.filter(pk=number.pk).update(**columns)
        for field, value in columns.items():
            setattr(number, field, value)
    if "queue_id" in changes:
        number.queues.set([queue] if queue else [])
    record(
        number.organization_id,
        "number.settings_changed",
        number,
        actor=acting_member,
        **changes,
    )
    publisher.publish(number.organization_id, events.NumberUpdated(number_ids=[number.pk]))
    if set(changes) & {"paused", "hourly_quota", "daily_quota"}:
        wake_held(number.organization_id, number_id=number.pk)
    return changes


def policies_changed(org_id: int) -> None:
    """Announce every number of the organization (what the Gate does to each may have
    changed: banners redraw) and wake its held messages after commit."""
    ids = list(
        Number.objects.filter(organization_id=org_id)
        .exclude(status=Number.Status.REMOVED)
        .values_list("pk", flat=True)
    )
    if ids:
        publisher.publish(org_id, events.NumberUpdated(number_ids=ids))
    wake_held(org_id)


def wake_held(org_id: int, *, number_id: int | None = None, now: datetime | None = None) -> int:
    """Messages the Gate deferred (on this number, or the organization's) go back to the
    Gate now instead of at their recheck time; a scheduled message keeps its time. The
    Gate judges each again: one still held is deferred again. Returns how many; the workers
    are woken after commit."""
    now = now or timezone.now()
    held = ExecutionJob.objects.filter(
        organization_id=org_id,
        status=ExecutionJob.Status.PENDING,
        run_after__gt=now,
        intent__status=MessageIntent.Status.DEFERRED,
    ).exclude(intent__not_before__gt=now)
    if number_id is not None:
        held = held.filter(number_id=number_id)
    woken = held.update(run_after=now)
    if woken:
        transaction.on_commit(wakeup.notify)
    return woken


@dataclass(frozen=True)
class Hold:
    """Why messages on a number are held now, in words for the conversation's banner, and
    until when if that is known (the banner redraws then)."""

    code: str
    reason: str
    until: datetime | None = None


def number_hold(number: Number, org: Organization, now: datetime | None = None) -> Hold | None:
    """What keeps messages on `number` from leaving now, if anything: the number paused,
    disconnected or removed, the kill switch, its quota, quiet hours or the allowed dayparts
    (the Gate's own checks, asked for a message no person typed, which all of them hold)."""
    now = now or timezone.now()
    if number.status != Number.Status.CONNECTED and number.status != Number.Status.REMOVED:
        label = number.status_label
        step = number.next_step
        reason = gettext("The number is not connected (%(state)s).") % {"state": label}
        return Hold("number_not_connected", f"{reason} {step}".strip())
    hourly, daily = (0, 0)
    if number.hourly_quota or number.daily_quota:
        hour, day = gate.clock_windows(now, ZoneInfo(org.time_zone))
        hourly, daily = gate.sends_in_windows(number.pk, hour, day)
    facts = gate.Facts(
        now=now,
        sending_paused=org.sending_paused,
        number_status=number.status,
        number_paused=number.paused,
        number_cooldown_until=number.cooldown_until,
        contact_blocked=False,
        contact_opted_out=False,
        time_zone=org.time_zone,
        quiet_hours_start=org.quiet_hours_start,
        quiet_hours_end=org.quiet_hours_end,
        sending_hours=org.sending_hours or None,
        sent_this_hour=hourly,
        sent_today=daily,
        hourly_quota=number.hourly_quota,
        daily_quota=number.daily_quota,
        breaker_open_until=number.breaker_open_until,
    )
    checks = [
        gate.check_kill_switch,
        gate.check_number,
        gate.check_quotas,
        gate.check_quiet_hours,
        gate.check_sending_hours,
    ]
    for check in checks:
        verdict = check(MessageIntent.Origin.AUTOMATION, facts)
        if verdict is not None:
            # A recheck time is the Gate's own rhythm, not when the hold ends: not shown.
            timed = verdict.reason_code not in ("org_paused", "number_paused")
            return Hold(
                verdict.reason_code, gettext(verdict.reason), verdict.defer_until if timed else None
            )
    return None
