"""What the CRM shows on other apps' pages, without those apps importing it: the inbox's
contact panel lists the contact's leads with `{% contact_leads contact %}`."""

from django import template

from conversa.crm.models import Lead

register = template.Library()


@register.inclusion_tag("crm/_contact_leads.html")
def contact_leads(contact, limit: int = 5) -> dict:
    """The contact's leads (its organization's, as the contact is), their stage and pipeline."""
    leads = (
        Lead.objects.filter(organization_id=contact.organization_id, contact_id=contact.pk)
        .select_related("stage", "pipeline")
        .order_by("-id")
    )
    return {"leads": list(leads[:limit])}
