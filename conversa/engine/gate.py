"""The Gate: the one place that decides whether an intent may leave now.

`decide` is a pure function of the intent's origin and a snapshot of facts, so every rule is
testable without a database. `evaluate_many` takes the snapshots and stores the verdicts.
Later checks (the 24-hour window) are new functions in `CHECKS`.

Clock hours, days and quiet hours are the organization's, in its time zone; every
`defer_until` is an aware datetime in UTC.
"""

import math
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Max, Q
from django.utils.translation import gettext_noop

from conversa.accounts.models import Organization
from conversa.bulk import among, insert_rows
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.inbox.contacts import user_ids_of
from conversa.inbox.models import Contact, Conversation
from conversa.numbers.models import Number

ALLOW = GateDecision.Verdict.ALLOW
DEFER = GateDecision.Verdict.DEFER
BLOCK = GateDecision.Verdict.BLOCK

# How long a DEFER waits before the Gate looks again when the fact has no end time of its own.
RECHECK = timedelta(seconds=30)

# Messages the customer did not ask for: none reaches someone who opted out. The satisfaction
# survey is not marketing (it needs no marketing consent), but it is an automated message the
# customer never asked for, and "stop" means stop: it is refused as a follow-up would be. Nor
# is it exempt from quiet hours: it can wait for the morning.
UNSOLICITED_ORIGINS = {
    MessageIntent.Origin.AUTOMATION,
    MessageIntent.Origin.CAMPAIGN,
    MessageIntent.Origin.SURVEY,
}
# Traffic no person sent as it happened: when WhatsApp refused a number (it cools down), such
# a send waits for that number instead of moving to another to get around the refusal.
NO_EVASION_ORIGINS = UNSOLICITED_ORIGINS | {MessageIntent.Origin.API}
REFUSAL_HOLDS = {"number_cooldown"}
# Quiet hours hold back everything a person did not just type, or that answers what the
# customer just wrote (the confirmation of an opt-out keyword).
QUIET_EXEMPT_ORIGINS = {MessageIntent.Origin.CHAT_MANUAL, MessageIntent.Origin.CONFIRMATION}

# [start, end) in UTC.
Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class Facts:
    now: datetime
    sending_paused: bool
    number_status: str
    number_paused: bool
    number_cooldown_until: datetime | None
    contact_blocked: bool
    contact_opted_out: bool
    # The organization's clock: an IANA name, and its quiet window in local wall time.
    time_zone: str
    quiet_hours_start: time | None
    quiet_hours_end: time | None
    # Sends of the number in the current local clock hour and day (SENT, plus SENDING in
    # flight), and its quotas; a quota of 0 means unlimited.
    sent_this_hour: int
    sent_today: int
    hourly_quota: int
    daily_quota: int
    # Until when the number's circuit breaker holds sends off, if it is open.
    breaker_open_until: datetime | None = None
    # Cloud API numbers may send free-form text only within 24 hours of the contact's last
    # message to that number (docs/providers.md §A2).
    window_required: bool = False
    last_inbound_at: datetime | None = None
    # The organization's allowed dayparts (Organization.sending_hours): {} means any time.
    sending_hours: dict | None = None
    # A pre-approved template rather than free text: only Cloud API numbers can send one.
    is_template: bool = False
    templates_supported: bool = False
    # Whether the number can address the contact: by phone, or (Cloud API numbers only) by
    # the username id of a contact known by no phone.
    contact_reachable: bool = True
    # Whether the contact's latest marketing consent record is a grant (campaigns.consent);
    # without one, no campaign reaches them. False unless told: a missing fact refuses.
    contact_marketing_consent: bool = False
    # A campaign's intent: its campaign's status ("" for any other intent) and its own allowed
    # dayparts, which hold on top of the organization's.
    campaign_status: str = ""
    campaign_hours: dict | None = None


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reason_code: str = ""
    reason: str = ""
    defer_until: datetime | None = None


SERVICE_WINDOW = timedelta(hours=24)


