"""Running a campaign: start, add its people, pause, resume, cancel, clone, finish.

Each person in the audience becomes one CampaignRecipient, unique per (campaign, contact), and
each one who may receive it one CAMPAIGN intent keyed `campaign:<id>:contact:<id>`, unique in
the organization: a start run twice at once, a restart after a crash or a pass that adds the
people who joined the audience since never make a second intent for anyone (invariant 11).
Who may receive it is read when they are added (consent, opt-out, block, a number, the message's
variables, the 24-hour window of free text); the Gate decides again, with fresh facts, when the
intent is made and before each send, so an opt-out stored mid-campaign stops what is queued.

The pace is a slot per message per number: the n-th message of a number is due at the start
plus n / pace minutes, counted only within the campaign's dayparts, so a campaign that spans
several days resumes each morning at its pace instead of all at once.
"""

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.scoping import scoped
from conversa.accounts.services import record
from conversa.bulk import among, insert_rows
from conversa.business_hours import schedule_problems
from conversa.campaigns import audience, messages, pacing
from conversa.campaigns.models import Campaign, CampaignRecipient, ContactImport, Segment
from conversa.engine import services as engine
from conversa.engine import wakeup
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.errors import InvalidTransition, Refused
from conversa.inbox.models import Contact, Conversation, Tag
from conversa.numbers.models import Number
from conversa.parallel import in_parallel
from conversa.realtime import events, publisher

Skip = CampaignRecipient.Skip
Status = Campaign.Status
J = ExecutionJob.Status
OPEN_JOBS = [J.PENDING, J.RETRY_WAIT, J.CLAIMED, J.SENDING]
WAITING_JOBS = [J.PENDING, J.RETRY_WAIT]
WINDOW = timedelta(hours=24)
MAX_PACE = 600  # messages per minute per number
MAX_REPLY_WINDOW_HOURS = 24 * 30
MAX_AHEAD = timedelta(days=366)
MAX_SOURCES = 50
# The Draft fields that name other rows of the organization.
SOURCES = ("number_ids", "segment_ids", "tag_ids", "import_ids")
# While paused, a campaign's waiting jobs are set this far ahead: no worker claims them, and
# resuming sets each its new time.
PAUSED_UNTIL = timedelta(days=3650)


@dataclass
class Draft:
    """What a person sets on a campaign before starting it (the form's and the API's fields)."""

    name: str
    body: str = ""
    template: dict | None = None
    number_ids: tuple[int, ...] = ()
    segment_ids: tuple[int, ...] = ()
    tag_ids: tuple[int, ...] = ()
    import_ids: tuple[int, ...] = ()
    start_at: datetime | None = None
    sending_hours: dict | None = None
    pace_per_minute: int = 20
    reply_window_hours: int = 72


def owned(org: Organization, model, ids, field: str, what: str) -> list:
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_SOURCES:
        raise Refused(gettext("At most %(n)s at a time.") % {"n": MAX_SOURCES}, field=field)
    found = list(scoped(org, model).filter(pk__in=ids))
    if len(found) != len(ids):
        raise Refused(what, field=field)
    return found


