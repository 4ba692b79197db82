"""Follow-ups: the steps of automations scheduled when a lead enters a stage, stopped when the
contact replies, the lead leaves the stage or the contact opts out, and made runnable at once
by a dispatch.

Nothing here sends. Each step is one MessageIntent (origin AUTOMATION) made through
`engine.create_intents` with `not_before` = its due time: the engine's workers claim its job
when it is due, the Gate decides again then (consent, opt-out, window, quotas), and the one
send path sends it. A cancellation goes through `engine.cancel_intents`.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import Count, Min, OuterRef, Q, Subquery
from django.utils import timezone

from conversa.accounts.models import Member, OperationalEvent, Organization
from conversa.accounts.services import event, record
from conversa.business_hours import add_business_time
from conversa.crm import metrics
from conversa.crm.models import Automation, AutomationStep, FollowUp, Lead, StageChange
from conversa.engine import services as engine
from conversa.engine import wakeup
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.inbox.models import Contact
from conversa.realtime import events, publisher

J = ExecutionJob.Status
I = MessageIntent.Status  # noqa: E741
Reason = FollowUp.CancelReason

# An intent in one of these has not been sent, blocked or failed: its follow-up may still go.
OPEN_INTENT = [I.SCHEDULED, I.QUEUED, I.DEFERRED]


def followup_key(change: StageChange, automation: Automation, step: AutomationStep) -> str:
    """The idempotency key of one step for one stage entry:
    `org:lead:stage:automation:step:<stage change id>`.

    The last part is the stage-entry epoch, the id of the StageChange that recorded the entry.
    A retry of the same move (the scheduling run again for the same StageChange, or raced by
    another process) builds the same key, so the database's unique (organization, key) refuses
    the second intent: each step exists once. A genuine later move into the same stage is a new
    StageChange with a new id, so its steps get new keys and fire again. A key made of the
    clock instead would make a retry a second send; a key without the epoch would make a
    re-entry send nothing.
    """
    lead = change.lead
    return f"{lead.organization_id}:{lead.pk}:{change.to_stage_id}:{automation.pk}:{step.pk}:{change.pk}"


def matching_automations(lead: Lead, stage_id: int) -> list[Automation]:
    """The active automations of `stage_id` whose filters the lead meets (its contact has the
    automation's tag; its owner is the automation's owner), with their steps."""
    tags = lead.contact.tags.values("pk")
    return list(
        Automation.objects.filter(organization_id=lead.organization_id, stage_id=stage_id)
        .filter(active=True)
        .filter(Q(tag__isnull=True) | Q(tag__in=tags))
        .filter(Q(owner__isnull=True) | Q(owner_id=lead.owner_id))
        .prefetch_related("steps")
        .order_by("id")
    )


def due_times(entered_at: datetime, steps: list[AutomationStep], schedule) -> list[datetime]:
    """When each step is due: its delay after the previous step's due time (the first: after
    the stage entry), moved to the next business-hours slot when the step asks for it (kept
    as it is when the schedule has no opening within a year)."""
    due, found = entered_at, []
    for step in steps:
        due = due + step.wait
        if step.business_hours:
            due = add_business_time(due, 0, schedule) or due
        found.append(due)
    return found


def schedule(change: StageChange) -> list[FollowUp]:
    """Schedule every matching automation's steps for this stage entry; the follow-ups made.

    Call inside the transaction that recorded `change` (`services.move_lead` does). Each step
    is one intent keyed by `followup_key`, all of the entry's made together through
    `engine.create_intents` (one insert, one Gate call), and their follow-ups in one insert:
    run twice for the same change, the second run makes nothing (each refusal is counted as
    duplicate-blocked and recorded on the lead's timeline). Messages are rendered now, with
    the lead as it is at the entry. An opted-out contact's steps are BLOCKED by the Gate at
    once, with its reason: nothing will be sent.
    """
    lead = change.lead
    automations = matching_automations(lead, change.to_stage_id)
    if not automations:
        return []
    org = lead.organization
    planned, specs = [], []
    for automation in automations:
        steps = sorted(automation.steps.all(), key=lambda step: step.position)
        sla = org.sla_schedule() if any(step.business_hours for step in steps) else None
        for step, due in zip(steps, due_times(change.created_at, steps, sla), strict=True):
            planned.append((automation, step, due))
            specs.append(
                engine.IntentSpec(
                    contact=lead.contact,
                    body=AutomationStep.render(step.template, lead),
                    origin=MessageIntent.Origin.AUTOMATION,
                    idempotency_key=followup_key(change, automation, step),
                    number=automation.number,
                    not_before=due,
                )
            )
    made, refused = [], []
    results = engine.create_intents(org, specs)
    for (automation, step, due), (intent, created) in zip(planned, results, strict=True):
        if not created:
            refused.append(
                event(
                    org.id,
                    "followup.duplicate_blocked",
                    lead,
                    automation=automation.pk,
                    intent=intent.pk,
                    key=intent.idempotency_key,
                )
            )
            continue
        made.append(
            FollowUp(
                organization=org,
                lead=lead,
                contact=lead.contact,
                stage_change=change,
                automation=automation,
                step=step,
                position=step.position,
                intent=intent,
                due_at=due,
            )
        )
    if refused:
        OperationalEvent.objects.bulk_create(refused)
        metrics.followups_duplicate_blocked.inc(len(refused))
    FollowUp.objects.bulk_create(made)
    metrics.followups_scheduled.inc(len(made))
    announce(made)
    return made


def announce(follow_ups: list[FollowUp]) -> None:
    """Tell each organization's pages whose leads' follow-ups changed (ids only)."""
    leads: dict[int, set[int]] = {}
    for f in follow_ups:
        leads.setdefault(f.organization_id, set()).add(f.lead_id)
    for org_id, lead_ids in leads.items():
        publisher.publish(org_id, events.FollowupsUpdated(lead_ids=sorted(lead_ids)))


def pending():
    """Follow-ups that may still be sent: not cancelled, their intent not settled."""
    return FollowUp.objects.filter(cancelled_at__isnull=True, intent__status__in=OPEN_INTENT)


def schedules(automation_ids: list[int]) -> dict[int, tuple[int, datetime | None]]:
    """Automation id → (its steps still to go, the next one's due time), in one query."""
    rows = (
        pending()
        .filter(automation_id__in=automation_ids)
        .values("automation_id")
        .annotate(n=Count("id"), next=Min("due_at"))
        .order_by()  # grouped by automation only, not by the model's ordering too
    )
    return {row["automation_id"]: (row["n"], row["next"]) for row in rows}


def cancel(follow_ups: list[FollowUp], reason: str, *, acting_member: Member | None = None) -> int:
    """Cancel these follow-ups' sends through the engine (`cancel_intents`), with `reason` (a
    `FollowUp.CancelReason`) recorded on each and on its lead's timeline. One whose job has
    started sending is not undone and not marked. Returns how many were cancelled."""
    if not follow_ups:
        return 0
    label = FollowUp.CancelReason(reason).label
    with transaction.atomic():
        intents = engine.cancel_intents(
            [f.intent for f in follow_ups], f"cancelled: {label}", acting_member=acting_member
        )
        stopped = {intent.pk for intent in intents}
        mine = [f for f in follow_ups if f.intent_id in stopped]
        if not mine:
            return 0
        now = timezone.now()
        FollowUp.objects.filter(pk__in=[f.pk for f in mine]).update(
            cancelled_at=now, cancel_reason=reason
        )
        for f in mine:
            f.cancelled_at, f.cancel_reason = now, reason
        OperationalEvent.objects.bulk_create(
            event(
                f.organization_id,
                "followup.cancelled",
                f.lead,
                actor=acting_member,
                follow_up=f.pk,
                position=f.position,
                reason=reason,
            )
            for f in mine
        )
        announce(mine)
    metrics.followups_cancelled.labels(reason).inc(len(mine))
    return len(mine)


def stop_for_contacts(contact_ids, reason: str) -> int:
    """Cancel the pending follow-ups of these contacts: one query when there are none (the
    inbound path calls this for every message and every batch)."""
    if not contact_ids:
        return 0
    found = list(
        pending().filter(contact_id__in=list(contact_ids)).select_related("intent", "lead")
    )
    return cancel(found, reason)


def contact_replied(contact_ids) -> int:
    """Stop condition: a contact wrote to the organization."""
    return stop_for_contacts(contact_ids, Reason.CONTACT_REPLIED)


def contact_opted_out(contact_ids) -> int:
    """Stop condition: a contact opted out (the Gate also blocks any send to them)."""
    return stop_for_contacts(contact_ids, Reason.OPTED_OUT)


# Why an opt-out cancelled a message, in English as stored reasons are: pages translate it.
OPTED_OUT = "cancelled: opted out"


@transaction.atomic
def set_opted_out(
    contact: Contact,
    opted_out: bool = True,
    *,
    acting_member: Member | None = None,
    reason: str = "",
) -> bool:
    """Record that the contact opted out of automated and campaign messages (or back in),
    audited with `reason` (what a member wrote, the keyword the customer sent, WhatsApp's
    preference). Returns False when nothing changed. Opting out cancels their pending
    follow-ups ("opted out") and every other automated or campaign message to them not yet
    sending; from then on the Gate blocks every AUTOMATION and CAMPAIGN send to them."""
    if (
        not Contact.objects.filter(pk=contact.pk)
        .exclude(opted_out=opted_out)
        .update(opted_out=opted_out)
    ):
        return False
    contact.opted_out = opted_out
    record(
        contact.organization_id,
        "contact.opted_out" if opted_out else "contact.opted_in",
        contact,
        actor=acting_member,
        **({"reason": reason} if reason else {}),
    )
    if opted_out:
        contact_opted_out([contact.pk])
        unsolicited = MessageIntent.objects.filter(
            contact=contact,
            origin__in=[MessageIntent.Origin.AUTOMATION, MessageIntent.Origin.CAMPAIGN],
            status__in=OPEN_INTENT,
        )
        engine.cancel_intents(list(unsolicited), OPTED_OUT, acting_member=acting_member)
    change = "opted_out" if opted_out else "opted_in"
    publisher.publish(
        contact.organization_id, events.ContactUpdated(contact_ids=[contact.pk], change=change)
    )
    return True


def automation_stopped(
    automation: Automation, reason: str, *, acting_member: Member | None = None
) -> int:
    """A paused or deleted automation's pending steps are cancelled: it sends nothing more."""
    found = list(pending().filter(automation=automation).select_related("intent", "lead"))
    return cancel(found, reason, acting_member=acting_member)


def dispatch_due(org: Organization | None, now: datetime | None = None) -> dict:
    """Make every due follow-up runnable now; the counts, and the progress so far.

    The one service behind the "Dispatch now" button and `POST /api/internal/follow-ups/
    dispatch` (`org` None: every organization). It never sends: it moves the `run_after` of
    due steps' PENDING jobs that wait for later (a DEFER of the Gate: quiet hours, a number
    down, a quota) to now, and wakes the workers; the engine's claim, lease and reaper send
    each job once, and the Gate decides again for each. Two dispatches at once both write the
    same `run_after`, and nothing more: they cannot send anything twice.

    Returns {"at", "made_runnable", "queued", "progress"}: `at` is what `dispatch_progress`
    takes to follow this dispatch; `queued` counts the due steps now waiting for a worker.
    """
    now = now or timezone.now()
    due = FollowUp.objects.filter(cancelled_at__isnull=True, due_at__lte=now)
    if org is not None:
        due = due.filter(organization=org)
    jobs = ExecutionJob.objects.filter(intent__follow_up__in=due)
    with transaction.atomic():
        made_runnable = jobs.filter(status=J.PENDING, run_after__gt=now).update(run_after=now)
        transaction.on_commit(wakeup.notify)
    metrics.followups_made_runnable.inc(made_runnable)
    queued = jobs.filter(status__in=[J.PENDING, J.RETRY_WAIT], run_after__lte=now).count()
    return {
        "at": now,
        "made_runnable": made_runnable,
        "queued": queued,
        "progress": dispatch_progress(org, now) if org is not None else None,
    }


def dispatch_progress(org: Organization, since: datetime) -> dict:
    """What became of the steps due at `since` (a dispatch's `at`) that the engine has
    touched since or still has to: sent, deferred (by the Gate's reason), failed (by reason),
    and in progress. `done` once none is left in progress."""
    now = timezone.now()
    latest_reason = Subquery(
        GateDecision.objects.filter(intent=OuterRef("intent_id"))
        .order_by("-id")
        .values("reason_code")[:1]
    )
    rows = (
        ExecutionJob.objects.filter(
            organization=org,
            intent__follow_up__cancelled_at__isnull=True,
            intent__follow_up__due_at__lte=since,
        )
        .filter(Q(updated_at__gte=since) | Q(status__in=[J.PENDING, J.CLAIMED, J.SENDING]))
        .filter(~Q(status=J.PENDING) | Q(run_after__lte=now) | Q(updated_at__gte=since))
    )
    counts = {"sent": 0, "in_progress": 0, "uncertain": 0, "deferred": {}, "failed": {}}
    deferred_rows = rows.filter(status=J.PENDING, run_after__gt=now)
    for reason, n in (
        deferred_rows.annotate(reason=latest_reason)
        .values_list("reason")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts["deferred"][reason or "scheduled"] = n
    others = rows.exclude(pk__in=deferred_rows.values("pk"))
    for status, error, n in (
        others.values_list("status", "last_error").annotate(n=Count("id")).order_by()
    ):
        if status == J.SENT:
            counts["sent"] += n
        elif status in (J.FAILED, J.DEAD):
            counts["failed"][error or status] = counts["failed"].get(error or status, 0) + n
        elif status == J.UNCERTAIN:
            counts["uncertain"] += n
        else:
            counts["in_progress"] += n
    counts["deferred_total"] = sum(counts["deferred"].values())
    counts["failed_total"] = sum(counts["failed"].values())
    counts["done"] = counts["in_progress"] == 0
    return counts


def counters(org: Organization, automation: Automation | None = None) -> dict:
    """The organization's follow-up figures (or one automation's): scheduled (still to go),
    sent, blocked and failed, cancelled by reason, and duplicate-blocked (a repeated key the
    database refused). Two queries."""
    rows = FollowUp.objects.filter(organization=org)
    if automation is not None:
        rows = rows.filter(automation=automation)
    live = Q(cancelled_at__isnull=True)
    figures = rows.aggregate(
        total=Count("id"),
        scheduled=Count("id", filter=live & Q(intent__status__in=OPEN_INTENT)),
        sent=Count("id", filter=live & Q(intent__status=I.SENT)),
        blocked=Count("id", filter=live & Q(intent__status=I.BLOCKED)),
        failed=Count("id", filter=live & Q(intent__status=I.FAILED)),
        **{
            f"cancelled_{reason}": Count("id", filter=Q(cancel_reason=reason))
            for reason in Reason.values
        },
    )
    figures["cancelled"] = {reason: figures.pop(f"cancelled_{reason}") for reason in Reason.values}
    duplicates = OperationalEvent.objects.filter(
        organization=org, verb="followup.duplicate_blocked"
    )
    if automation is not None:
        duplicates = duplicates.filter(data__automation=automation.pk)
    figures["duplicate_blocked"] = duplicates.count()
    return figures
