"""The exports' pages: the list of exports (progress while a worker writes them, the download
link until it expires), the form the Insights, audit log and sending pages post to ask for
one, and the download (410 once expired). Owners, admins and supervisors; the audit log's
export owners and admins."""

from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from conversa import spreadsheets
from conversa.accounts import mfa
from conversa.errors import NotFound, Refused
from conversa.insights import exports, periods
from conversa.insights.models import Export
from conversa.web import number, operator_view

LIST_SIZE = 50
# The form's names of the filters, as the pages that post it call them.
FORM_FILTERS = {
    "number": "number_id",
    "queue": "queue_id",
    "agent": "agent_id",
    "tag": "tag_id",
    "who": "member_id",
    "action": "verb",
    "object": "object_type",
}


def supervisors_only(request) -> None:
    if not request.member.supervises:
        raise PermissionDenied


def read_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return None


def exports_page(request, error: str = "", status: int = 200):
    rows = list(
        exports.visible(request.org, request.member)
        .select_related("requested_by")
        .order_by("-created_at", "-pk")[:LIST_SIZE]
    )
    context = {
        "exports": rows,
        "error": error,
        "working": any(e.status in (Export.Status.QUEUED, Export.Status.RUNNING) for e in rows),
        "keep_hours": settings.EXPORT_KEEP_HOURS,
    }
    return render(request, "insights/exports.html", context, status=status)


@operator_view
def export_list(request):
    """The exports the member sees, newest first."""
    supervisors_only(request)
    return exports_page(request)


@operator_view
@require_POST
@mfa.require_fresh_second_factor
def export_request(request):
    """Ask for an export of the period and filters the posting page showed."""
    supervisors_only(request)
    form = request.POST
    org = request.org
    first, last = read_day(form.get("start")), read_day(form.get("end"))
    if form.get("kind") == Export.Kind.AUDIT and not (first or last):
        # The audit log's filters may leave the dates empty: its whole reach.
        last = periods.today(org)
        first = last - timedelta(days=exports.MAX_DAYS - 1)
    first, last = first or last, last or first
    if first is None:
        return exports_page(request, _("Enter the period's days as dates."), status=400)
    filters = {}
    for field, name in FORM_FILTERS.items():
        value = form.get(field, "")[:94]
        if not value:
            continue
        if name in ("verb", "object_type"):
            filters[name] = value
        elif (parsed := number(value)) is not None:
            filters[name] = parsed
        else:
            return exports_page(request, _("Choose the filters from the lists."), status=400)
    try:
        export = exports.request_export(
            org,
            kind=form.get("kind", ""),
            fmt=form.get("format", ""),
            first_day=first,
            last_day=last,
            filters=filters,
            acting_member=request.member,
        )
    except Refused as exc:
        if exc.status not in (409, 422):
            raise
        return exports_page(request, str(exc), status=400)
    return redirect(f"{reverse('exports')}#export-{export.pk}")


@operator_view
def export_file(request, export_id: int):
    """The export's file, streamed; 410 once it expired."""
    export = exports.visible(request.org, request.member).filter(pk=export_id).first()
    if export is None:
        raise NotFound(_("No such export."))
    if export.status != Export.Status.DONE and not export.expired():
        return redirect(f"{reverse('exports')}#export-{export.pk}")
    handle = None if export.expired() else exports.open_file(export)
    if handle is None:
        return render(request, "insights/export_gone.html", {"export": export}, status=410)
    chunks = spreadsheets.file_chunks(handle)
    return spreadsheets.download(request, chunks, export.format, exports.file_name(export))