def check_service_window(origin: str, facts: Facts) -> Verdict | None:
    if not facts.window_required:
        return None
    if facts.last_inbound_at and facts.now - facts.last_inbound_at < SERVICE_WINDOW:
        return None
    return Verdict(
        BLOCK, "outside_window", gettext_noop("Outside the 24-hour window: use a template")
    )


def check_template(origin: str, facts: Facts) -> Verdict | None:
    if facts.is_template and not facts.templates_supported:
        return Verdict(
            BLOCK,
            "template_unsupported",
            gettext_noop("Templates are sent only from WhatsApp Cloud API numbers"),
        )
    return None


def check_kill_switch(origin: str, facts: Facts) -> Verdict | None:
    if facts.sending_paused:
        return Verdict(
            DEFER,
            "org_paused",
            gettext_noop("Sending is paused for the organization"),
            facts.now + RECHECK,
        )
    return None


def check_contact(origin: str, facts: Facts) -> Verdict | None:
    if facts.contact_blocked:
        return Verdict(BLOCK, "contact_blocked", gettext_noop("The contact is blocked"))
    if not facts.contact_reachable:
        return Verdict(
            BLOCK,
            "no_phone",
            gettext_noop(
                "The contact has no phone number: only a WhatsApp Cloud API number can write "
                "to someone known by their username"
            ),
        )
    if facts.contact_opted_out and origin in UNSOLICITED_ORIGINS:
        return Verdict(
            BLOCK,
            "contact_opted_out",
            gettext_noop("The contact opted out of automated and campaign messages"),
        )
    if origin == MessageIntent.Origin.CAMPAIGN and not facts.contact_marketing_consent:
        # Whoever asked for it (a campaign, the API): marketing needs a current consent.
        return Verdict(
            BLOCK,
            "no_marketing_consent",
            gettext_noop("The contact has not agreed to marketing messages"),
        )
    return None


def check_campaign(origin: str, facts: Facts) -> Verdict | None:
    if not facts.campaign_status:
        return None
    if facts.campaign_status == "cancelled":
        return Verdict(BLOCK, "campaign_cancelled", gettext_noop("The campaign was cancelled"))
    if facts.campaign_status == "paused":
        return Verdict(
            DEFER, "campaign_paused", gettext_noop("The campaign is paused"), facts.now + RECHECK
        )
    if not facts.campaign_hours:
        return None
    opens = next_sending_period(facts.now, ZoneInfo(facts.time_zone), facts.campaign_hours)
    if opens is not None and opens <= facts.now:
        return None
    return Verdict(
        DEFER,
        "outside_campaign_hours",
        gettext_noop("Outside the campaign's sending hours"),
        opens or facts.now + timedelta(hours=1),
    )


def check_number(origin: str, facts: Facts) -> Verdict | None:
    if facts.number_status == "removed":
        return Verdict(BLOCK, "number_removed", gettext_noop("The number was removed"))
    if facts.number_paused:
        return Verdict(
            DEFER, "number_paused", gettext_noop("The number is paused"), facts.now + RECHECK
        )
    if facts.number_status != "connected":
        return Verdict(
            DEFER,
            "number_not_connected",
            gettext_noop("The number is not connected"),
            facts.now + RECHECK,
        )
    if facts.number_cooldown_until and facts.number_cooldown_until > facts.now:
        return Verdict(
            DEFER,
            "number_cooldown",
            gettext_noop("The number is cooling down"),
            facts.number_cooldown_until,
        )
    if facts.breaker_open_until and facts.breaker_open_until > facts.now:
        return Verdict(
            DEFER,
            "circuit_open",
            gettext_noop("Sends keep failing on this number: holding off until it recovers"),
            facts.breaker_open_until,
        )
    return None


def check_quotas(origin: str, facts: Facts) -> Verdict | None:
    # Daily first: when both are spent, waiting for the next hour would only defer again.
    hour, day = clock_windows(facts.now, ZoneInfo(facts.time_zone))
    if facts.daily_quota and facts.sent_today >= facts.daily_quota:
        return Verdict(
            DEFER,
            "daily_quota",
            gettext_noop("The number reached its daily sending quota"),
            day[1],
        )
    if facts.hourly_quota and facts.sent_this_hour >= facts.hourly_quota:
        return Verdict(
            DEFER,
            "hourly_quota",
            gettext_noop("The number reached its hourly sending quota"),
            hour[1],
        )
    return None


