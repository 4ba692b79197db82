"""Read-only questions the CRM pages ask: a sample lead for a
template's preview, the Gate's reasons in words. Nothing here writes."""

from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.crm.models import Automation, Lead, Pipeline, Stage
from conversa.engine.models import GateDecision
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
