"""State changes of the CRM's automations: a stage's ordered follow-up steps, saved with every
problem at once, paused, resumed or deleted (their pending follow-ups cancelled), and the
follow-ups that are due dispatched now.

Owners, admins and supervisors manage automations; each change is recorded on the
automation's timeline and refused as `conversa.errors.Refused` like every other.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.services import must_supervise, record, same_org
from conversa.crm import followups
from conversa.crm.models import Automation, AutomationStep, FollowUp, Lead, Stage
from conversa.errors import Refused
from conversa.inbox.models import Tag
from conversa.numbers.models import Number


def save_automation(
    org: Organization,
    *,
    acting_member: Member,
    name: str,
    stage: Stage,
    steps: list[dict],
    tag: Tag | None = None,
    owner: Member | None = None,
    number: Number | None = None,
    active: bool = True,
    automation: Automation | None = None,
) -> Automation:
    """Create an automation, or change `automation`, with its steps in order (each {delay,
    delay_unit, business_hours, template}; positions are 1, 2, 3…). Refused with every problem
    at once: no step, a delay out of range, an empty or too long message, a variable that is
    neither built in nor one of the pipeline's custom fields.

    A change applies to stage entries from now on: steps already scheduled keep the message
    and time they were given."""
    must_supervise(acting_member)
    for obj in (stage, tag, owner, number, automation):
        if obj is not None:
            same_org(obj, org.id)
    name = " ".join((name or "").split())
    problems = []
    if not name or len(name) > 120:
        problems.append(gettext("An automation's name is 1 to 120 characters."))
    problems += steps_problems(steps, stage.pipeline.custom_fields or [])
    if problems:
        raise Refused(" ".join(problems))
    now = timezone.now()
    with transaction.atomic():
        created = automation is None
        if created:
            automation = Automation(organization=org, created_by=acting_member, created_at=now)
        automation.name, automation.stage, automation.tag = name, stage, tag
        automation.owner, automation.number, automation.active = owner, number, active
        automation.updated_at = now
        automation.save()
        existing = {step.position: step for step in automation.steps.all()} if not created else {}
        for position, spec in enumerate(steps, start=1):
            step = existing.pop(position, None) or AutomationStep(
                organization=org, automation=automation, position=position
            )
            step.delay = int(spec.get("delay", 0))
            step.delay_unit = spec.get("delay_unit", AutomationStep.Unit.MINUTES)
            step.business_hours = bool(spec.get("business_hours", False))
            step.template = spec["template"]
            step.save()
        AutomationStep.objects.filter(pk__in=[step.pk for step in existing.values()]).delete()
        record(
            org.id,
            "automation.created" if created else "automation.changed",
            automation,
            actor=acting_member,
            name=name,
            stage=stage.pk,
            steps=len(steps),
        )
    return automation


def steps_problems(steps: list[dict], custom_fields: list[str]) -> list[str]:
    """What is wrong with an automation's steps, each problem naming its step."""
    if not steps:
        return [gettext("An automation has at least one step.")]
    if len(steps) > 20:
        return [gettext("An automation has at most 20 steps.")]
    found = []
    for position, spec in enumerate(steps, start=1):
        unit = spec.get("delay_unit", AutomationStep.Unit.MINUTES)
        delay = spec.get("delay", 0)
        prefix = gettext("Step %(n)s:") % {"n": position}
        if unit not in AutomationStep.Unit.values:
            found.append(f"{prefix} " + gettext("the delay is in minutes, hours or days."))
        elif not isinstance(delay, int) or not 0 <= delay <= AutomationStep.MAX_DELAY[unit]:
            found.append(f"{prefix} " + gettext("the delay is at most a year."))
        for problem in AutomationStep.template_problems(spec.get("template") or "", custom_fields):
            found.append(f"{prefix} {problem}")
    return found


def set_automation_active(automation: Automation, active: bool, *, acting_member: Member) -> int:
    """Pause or resume an automation. Pausing cancels its pending steps ("automation paused"):
    a paused automation sends nothing; resuming fires on stage entries from then on. Returns
    how many steps were cancelled."""
    must_supervise(acting_member)
    same_org(acting_member, automation.organization_id)
    with transaction.atomic():
        Automation.objects.filter(pk=automation.pk).update(active=active, updated_at=timezone.now())
        automation.active = active
        record(
            automation.organization_id,
            "automation.resumed" if active else "automation.paused",
            automation,
            actor=acting_member,
        )
        if active:
            return 0
        return followups.automation_stopped(
            automation, FollowUp.CancelReason.AUTOMATION_PAUSED, acting_member=acting_member
        )


def delete_automation(automation: Automation, *, acting_member: Member) -> int:
    """Delete an automation; its pending steps are cancelled ("automation deleted") and its
    follow-ups' history stays on the leads. Returns how many steps were cancelled."""
    must_supervise(acting_member)
    same_org(acting_member, automation.organization_id)
    with transaction.atomic():
        cancelled = followups.automation_stopped(
            automation, FollowUp.CancelReason.AUTOMATION_DELETED, acting_member=acting_member
        )
        record(
            automation.organization_id,
            "automation.deleted",
            automation,
            actor=acting_member,
            name=automation.name,
        )
        automation.delete()
    return cancelled


def preview_step(template: str, lead: Lead) -> str:
    """A step's message as `lead` would receive it (the form's preview); refused with the
    template's problems."""
    problems = AutomationStep.template_problems(template, lead.pipeline.custom_fields or [])
    if problems:
        raise Refused(" ".join(problems))
    return AutomationStep.render(template, lead)


def dispatch_now(org: Organization, *, acting_member: Member) -> dict:
    """The "Dispatch now" button: `followups.dispatch_due` for the organization."""
    must_supervise(acting_member)
    result = followups.dispatch_due(org)
    record(
        org.id,
        "followups.dispatched",
        org,
        actor=acting_member,
        made_runnable=result["made_runnable"],
    )
    return result
