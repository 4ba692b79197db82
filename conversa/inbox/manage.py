"""The inbox's settings pages: tags and canned replies (and the organization's business hours
for the SLA clock). Owners, admins and supervisors only, as the services they call decide;
everyone else gets a 403 and no link. Each page shows the service's refusal on the form."""

from functools import wraps
from zoneinfo import available_timezones

from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.inbox import deadlines, sla, teamwork
from conversa.inbox.models import CannedReply, Tag
from conversa.inbox.views import operator_view


def manager_view(view):
    """Signed in, in the organization's time zone, and allowed to manage the inbox."""

    @operator_view
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.member.role not in teamwork.SUPERVISING:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def tags_context(request, **extra) -> dict:
    tags = (
        scoped(request.org, Tag)
        .annotate(
            n_conversations=Count("conversations", distinct=True),
            n_contacts=Count("contacts", distinct=True),
        )
        .order_by("name")
    )
    return {
        "section": "tags",
        "tags": tags,
        "colours": Tag.Colour.choices,
        "draft": {"name": "", "colour": Tag.Colour.BLUE},
        **extra,
    }


@manager_view
def tags(request):
    """The organization's tags with their colours and use, and a form for a new one."""
    if request.method != "POST":
        return render(request, "inbox/manage_tags.html", tags_context(request))
    name, colour = request.POST.get("name", ""), request.POST.get("colour", "")
    try:
        teamwork.create_tag(request.org, name, colour, by=request.member)
    except teamwork.Refused as exc:
        context = tags_context(request, error=str(exc), draft={"name": name, "colour": colour})
        return render(request, "inbox/manage_tags.html", context, status=exc.status)
    return redirect("manage-tags")


@manager_view
@require_POST
def delete_tag(request, tag_id: int):
    tag = get_for_org_or_404(request.org, Tag, pk=tag_id)
    teamwork.delete_tag(tag, by=request.member)
    return redirect("manage-tags")


@manager_view
def canned_replies(request):
    replies = scoped(request.org, CannedReply).select_related("created_by").order_by("shortcode")
    return render(request, "inbox/manage_canned.html", {"section": "canned", "replies": replies})


@manager_view
def canned_reply(request, reply_id: int | None = None):
    """A new canned reply, or one to change: shortcode and body, refused with every problem
    the service finds (an unknown {{variable}}, a taken shortcode) shown on the form."""
    reply = get_for_org_or_404(request.org, CannedReply, pk=reply_id) if reply_id else None
    draft = {"shortcode": reply.shortcode, "body": reply.body} if reply else {}
    error, status = "", 200
    if request.method == "POST":
        draft = {
            "shortcode": request.POST.get("shortcode", ""),
            "body": request.POST.get("body", ""),
        }
        try:
            teamwork.save_canned_reply(
                request.org, draft["shortcode"], draft["body"], by=request.member, reply=reply
            )
        except teamwork.Refused as exc:
            error, status = str(exc), exc.status
        else:
            return redirect("manage-canned")
    context = {
        "section": "canned",
        "reply": reply,
        "draft": draft,
        "error": error,
        "variables": list(CannedReply.VARIABLES),
    }
    return render(request, "inbox/manage_canned_form.html", context, status=status)


@manager_view
@require_POST
def check_canned_reply(request):
    """What the service would refuse in the body being typed, shown under it as it changes."""
    body = request.POST.get("body", "")
    problems = [p for p in CannedReply.problems("ok", body)] if body.strip() else []
    return render(request, "inbox/_canned_problems.html", {"problems": problems})


@manager_view
@require_POST
def delete_canned_reply(request, reply_id: int):
    reply = get_for_org_or_404(request.org, CannedReply, pk=reply_id)
    teamwork.delete_canned_reply(reply, by=request.member)
    return redirect("manage-canned")


DAY_NAMES = {
    "mon": gettext_lazy("Monday"),
    "tue": gettext_lazy("Tuesday"),
    "wed": gettext_lazy("Wednesday"),
    "thu": gettext_lazy("Thursday"),
    "fri": gettext_lazy("Friday"),
    "sat": gettext_lazy("Saturday"),
    "sun": gettext_lazy("Sunday"),
}
SPANS_PER_DAY = 2  # a morning and an afternoon, say


def schedule_rows(hours: dict) -> list[dict]:
    """One row per weekday for the form: open or not, and its spans padded to two."""
    rows = []
    for day in sla.WEEKDAYS:
        spans = [list(span) for span in hours.get(day, [])][:SPANS_PER_DAY]
        padded = spans + [["", ""]] * (SPANS_PER_DAY - len(spans))
        rows.append({"day": day, "name": DAY_NAMES[day], "open": bool(spans), "spans": padded})
    return rows


def posted_schedule(post) -> tuple[dict, list[str], list[str]]:
    """The week, holidays and problems the form's fields hold (the service checks the rest)."""
    problems, hours = [], {}
    for day in sla.WEEKDAYS:
        if not post.get(f"{day}_open"):
            continue
        spans = []
        for n in range(SPANS_PER_DAY):
            start, end = post.get(f"{day}_start_{n}", ""), post.get(f"{day}_end_{n}", "")
            if start and end:
                spans.append([start[:5], end[:5]])
            elif start or end or n == 0:
                problems.append(
                    _("%(day)s: give both the opening and the closing time.")
                    % {"day": DAY_NAMES[day]}
                )
        hours[day] = spans
    holidays = [h.strip() for h in post.get("holidays", "").replace(",", "\n").splitlines()]
    return hours, [h for h in holidays if h], problems


def hours_context(request, **extra) -> dict:
    org = request.org
    return {
        "section": "hours",
        "always": not org.business_hours,
        "rows": schedule_rows(org.business_hours or sla.DEFAULT_HOURS),
        "holidays": "\n".join(org.holidays),
        "time_zone": org.time_zone,
        "time_zones": sorted(available_timezones()),
        **extra,
    }


@manager_view
def business_hours(request):
    """The organization's week schedule, holidays and time zone: the SLA clocks run only
    within them. Saved through `deadlines.set_business_hours`, which recomputes the due times
    of the open conversations."""
    if request.method != "POST":
        return render(request, "inbox/manage_hours.html", hours_context(request))
    post = request.POST
    always = post.get("mode") == "always"
    hours, holidays, problems = posted_schedule(post)
    if always:
        # Around the clock has no days off: the stored form cannot say "always, but holidays".
        hours, holidays, problems = {}, [], []
    time_zone = post.get("time_zone", "")
    if not problems:
        try:
            deadlines.set_business_hours(
                request.org, by=request.member, hours=hours, holidays=holidays, time_zone=time_zone
            )
        except teamwork.Refused as exc:
            problems = [str(exc)]
        else:
            return redirect(f"{reverse('manage-hours')}?saved=1")
    context = hours_context(
        request,
        error=" ".join(problems),
        always=always,
        rows=schedule_rows(hours) if hours or not always else hours_context(request)["rows"],
        holidays="\n".join(holidays),
        time_zone=time_zone,
    )
    return render(request, "inbox/manage_hours.html", context, status=422)