def check_quiet_hours(origin: str, facts: Facts) -> Verdict | None:
    if origin in QUIET_EXEMPT_ORIGINS:
        return None
    start, end = facts.quiet_hours_start, facts.quiet_hours_end
    tz = ZoneInfo(facts.time_zone)
    if not in_quiet_hours(facts.now.astimezone(tz).time(), start, end):
        return None
    return Verdict(
        DEFER,
        "quiet_hours",
        gettext_noop("Quiet hours: only operators' replies are sent until they end"),
        quiet_hours_end_after(facts.now, tz, start, end),
    )


def check_sending_hours(origin: str, facts: Facts) -> Verdict | None:
    """Outside the organization's allowed dayparts only what a person typed leaves; the rest
    waits for the next allowed period."""
    if origin in QUIET_EXEMPT_ORIGINS or not facts.sending_hours:
        return None
    tz = ZoneInfo(facts.time_zone)
    opens = next_sending_period(facts.now, tz, facts.sending_hours)
    if opens is not None and opens <= facts.now:
        return None
    return Verdict(
        DEFER,
        "outside_sending_hours",
        gettext_noop("Outside the allowed sending hours: only operators' replies are sent"),
        opens or facts.now + timedelta(hours=1),
    )


def next_sending_period(now: datetime, tz: ZoneInfo, hours: dict) -> datetime | None:
    """`now` when it is inside an allowed period of `hours` (weekday → local spans), else the
    start of the next one within a week; None when there is none."""
    today = now.astimezone(tz).date()
    starts = []
    for days in range(-1, 8):
        day = today + timedelta(days=days)
        for start, end in hours.get(WEEKDAY_KEYS[day.weekday()], []):
            begins = datetime.combine(day, time.fromisoformat(start), tzinfo=tz)
            ends = datetime.combine(day, time.fromisoformat(end), tzinfo=tz)
            if begins <= now < ends:
                return now
            if begins > now:
                starts.append(begins.astimezone(UTC))
    return min(starts, default=None)


WEEKDAY_KEYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


# Blocking facts first: a blocked contact must be refused, not deferred while a number is down.
CHECKS = [
    check_contact,
    check_service_window,
    check_template,
    check_kill_switch,
    check_campaign,
    check_number,
    check_quotas,
    check_quiet_hours,
    check_sending_hours,
]


def decide(origin: str, facts: Facts) -> Verdict:
    for check in CHECKS:
        verdict = check(origin, facts)
        if verdict is not None:
            return verdict
    return Verdict(ALLOW, "ok", gettext_noop("All checks passed"))