def save_campaign(
    org: Organization,
    draft: Draft,
    *,
    acting_member: Member,
    campaign: Campaign | None = None,
) -> Campaign:
    """Create a draft campaign, or change one that has not started. Refuses, with the field
    and the reason: an empty or doubled message, an unknown variable, another organization's
    number, segment, tag or import, a pace, window or start time out of bounds, sending hours
    that do not parse."""
    if campaign is not None and campaign.status != Status.DRAFT:
        raise InvalidTransition(gettext("A campaign that has started can no longer be changed."))
    name = draft.name.strip()
    if not name or len(name) > 200:
        raise Refused(gettext("Give the campaign a name (up to 200 characters)."), field="name")
    messages.problems(body=draft.body, template=draft.template)
    numbers = owned(
        org, Number, draft.number_ids, "numbers", gettext("Choose numbers of this organization.")
    )
    if any(number.status == Number.Status.REMOVED for number in numbers):
        raise Refused(gettext("A removed number cannot send."), field="numbers")
    if draft.template and any(n.provider != Number.Provider.CLOUD for n in numbers):
        raise Refused(
            gettext("Templates are sent only from WhatsApp Cloud API numbers."), field="numbers"
        )
    segments = owned(org, Segment, draft.segment_ids, "segments", gettext("Unknown segment."))
    tags = owned(org, Tag, draft.tag_ids, "tags", gettext("Unknown tag."))
    imports = owned(org, ContactImport, draft.import_ids, "imports", gettext("Unknown import."))
    if not 0 <= draft.pace_per_minute <= MAX_PACE:
        raise Refused(
            gettext("The pace is 0 (as fast as allowed) to %(n)s messages a minute.")
            % {"n": MAX_PACE},
            field="pace_per_minute",
        )
    if not 1 <= draft.reply_window_hours <= MAX_REPLY_WINDOW_HOURS:
        raise Refused(
            gettext("Replies count for 1 to %(n)s hours.") % {"n": MAX_REPLY_WINDOW_HOURS},
            field="reply_window_hours",
        )
    if draft.start_at and draft.start_at > timezone.now() + MAX_AHEAD:
        raise Refused(gettext("Start within a year."), field="start_at")
    hours = draft.sending_hours or {}
    found = schedule_problems(org.time_zone, hours, [])
    if found:
        raise Refused(found[0], field="sending_hours")
    fields = {
        "name": name,
        "body": draft.body if not draft.template else "",
        "template": draft.template or None,
        "start_at": draft.start_at,
        "sending_hours": hours,
        "pace_per_minute": draft.pace_per_minute,
        "reply_window_hours": draft.reply_window_hours,
    }
    with transaction.atomic():
        if campaign is None:
            campaign = Campaign.objects.create(organization=org, created_by=acting_member, **fields)
            verb = "campaign.created"
        else:
            for key, value in fields.items():
                setattr(campaign, key, value)
            campaign.save()
            verb = "campaign.changed"
        campaign.numbers.set(numbers)
        campaign.segments.set(segments)
        campaign.tags.set(tags)
        campaign.imports.set(imports)
        record(org.pk, verb, campaign, actor=acting_member, name=name)
    return campaign


def changed(campaign: Campaign, change: str) -> None:
    """Its page redraws its status and buttons (the figures follow the messages' events); the
    `change` word is the webhooks' campaign.<change> event."""
    publisher.publish(
        campaign.organization_id, events.CampaignUpdated(campaign_ids=[campaign.pk], change=change)
    )


def has_audience(campaign: Campaign) -> bool:
    return campaign.segments.exists() or campaign.tags.exists() or campaign.imports.exists()


def start(campaign: Campaign, *, acting_member: Member | None) -> dict[str, int]:
    """Start a draft: it takes its audience now (`add_recipients`) and sends at its pace from
    its start time. Only a draft starts, by a conditional update: two starts at once run it
    once, and a finished or cancelled campaign is never run again (clone it)."""
    if campaign.status in (Status.FINISHED, Status.CANCELLED):
        raise InvalidTransition(gettext("This campaign is over: clone it to send it again."))
    if campaign.status != Status.DRAFT:
        raise InvalidTransition(gettext("This campaign has already started."))
    if not campaign.numbers.exists():
        raise Refused(gettext("Choose at least one number to send from."), field="numbers")
    if not has_audience(campaign):
        raise Refused(
            gettext("Choose who receives it: a segment, a tag or an imported list."),
            field="segments",
        )
    now = timezone.now()
    with transaction.atomic():
        moved = Campaign.objects.filter(pk=campaign.pk, status=Status.DRAFT).update(
            status=Status.RUNNING, started_at=now
        )
        if not moved:
            raise InvalidTransition(gettext("This campaign has already started."))
        record(campaign.organization_id, "campaign.started", campaign, actor=acting_member)
        changed(campaign, "started")
    campaign.status, campaign.started_at = Status.RUNNING, now
    return add_recipients(campaign)


