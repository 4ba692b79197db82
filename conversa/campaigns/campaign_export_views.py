"""The campaign page's downloads: its recipients as CSV or XLSX (any member of the
organization; another organization's campaign is a 404)."""

from conversa.accounts.scoping import get_for_org_or_404
from conversa.campaigns import campaign_export
from conversa.campaigns.models import Campaign
from conversa.web import operator_view


@operator_view
def export_csv(request, campaign_id: int):
    campaign = get_for_org_or_404(request.org, Campaign, pk=campaign_id)
    return campaign_export.export(request, campaign, "csv", acting_member=request.member)


@operator_view
def export_xlsx(request, campaign_id: int):
    campaign = get_for_org_or_404(request.org, Campaign, pk=campaign_id)
    return campaign_export.export(request, campaign, "xlsx", acting_member=request.member)