def in_quiet_hours(local: time, start: time | None, end: time | None) -> bool:
    """Whether the local wall time `local` is inside the window [start, end)."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # the window crosses midnight


def quiet_hours_end_after(now: datetime, tz: ZoneInfo, start: time, end: time) -> datetime:
    """The first instant after `now` (inside the window) at which the local clock is outside it.

    1. The clock reads `end`: the first reading of that wall time after `now`. A day on which
       DST ends may read it twice; a day on which DST starts may skip it.
    2. Unless a DST change before then moves the clock out of the window (over a skipped
       `end`, or back before `start`): then the moment of the change.
    """
    today = now.astimezone(tz).date()
    readings = []
    for days in (-1, 0, 1, 2):
        wall = datetime.combine(today + timedelta(days=days), end)
        for fold in (0, 1):
            moment = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
            # A skipped wall time comes back from UTC as another one: not a reading.
            if moment > now and moment.astimezone(tz).replace(tzinfo=None) == wall:
                readings.append(moment)
    until = min(readings)
    change = offset_change(now, until, tz)
    if change and not in_quiet_hours(change.astimezone(tz).time(), start, end):
        return change
    return until


def offset_change(after: datetime, until: datetime, tz: ZoneInfo) -> datetime | None:
    """The instant in (after, until] at which `tz` changes its UTC offset, if it does.

    Offsets change at whole seconds and at most once in the day or two this is asked about,
    so a bisection on seconds finds the change exactly.
    """
    offset = after.astimezone(tz).utcoffset()
    if until.astimezone(tz).utcoffset() == offset:
        return None
    base = after.replace(microsecond=0)
    before, changed = 0, math.ceil((until - base).total_seconds())
    while changed - before > 1:
        middle = (before + changed) // 2
        if (base + timedelta(seconds=middle)).astimezone(tz).utcoffset() == offset:
            before = middle
        else:
            changed = middle
    return base + timedelta(seconds=changed)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    # A midnight skipped by DST maps, with fold=0, to the moment of the jump: the day's start.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def clock_windows(now: datetime, tz: ZoneInfo) -> tuple[Window, Window]:
    """The current local clock hour and local day around `now`, as [start, end) in UTC."""
    local = now.astimezone(tz)
    on_the_hour = local.replace(minute=0, second=0, microsecond=0)
    # A local clock hour runs from the last time the clock showed :00 to the next (wall time,
    # in either pass of a repeated hour), an hour at most; a DST change within it ends it and
    # starts the next one (half-hour shifts such as Lord Howe's or Chatham's make hours of 30
    # or 90 minutes otherwise).
    starts = [on_the_hour.replace(fold=fold).astimezone(UTC) for fold in (0, 1)]
    hour_start = max(start for start in starts if start <= now)
    hour_start = offset_change(hour_start, now, tz) or hour_start
    next_hour = on_the_hour + timedelta(hours=1)
    ends = [next_hour.replace(fold=fold).astimezone(UTC) for fold in (0, 1)]
    hour_end = min([end for end in ends if end > now] + [hour_start + timedelta(hours=1)])
    hour_end = offset_change(now, hour_end, tz) or hour_end
    day_end = local_midnight(local.date() + timedelta(days=1), tz)
    return (
        (hour_start, hour_end),
        (local_midnight(local.date(), tz), day_end),
    )


def sends_in_windows(number_id: int, hour: Window, day: Window) -> tuple[int, int]:
    """Sends of a number in the hour and the day: SENT in the window, plus every SENDING and
    UNCERTAIN one.

    A job in flight counts already: its message may have left, and it will be SENT soon. So
    does an UNCERTAIN one (its lease ran out while sending): reconciled, it usually turns out
    SENT, and until then the quota must not hand its place to another send.
    """
    S = ExecutionJob.Status
    in_flight = Q(status__in=[S.SENDING, S.UNCERTAIN])
    in_day = Q(status=S.SENT, updated_at__gte=day[0], updated_at__lt=day[1])
    in_hour = Q(status=S.SENT, updated_at__gte=hour[0], updated_at__lt=hour[1])
    counts = ExecutionJob.objects.filter(
        in_flight | in_day | in_hour, number_id=number_id
    ).aggregate(
        hour=Count("id", filter=in_flight | in_hour),
        day=Count("id", filter=in_flight | in_day),
    )
    return counts["hour"], counts["day"]


class NumberFacts:
    """Facts about numbers read once per batch of decisions: sends per number in its current
    clock hour and day, kept up to date as the batch allows more so one batch cannot overshoot
    a quota, and when each contact last wrote to a Cloud API number."""

    def __init__(self, now: datetime):
        self.now = now
        self.counts: dict[int, tuple[int, int]] = {}
        self.inbound: dict[tuple[int, int], datetime | None] = {}
        self.user_ids: dict[int, str] = {}

    def get(self, number: Number, time_zone: str) -> tuple[int, int]:
        if not (number.hourly_quota or number.daily_quota):
            return 0, 0  # an unlimited number needs no count
        if number.pk not in self.counts:
            hour, day = clock_windows(self.now, ZoneInfo(time_zone))
            self.counts[number.pk] = sends_in_windows(number.pk, hour, day)
        return self.counts[number.pk]

    def read_inbound(self, contact_ids: set[int], numbers: list[Number]) -> None:
        """When each of these contacts last wrote to each Cloud API number among `numbers`,
        in one query for the batch."""
        windowed = [n.pk for n in numbers if n.provider == Number.Provider.CLOUD]
        if not windowed or not contact_ids:
            return
        latest = (
            Conversation.objects.filter(contact_id__in=contact_ids, number_id__in=windowed)
            .values_list("contact_id", "number_id")
            .annotate(last=Max("last_inbound_at"))
        )
        self.inbound.update({(contact, number): last for contact, number, last in latest})

    def read_user_ids(self, contacts: list) -> None:
        """The username ids of the contacts known by no phone, in one query (none when every
        contact has a phone, the usual case)."""
        self.user_ids.update(user_ids_of({c.pk for c in contacts if not c.phone}))

    def reachable(self, contact, number: Number) -> bool:
        if contact.phone:
            return True
        return number.provider == Number.Provider.CLOUD and contact.pk in self.user_ids

    def last_inbound(self, contact_id: int, number: Number) -> datetime | None:
        """When the contact last wrote to this number (for the 24-hour window)."""
        return self.inbound.get((contact_id, number.pk))

    def add(self, number: Number) -> None:
        if number.pk in self.counts:
            hour, day = self.counts[number.pk]
            self.counts[number.pk] = (hour + 1, day + 1)


@dataclass(frozen=True)
class ContactFacts:
    """What the Gate reads of a contact, read afresh for each batch of decisions."""

    pk: int
    phone: str
    blocked: bool
    opted_out: bool
    marketing_consent: bool


@dataclass(frozen=True)
class Asked:
    """One intent as the Gate reads it, with its facts read afresh: its organization, its
    contact and its campaign."""

    organization: Organization
    contact: ContactFacts
    campaign: object | None
    origin: str
    template: dict | None


def facts_for(asked: Asked, number: Number, sends: NumberFacts) -> Facts:
    org, contact, campaign = asked.organization, asked.contact, asked.campaign
    sent_this_hour, sent_today = sends.get(number, org.time_zone)
    is_cloud = number.provider == Number.Provider.CLOUD
    # A template is what may open a conversation outside the window (docs/providers.md §A2).
    window_required = is_cloud and not asked.template
    return Facts(
        now=sends.now,
        sending_paused=org.sending_paused,
        number_status=number.status,
        number_paused=number.paused,
        number_cooldown_until=number.cooldown_until,
        contact_blocked=contact.blocked,
        contact_opted_out=contact.opted_out,
        contact_marketing_consent=contact.marketing_consent,
        time_zone=org.time_zone,
        quiet_hours_start=org.quiet_hours_start,
        quiet_hours_end=org.quiet_hours_end,
        sending_hours=org.sending_hours or None,
        sent_this_hour=sent_this_hour,
        sent_today=sent_today,
        hourly_quota=number.hourly_quota,
        daily_quota=number.daily_quota,
        breaker_open_until=number.breaker_open_until,
        window_required=window_required,
        last_inbound_at=sends.last_inbound(contact.pk, number) if window_required else None,
        is_template=bool(asked.template),
        templates_supported=is_cloud,
        contact_reachable=sends.reachable(contact, number),
        campaign_status=campaign.status if campaign else "",
        campaign_hours=(campaign.sending_hours or None) if campaign else None,
    )


NO_NUMBER = Verdict(
    BLOCK, "no_number", gettext_noop("The organization has no WhatsApp number to send from")
)


# The facts that are dicts (unhashable: a new one fails Memo's key loudly), keyed by identity.
DICT_FACTS = ("sending_hours", "campaign_hours")


class Memo:
    """`decide` and `snapshot` once per distinct facts in a batch: a campaign's thousands of
    intents share a handful (consented or not, opted out or not, …), and the rules are a pure
    function of the facts."""

    def __init__(self):
        self.found: dict[tuple, tuple[Verdict, dict]] = {}
        self.last: tuple[Facts | None, tuple[Verdict, dict] | None] = (None, None)

    def decide(self, origin: str, facts: Facts) -> Verdict:
        return self.get(origin, facts)[0]

    def get(self, origin: str, facts: Facts) -> tuple[Verdict, dict]:
        """The verdict on `facts` and their snapshot (the same facts, asked again, for their
        snapshot once the number is chosen: from the last answer)."""
        if self.last[0] is facts:
            return self.last[1]
        # A dict fact (dayparts) is one object for the whole batch: its identity stands for it.
        values = vars(facts).copy()
        for name in DICT_FACTS:
            values[name] = id(values[name])
        key = (origin, *values.values())
        if key not in self.found:
            self.found[key] = (decide(origin, facts), snapshot(facts))
        self.last = (facts, self.found[key])
        return self.found[key]


def choose_number(
    intent: Asked, candidates: list[Number], sends: NumberFacts, memo: Memo | None = None
) -> tuple[Verdict, Number | None, Facts | None]:
    """The verdict for the first number that may send now; when none may, the soonest DEFER
    (or the first BLOCK), so the intent waits on the number that frees up first.

    No evasion: automated and API traffic that meets a number WhatsApp refused (cooling down)
    waits on that number; it is never handed to the next one to get around the refusal.
    Numbers that are paused or disconnected are passed over as for any send."""
    if not candidates:
        return NO_NUMBER, None, None
    judged = []
    memo = memo or Memo()
    for number in candidates:
        facts = facts_for(intent, number, sends)
        verdict = memo.decide(intent.origin, facts)
        if verdict.verdict == ALLOW:
            return verdict, number, facts
        if verdict.reason_code in REFUSAL_HOLDS and intent.origin in NO_EVASION_ORIGINS:
            return verdict, number, facts
        judged.append((verdict, number, facts))
    deferred = [entry for entry in judged if entry[0].verdict == DEFER]
    if deferred:
        return min(deferred, key=lambda entry: entry[0].defer_until)
    return judged[0]


@dataclass(frozen=True)
class Judged:
    """The Gate's verdict on one intent, not yet stored: the number it is about, and the facts
    it read (their snapshot)."""

    verdict: Verdict
    number: Number | None
    facts: dict


def evaluate_many(
    pairs: list[tuple[MessageIntent, int | None]], now: datetime, *, reserve: bool = True
) -> list[GateDecision]:
    """Decide on each (intent, number id) with fresh facts and store the decisions (invariant 6).

    A number id of None means "any number of the organization": the Gate picks the first that
    may send now, connected ones first, and its decision names the number it picked.
    Facts are read afresh in a few queries for the whole batch: the caller's objects may be
    older than the facts (a breaker that just opened, a contact who just opted out).
    With `reserve` (a batch about to send) each ALLOW takes from its number's quota for the
    rest of the batch. Without it (intents being created, whose jobs the Gate sees again when
    they run) each is decided as if alone, as one call per intent would.
    """
    judged = judge_many(pairs, now, reserve=reserve)
    rows = store([(intent.organization_id, intent.pk) for intent, _ in pairs], judged, now)
    decisions = []
    for (intent, _), entry, row in zip(pairs, judged, rows, strict=True):
        decision = GateDecision(**row)
        decision.intent, decision.number = intent, entry.number
        decisions.append(decision)
    return decisions


def judge_many(
    pairs: list[tuple[MessageIntent, int | None]], now: datetime, *, reserve: bool = True
) -> list[Judged]:
    """`evaluate_many`'s verdicts, not stored: for intents about to be inserted (a campaign's),
    whose status and job follow from the verdict. Each intent needs its organization_id,
    contact_id, origin, template and campaign_id only; the facts about them are read here, one
    query per kind of fact for the batch (contacts, organizations, campaigns, numbers, sends,
    last inbound messages)."""
    contact_rows = Contact.objects.filter(
        pk__in=among({intent.contact_id for intent, _ in pairs})
    ).values_list("pk", "phone", "blocked", "opted_out", "marketing_consent")
    contacts = {row[0]: ContactFacts(*row) for row in contact_rows}
    orgs = Organization.objects.in_bulk({intent.organization_id for intent, _ in pairs})
    campaign_ids = {intent.campaign_id for intent, _ in pairs if intent.campaign_id}
    # The campaigns app builds on the engine: its model is reached through the intent's field.
    campaign_model = MessageIntent._meta.get_field("campaign").related_model
    campaigns = campaign_model.objects.in_bulk(campaign_ids) if campaign_ids else {}
    wanted = {number_id for _, number_id in pairs if number_id}
    orgs_choosing = {intent.organization_id for intent, number_id in pairs if not number_id}
    numbers = Number.objects.filter(
        Q(pk__in=wanted) | Q(organization_id__in=orgs_choosing)
    ).in_bulk()
    lock_quota_counts(
        [pk for pk, number in numbers.items() if number.hourly_quota or number.daily_quota]
    )
    sends = NumberFacts(now)
    sends.read_inbound(set(contacts), list(numbers.values()))
    sends.read_user_ids(list(contacts.values()))
    memo = Memo()
    judged = []
    for intent, number_id in pairs:
        asked = Asked(
            organization=orgs[intent.organization_id],
            contact=contacts[intent.contact_id],
            campaign=campaigns.get(intent.campaign_id),
            origin=intent.origin,
            template=intent.template,
        )
        if number_id:
            candidates = [numbers[number_id]]
        else:
            candidates = sorted(
                (
                    n
                    for n in numbers.values()
                    if n.organization_id == intent.organization_id
                    and n.status != Number.Status.REMOVED
                ),
                key=lambda n: (n.status != Number.Status.CONNECTED, n.pk),
            )
        verdict, number, facts = choose_number(asked, candidates, sends, memo)
        if verdict.verdict == ALLOW and reserve:
            sends.add(number)
        snapped = memo.get(intent.origin, facts)[1] if facts is not None else {}
        judged.append(Judged(verdict, number, snapped))
    return judged


def store(about: list[tuple[int, int]], judged: list[Judged], now: datetime) -> list[dict]:
    """Store the verdicts on the (organization id, intent id) pairs `about` as GateDecision
    rows, in one statement (`bulk.insert_rows`, no model instance per decision): the rows
    stored, each with its "id"."""
    rows = [
        {
            "organization_id": org_id,
            "intent_id": intent_id,
            "number_id": entry.number.pk if entry.number else None,
            "verdict": entry.verdict.verdict,
            "reason_code": entry.verdict.reason_code,
            "reason": entry.verdict.reason,
            "defer_until": entry.verdict.defer_until,
            "facts": entry.facts,
            "created_at": now,
        }
        for (org_id, intent_id), entry in zip(about, judged, strict=True)
    ]
    for row, (pk,) in zip(rows, insert_rows(GateDecision, rows), strict=True):
        row["id"] = pk
    return rows


def lock_quota_counts(number_ids: list[int]) -> None:
    """Hold these numbers' rows until the caller's transaction ends, so two workers cannot both
    count the same free quota: the second counts after the first's sends are SENDING.

    PostgreSQL only (SQLite's IMMEDIATE transactions already take turns). Rows are locked in id
    order, the order every transaction that touches several numbers keeps, so none deadlock.
    """
    if not number_ids or not connection.features.has_select_for_update:
        return
    if not connection.in_atomic_block:
        return  # outside a transaction a lock would end at once: nothing to hold it for
    locked = Number.objects.select_for_update().filter(pk__in=number_ids).order_by("pk")
    list(locked.values_list("pk", flat=True))


def evaluate(intent: MessageIntent, now: datetime) -> GateDecision:
    """`evaluate_many` for one intent, on its own number (or any, when it has none)."""
    return evaluate_many([(intent, intent.number_id)], now)[0]


def snapshot(facts: Facts | None) -> dict:
    if facts is None:
        return {}
    # Facts is flat: its fields, not asdict's deep copy.
    return {
        f.name: (v.isoformat() if isinstance(v, datetime | time) else v)
        for f in fields(facts)
        for v in [getattr(facts, f.name)]
    }
