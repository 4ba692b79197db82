"""The retention period's own small form on the organization settings page."""

from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from conversa.accounts.models import MAX_RETENTION_DAYS
from conversa.engine import retention
from conversa.engine.policy_forms import OrganizationForm
from conversa.errors import Refused
from conversa.web import admin_view, number


@admin_view
@require_POST
def retention_settings(request):
    """Empty keeps messages for ever; otherwise a whole number of days, 1 to 3650."""
    typed = request.POST.get("retention_days", "").strip()
    days = number(typed, most=MAX_RETENTION_DAYS) if typed else None
    try:
        if typed and days is None:
            raise Refused(
                gettext("Keep messages from 1 to %(most)s days, or leave it empty to keep them.")
                % {"most": MAX_RETENTION_DAYS}
            )
        retention.set_retention_days(request.org, days, acting_member=request.member)
    except Refused as exc:
        context = {
            "section": "organization",
            "form": OrganizationForm(org=request.org),
            "retention_error": str(exc),
            "retention_typed": typed[:10],
        }
        return render(request, "settings/organization.html", context, status=422)
    return redirect("/settings/organization/?saved=retention#retention")