def latest_inbound(contact_ids: list[int], numbers: list[Number], since: datetime) -> dict:
    """Contact id → the campaign number they last wrote to within the window, if any."""
    rows = (
        Conversation.objects.filter(
            contact_id__in=among(contact_ids), number__in=numbers, last_inbound_at__gte=since
        )
        .order_by("contact_id", "last_inbound_at")
        .values_list("contact_id", "number_id")
    )
    return dict(rows)  # the latest last: dict keeps the last pair per contact


def skip_reason(contact: Contact, rendered: messages.Rendered) -> str:
    if contact.blocked:
        return Skip.BLOCKED
    if contact.opted_out:
        return Skip.OPTED_OUT
    if not contact.marketing_consent:
        return Skip.NO_CONSENT
    if not contact.phone:
        return Skip.INVALID_NUMBER
    if rendered.blank:
        return Skip.BLANK_VARIABLE
    return ""


def add_recipients(campaign: Campaign) -> dict[str, int]:
    """Add the audience's people who are not recipients yet, each with a CAMPAIGN intent or a
    skip reason, in chunks of one transaction each; counts of what was added. Safe to run
    again and at the same time as another pass: the intent key is unique, and a recipient
    row another pass inserted first is left to it (INSERT … ON CONFLICT), but for the intent
    this pass may have made.

    Per chunk, with no model instance per person (a start reaches 100,000):
    1. The people's rows (`audience.people_in_chunks`), their messages and skip reasons, and
       the number and time slot of each who may receive it, in the audience's order.
    2. `write_chunk`: their intents and recipient rows, in a transaction of its own.
    On PostgreSQL, outside a caller's transaction, the chunks are written by WRITERS threads
    (`parallel.in_parallel`, a connection each) while this one prepares the next: most of a
    start is the database's work on the rows (indexes, foreign-key checks), which then runs
    on several cores, and the chunks hold different people, so they never wait on one
    another.
    """
    org = campaign.organization
    numbers = list(campaign.numbers.exclude(status=Number.Status.REMOVED).order_by("pk"))
    ids = audience.new_contact_ids(campaign)
    counts: dict[str, int] = defaultdict(int)
    if not ids or not numbers:
        return dict(counts)
    now = timezone.now()
    begin = max(campaign.start_at or now, now)
    paced = pacing.pacers(campaign, numbers, begin)
    free_text = not campaign.template
    turn = CampaignRecipient.objects.filter(campaign=campaign).count()

    def prepare(people: list) -> tuple[list[dict], list[engine.Queued]]:
        nonlocal turn
        wrote = latest_inbound([p.pk for p in people], numbers, now - WINDOW) if free_text else {}
        rows, queued = [], []
        for person in people:
            message = messages.render(campaign, person)
            reason = skip_reason(person, message)
            number_id = None
            if not reason:
                if free_text and person.pk not in wrote:
                    reason = Skip.OUTSIDE_WINDOW
                else:
                    number_id = wrote.get(person.pk) or numbers[turn % len(numbers)].pk
                    turn += 1
                    queued.append(
                        engine.Queued(
                            organization_id=org.pk,
                            contact_id=person.pk,
                            number_id=number_id,
                            body=message.body,
                            template=message.template,
                            idempotency_key=f"campaign:{campaign.pk}:contact:{person.pk}",
                            origin=MessageIntent.Origin.CAMPAIGN,
                            campaign_id=campaign.pk,
                            not_before=paced[number_id].next()
                            if campaign.pace_per_minute or begin > now
                            else None,
                        )
                    )
            rows.append(
                {
                    "organization_id": org.pk,
                    "campaign_id": campaign.pk,
                    "contact_id": person.pk,
                    "number_id": number_id,
                    "skip_reason": reason,
                    "added_at": now,
                }
            )
        return rows, queued

    prepared = (prepare(people) for people in audience.people_in_chunks(campaign, ids))
    written = in_parallel(lambda chunk: write_chunk(org, *chunk), prepared, workers=WRITERS)
    for added in written:
        for reason, n in added.items():
            counts[reason] += n
    return dict(counts)


