"""The Segments pages (Contacts → Segments): the list with each segment's live count, a form
with the Contacts page's filters whose count follows the filters as they change, and delete.
Every member sees them; supervisors and above change them (campaigns.segments checks and
audits). The form's fields carry the Contacts page's names, so "Save as segment" there is a
link carrying its query string here."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.campaigns import segments
from conversa.campaigns.contact_listing import YES, Filters
from conversa.campaigns.contact_views import filter_query, read_filters
from conversa.campaigns.models import Segment
from conversa.crm.models import Stage
from conversa.errors import Refused
from conversa.inbox.listing import COUNT_CAP, count_label
from conversa.web import operator_view

# The days the "Wrote to us" menu offers, as the Contacts page's; a segment saved through the
# API with another number of days shows it as one more choice.
WROTE_WITHIN = (1, 7, 30, 90)


def supervisors_only(request) -> None:
    if not request.member.supervises:
        raise PermissionDenied(_("Only owners, admins and supervisors change segments."))


def stages_of(request) -> list[Stage]:
    return list(
        scoped(request.org, Stage).select_related("pipeline").order_by("pipeline__name", "position")
    )


def described(filters: Filters, stages: dict[int, Stage]) -> list[str]:
    """The filters in a business user's words, one phrase each ("All contacts" for none)."""
    words = []
    if filters.q.strip():
        words.append(_("Search: “%(q)s”") % {"q": filters.q.strip()})
    pairs = (
        (filters.consent, _("Marketing consent given"), _("No marketing consent")),
        (filters.opted_out, _("Opted out"), _("Not opted out")),
        (filters.blocked, _("Blocked contact"), _("Not blocked")),
        (filters.open_conversation, _("Has an open conversation"), _("No open conversation")),
    )
    words += [yes if value == YES else no for value, yes, no in pairs if value]
    if filters.wrote_within == 1:
        words.append(_("Wrote to us in the last 24 hours"))
    elif filters.wrote_within:
        words.append(
            ngettext(
                "Wrote to us in the last %(n)s day",
                "Wrote to us in the last %(n)s days",
                filters.wrote_within,
            )
            % {"n": filters.wrote_within}
        )
    if filters.stage:
        stage = stages.get(filters.stage)
        words.append(
            _("In the stage %(pipeline)s · %(stage)s")
            % {"pipeline": stage.pipeline.name, "stage": stage.name}
            if stage
            else _("In a pipeline stage that was deleted (matches no one)")
        )
    return words or [_("All contacts")]


def given(params) -> dict:
    """The form's filters as typed, for `segments.clean_filters` to check."""
    return {
        "q": params.get("q", ""),
        "consent": params.get("consent", ""),
        "opted_out": params.get("opted_out", ""),
        "blocked": params.get("blocked", ""),
        "wrote_within": params.get("wrote_within", ""),
        "open_conversation": params.get("open", ""),
        "stage": params.get("stage", ""),
    }


def as_filters(cleaned: dict) -> Filters:
    return Filters(**cleaned)


@operator_view
def segment_list(request):
    found = list(scoped(request.org, Segment).select_related("created_by").order_by("name", "id"))
    counts = segments.counts(request.org, found)
    stages = {s.pk: s for s in stages_of(request)}
    for segment in found:
        segment.count_text = count_label(counts[segment.pk], COUNT_CAP)
        segment.words = described(segments.filters_of(segment), stages)
    return render(request, "segments/list.html", {"segments": found})


def form_context(request, segment: Segment | None, filters: Filters, **extra) -> dict:
    stages = stages_of(request)
    count = segments.count(request.org, filters)
    choices = list(WROTE_WITHIN)
    if filters.wrote_within and filters.wrote_within not in choices:
        choices.append(filters.wrote_within)
    return {
        "segment": segment,
        "filters": filters,
        "stages": stages,
        "wrote_choices": sorted(choices),
        "stage_gone": bool(filters.stage) and filters.stage not in {s.pk for s in stages},
        "count": count,
        "count_text": count_label(count, COUNT_CAP),
        "query": filter_query(filters),
        "can_change": request.member.supervises,
        "open_campaigns": list(segments.open_campaigns(segment)) if segment else [],
        **extra,
    }


def refused_here(request, segment: Segment | None, exc: Refused):
    """The form again, as it was typed, with the refusal beside it."""
    try:
        filters = as_filters(segments.clean_filters(request.org, given(request.POST)))
    except Refused:
        filters = read_filters(request.POST)
    context = form_context(
        request,
        segment,
        filters,
        name=request.POST.get("name", "")[: segments.NAME_LENGTH + 20],
        error=str(exc),
        error_field=exc.field,
    )
    return render(request, "segments/form.html", context, status=400)


@operator_view
def segment_new(request):
    """A new segment; its filters start as the Contacts page's were ("Save as segment")."""
    supervisors_only(request)
    if request.method == "POST":
        try:
            segments.create_segment(
                request.org,
                name=request.POST.get("name", ""),
                filters=given(request.POST),
                acting_member=request.member,
            )
        except Refused as exc:
            return refused_here(request, None, exc)
        messages.success(request, _("Segment saved."))
        return redirect("segments")
    return render(
        request, "segments/form.html", form_context(request, None, read_filters(request.GET))
    )


@operator_view
def segment_page(request, segment_id: int):
    """A segment's filters and count; supervisors and above change them here."""
    segment = get_for_org_or_404(request.org, Segment, pk=segment_id)
    if request.method == "POST":
        supervisors_only(request)
        try:
            segments.update_segment(
                segment,
                name=request.POST.get("name", ""),
                filters=given(request.POST),
                acting_member=request.member,
            )
        except Refused as exc:
            return refused_here(request, segment, exc)
        messages.success(request, _("Segment saved."))
        return redirect("segments")
    filters = segments.filters_of(segment)
    return render(request, "segments/form.html", form_context(request, segment, filters))


@operator_view
@require_POST
def segment_delete(request, segment_id: int):
    segment = get_for_org_or_404(request.org, Segment, pk=segment_id)
    supervisors_only(request)
    try:
        segments.delete_segment(segment, acting_member=request.member)
    except Refused as exc:
        context = form_context(request, segment, segments.filters_of(segment), error=str(exc))
        return render(request, "segments/form.html", context, status=400)
    messages.success(request, _("Segment deleted."))
    return redirect("segments")


@operator_view
def segment_count(request):
    """The live count under the form (htmx): how many contacts the filters match now, or why
    they cannot be counted."""
    try:
        filters = as_filters(segments.clean_filters(request.org, given(request.GET)))
    except Refused as exc:
        return render(request, "segments/_count.html", {"error": str(exc)})
    count = segments.count(request.org, filters)
    context = {"count": count, "count_text": count_label(count, COUNT_CAP)}
    return render(request, "segments/_count.html", context)
