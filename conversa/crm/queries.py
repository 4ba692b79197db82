"""Read-only questions the CRM pages ask: a sample lead for a
template's preview, the Gate's reasons in words, what a move scheduled. Nothing here writes."""

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext, ngettext

from conversa.accounts.models import Member, Organization
from conversa.crm import followups
from conversa.crm.models import Automation, FollowUp, Lead, Pipeline, Stage, StageChange
from conversa.engine import wording
from conversa.engine.models import GateDecision, MessageIntent
from conversa.inbox.models import Contact


def sample_lead(org: Organization, stage: Stage | None, member: Member) -> tuple[Lead, bool]:
    """The lead a template's preview is rendered for: the newest lead in the trigger's stage,
    else in its pipeline, else an unsaved example. The flag says whether it is a real one."""
    leads = Lead.objects.for_org(org).select_related("contact", "stage", "pipeline", "owner")
    if stage is not None:
        for found in (
            leads.filter(stage=stage).order_by("-id").first(),
            leads.filter(pipeline_id=stage.pipeline_id).order_by("-id").first(),
        ):
            if found is not None:
                found.stage = stage  # the message is sent as it enters this stage
                return found, True
    pipeline = stage.pipeline if stage else Pipeline(organization=org, name=gettext("Sales"))
    example = Lead(
        organization=org,
        pipeline=pipeline,
        stage=stage or Stage(organization=org, pipeline=pipeline, name=gettext("Proposal")),
        contact=Contact(organization=org, phone="5511988887777", name="Maria Silva"),
        title=gettext("Annual plan"),
        value=1500,
        owner=member,
    )
    return example, False


def gate_reasons(org: Organization, codes) -> dict[str, str]:
    """The Gate's reason, in words (translated), for each reason code seen in this
    organization."""
    codes = [code for code in codes if code]
    if not codes:
        return {}
    rows = (
        GateDecision.objects.filter(organization=org, reason_code__in=codes)
        .values_list("reason_code", "reason")
        .distinct()
    )
    return {code: gettext(reason) for code, reason in rows if reason}


def automations_of(org: Organization):
    return (
        Automation.objects.for_org(org)
        .select_related("stage", "stage__pipeline", "tag", "owner", "number")
        .prefetch_related("steps")
    )


def followup_notice(change: StageChange | None, now: datetime | None = None) -> str:
    """What the person who moved a lead should know of the follow-ups the move scheduled, from
    what was really scheduled: how many and when the first goes ("2 follow-ups scheduled: the
    first goes Tue 14:00"), why none will (the Gate refused them all, with its reason), or
    why they wait (every number paused…); "" when no automation fired."""
    if change is None:
        return ""
    now = now or timezone.now()
    follow_ups = list(
        FollowUp.objects.filter(organization_id=change.organization_id, stage_change=change)
        .select_related("intent__number")
        .prefetch_related("intent__decisions")
        .order_by("due_at", "id")
    )
    if not follow_ups:
        return ""
    going = [f for f in follow_ups if f.intent.status != MessageIntent.Status.BLOCKED]
    if not going:
        decision = follow_ups[0].intent.latest_decision
        reason = wording.reason_words(decision.reason) if decision else ""
        return gettext("No follow-up will be sent: %(reason)s") % {"reason": reason}
    first = going[0]
    # A step due at once was due when the lead entered the stage, a moment ago.
    soon = first.due_at <= now + timedelta(minutes=1)
    text = ngettext(
        "%(n)s follow-up scheduled: the first goes %(when)s",
        "%(n)s follow-ups scheduled: the first goes %(when)s",
        len(going),
    ) % {"n": len(going), "when": gettext("now") if soon else wording.when(first.due_at, now)}
    holding = wording.numbers_holding(change.lead.organization, first.intent.number)
    if holding:
        text = f"{text} · {gettext('waiting: %(reason)s') % {'reason': holding}}"
    return text


def explain_waits(org: Organization, automations: list[Automation]) -> None:
    """Set `waiting` on each automation with steps to go whose next step cannot leave when
    due: why, in words to follow "Waiting: " (every number paused, sending paused, none
    connected; or, once the step is overdue, the Gate's reason for holding it); "" when
    nothing holds it. Each row has `pending` and `next_run` (automation_views.decorate)."""
    now = timezone.now()
    held: dict[int | None, str] = {}
    for automation in automations:
        automation.waiting = ""
        if not automation.pending:
            continue
        if automation.number_id not in held:
            held[automation.number_id] = wording.numbers_holding(org, automation.number)
        automation.waiting = held[automation.number_id]
        if not automation.waiting and automation.next_run <= now:
            automation.waiting = overdue_reason(automation)


def overdue_reason(automation: Automation) -> str:
    """The Gate's reason for holding the automation's next step past its time, when its
    latest decision deferred it; "" otherwise (it is about to go)."""
    follow_up = (
        followups.pending()
        .filter(automation=automation)
        .select_related("intent")
        .prefetch_related("intent__decisions")
        .order_by("due_at", "id")
        .first()
    )
    decision = follow_up.intent.latest_decision if follow_up else None
    if decision is None or decision.verdict != GateDecision.Verdict.DEFER:
        return ""
    return wording.reason_words(decision.reason)