# Chunks written at once by a start on PostgreSQL. On two cores, three beat two (the
# database's work on two chunks, and the Python of a third, each find a core) by a third
# of the start's time, and one after the other by almost half; four beat three by a few
# percent (the cores were idle an eighth of the time with three).
WRITERS = 4


def write_chunk(org: Organization, rows: list[dict], queued: list[engine.Queued]) -> dict:
    """One chunk of `add_recipients` in one transaction; counts of what was added.
    1. The intents of those who may receive it (`engine.queue_intents`: the Gate decides on
       each; none shows a message until its job sends it). A key already held means another
       pass got there first (its recipient row is committed with its intent), or an intent
       with that key came from elsewhere: a duplicate.
    2. The recipient rows, each with its intent or its skip reason, in one insert."""
    counts: dict[str, int] = defaultdict(int)
    with transaction.atomic():
        created = engine.queue_intents(org, queued)
        intents = {q.contact_id: created.get(q.idempotency_key) for q in queued}
        for row in rows:
            if row["contact_id"] in intents:
                row["intent_id"] = intents[row["contact_id"]]
                row["skip_reason"] = "" if row["intent_id"] else Skip.DUPLICATE
            else:
                row["intent_id"] = None
        # A row another pass inserted first is left to it, unless it has no intent and
        # this pass made one: that pass saw the person as skipped a moment before this one
        # saw them eligible, and the intent must not be left without its recipient.
        added = insert_rows(
            CampaignRecipient,
            rows,
            unique=["campaign", "contact"],
            adopt="intent",
            returning=("skip_reason",),
        )
    for (reason,) in added:
        counts[reason or "queued"] += 1
    return counts


def pause(campaign: Campaign, *, acting_member: Member) -> None:
    """Hold every message of the campaign not yet sending; what a worker is sending goes."""
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign.pk, status=Status.RUNNING).update(
            status=Status.PAUSED
        ):
            raise InvalidTransition(gettext("Only a campaign that is sending can be paused."))
        ExecutionJob.objects.filter(intent__campaign=campaign, status__in=WAITING_JOBS).update(
            run_after=timezone.now() + PAUSED_UNTIL
        )
        record(campaign.organization_id, "campaign.paused", campaign, actor=acting_member)
        changed(campaign, "paused")
    campaign.status = Status.PAUSED


def resume(campaign: Campaign, *, acting_member: Member) -> None:
    """Send the rest from now, at the campaign's pace and within its dayparts."""
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign.pk, status=Status.PAUSED).update(
            status=Status.RUNNING
        ):
            raise InvalidTransition(gettext("Only a paused campaign can be resumed."))
        campaign.status = Status.RUNNING
        now = timezone.now()
        waiting = list(
            ExecutionJob.objects.filter(intent__campaign=campaign, status__in=WAITING_JOBS)
            .order_by("pk")
            .only("pk", "number_id", "run_after")
        )
        tz = ZoneInfo(campaign.organization.time_zone)
        paced: dict[int, pacing.Pacer] = {}
        for job in waiting:
            if job.number_id not in paced:
                paced[job.number_id] = pacing.Pacer(
                    now, campaign.pace_per_minute, campaign.sending_hours or {}, tz
                )
            job.run_after = paced[job.number_id].next()
        ExecutionJob.objects.bulk_update(waiting, ["run_after"], batch_size=2000)
        record(campaign.organization_id, "campaign.resumed", campaign, actor=acting_member)
        changed(campaign, "resumed")
        transaction.on_commit(wakeup.notify)


def cancel(campaign: Campaign, *, acting_member: Member) -> int:
    """Stop the campaign for good: every message not yet sending is cancelled with the reason;
    what is sending goes. Returns how many were cancelled."""
    with transaction.atomic():
        if not Campaign.objects.filter(
            pk=campaign.pk, status__in=[Status.DRAFT, Status.RUNNING, Status.PAUSED]
        ).update(status=Status.CANCELLED, finished_at=timezone.now()):
            raise InvalidTransition(gettext("This campaign is already over."))
        campaign.status = Status.CANCELLED
        record(campaign.organization_id, "campaign.cancelled", campaign, actor=acting_member)
        changed(campaign, "cancelled")
    cancelled = 0
    intents = MessageIntent.objects.filter(
        campaign=campaign, job__status__in=[J.PENDING, J.RETRY_WAIT, J.CLAIMED]
    ).order_by("pk")
    while batch := list(intents[:1000]):
        done = engine.cancel_intents(batch, "campaign cancelled", acting_member=acting_member)
        cancelled += len(done)
        if not done:
            break
    return cancelled


