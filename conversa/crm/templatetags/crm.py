"""What the CRM shows on other apps' pages, without those apps importing it: the inbox's
contact panel lists the contact's leads with `{% contact_leads contact %}`. And the CRM's
own words for money and times: `{{ lead.value|money:org.currency }}`,
`{{ lead.stage_entered_at|in_stage_for }}`, `{{ a.next_run|until }}`, `{{ e.at|moment }}`."""

from django import template

from conversa import money as amounts
from conversa.crm import wording
from conversa.crm.models import Lead
from conversa.engine.wording import when

register = template.Library()


@register.filter
def money(value, currency: str = "BRL") -> str:
    return amounts.money(value, currency or "BRL")


@register.filter
def in_stage_for(entered_at) -> str:
    return wording.in_stage_for(entered_at)


@register.filter
def until(moment) -> str:
    return wording.until(moment)


@register.filter
def moment(value) -> str:
    """ "14:02" today, "Tue 14:02" this week, else the date: as Outgoing messages says it."""
    return when(value)


@register.inclusion_tag("crm/_contact_leads.html")
def contact_leads(contact, limit: int = 5) -> dict:
    """The contact's leads (its organization's, as the contact is), their stage and pipeline."""
    leads = (
        Lead.objects.filter(organization_id=contact.organization_id, contact_id=contact.pk)
        .select_related("stage", "pipeline")
        .order_by("-id")
    )
    return {"leads": list(leads[:limit])}