def draft_of(campaign: Campaign) -> Draft:
    """What is set on the campaign, as a Draft to change or copy."""
    return Draft(
        name=campaign.name,
        body=campaign.body,
        template=campaign.template,
        number_ids=tuple(campaign.numbers.values_list("pk", flat=True)),
        segment_ids=tuple(campaign.segments.values_list("pk", flat=True)),
        tag_ids=tuple(campaign.tags.values_list("pk", flat=True)),
        import_ids=tuple(campaign.imports.values_list("pk", flat=True)),
        start_at=campaign.start_at,
        sending_hours=campaign.sending_hours,
        pace_per_minute=campaign.pace_per_minute,
        reply_window_hours=campaign.reply_window_hours,
    )


def clone(campaign: Campaign, *, acting_member: Member) -> Campaign:
    """A new draft with the campaign's message, audience, numbers and pace, to run again."""
    draft = replace(draft_of(campaign), name=clone_name(campaign.name), start_at=None)
    copy = save_campaign(campaign.organization, draft, acting_member=acting_member)
    Campaign.objects.filter(pk=copy.pk).update(cloned_from=campaign)
    copy.cloned_from = campaign
    return copy


def clone_name(name: str) -> str:
    return (gettext("Copy of %(name)s") % {"name": name})[:200]


def finish_if_done(campaign: Campaign) -> bool:
    """A running campaign whose every message has left or failed (none waiting, none sending)
    is finished; True when this call finished it."""
    if campaign.status != Status.RUNNING:
        return False
    if campaign.start_at and campaign.start_at > timezone.now():
        return False
    if ExecutionJob.objects.filter(intent__campaign=campaign, status__in=OPEN_JOBS).exists():
        return False
    done = Campaign.objects.filter(pk=campaign.pk, status=Status.RUNNING).update(
        status=Status.FINISHED, finished_at=timezone.now()
    )
    if done:
        campaign.status = Status.FINISHED
        record(campaign.organization_id, "campaign.finished", campaign)
        changed(campaign, "finished")
    return bool(done)


def run_due() -> int:
    """The worker's campaign pass: each sending campaign takes the people who joined its
    audience since, and is finished once nothing of it is left to send. Returns how many
    recipients it added."""
    added = 0
    running = Campaign.objects.select_related("organization").filter(status=Status.RUNNING)
    for campaign in running:
        added += sum(add_recipients(campaign).values())
        finish_if_done(campaign)
    return added


@dataclass(frozen=True)
class Preview:
    rendered: messages.Rendered
    # Why this contact would not receive it (a CampaignRecipient.Skip code), "" when they would.
    skip_reason: str


def preview(campaign: Campaign, contact: Contact) -> Preview:
    """The message `contact` would receive from the campaign, or why they would be skipped:
    what they were skipped for once they are its recipient, else what a start would find now
    (consent, opt-out, block, number, blank variables, the 24-hour window of free text)."""
    contact.organization = campaign.organization
    rendered = messages.render(campaign, contact)
    added = CampaignRecipient.objects.filter(
        organization_id=campaign.organization_id, campaign=campaign, contact=contact
    ).first()
    if added is not None:
        return Preview(rendered, added.skip_reason)
    reason = skip_reason(contact, rendered)
    if not reason and not campaign.template:
        numbers = list(campaign.numbers.exclude(status=Number.Status.REMOVED))
        if contact.pk not in latest_inbound([contact.pk], numbers, timezone.now() - WINDOW):
            reason = Skip.OUTSIDE_WINDOW
    return Preview(rendered, reason)
