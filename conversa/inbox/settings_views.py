"""The inbox's settings pages: queues, tags and canned replies (and the organization's
business hours for the SLA clock). Owners, admins and supervisors only, as the services they call decide;
everyone else gets a 403 and no link. Each page shows the service's refusal on the form."""

from datetime import date
from functools import wraps
from zoneinfo import available_timezones

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Prefetch, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from conversa import business_hours as sla
from conversa.accounts.models import Member
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.errors import Refused
from conversa.inbox import canned_replies, deadlines, queues, surveys, tags
from conversa.inbox.models import (
    DEFAULT_SURVEY_QUESTION,
    MAX_SURVEY_OPEN_HOURS,
    CannedReply,
    Conversation,
    Queue,
    Tag,
)
from conversa.numbers.models import Number
from conversa.web import number as posted_id
from conversa.web import operator_view, whole


def manager_view(view):
    """Signed in, in the organization's time zone, and allowed to manage the inbox."""

    @operator_view
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.member.supervises:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def tags_context(request, **extra) -> dict:
    rows = (
        scoped(request.org, Tag)
        .annotate(
            n_conversations=Count("conversations", distinct=True),
            n_contacts=Count("contacts", distinct=True),
        )
        .order_by("name")
    )
    return {
        "section": "tags",
        "tags": rows,
        "colours": Tag.Colour.choices,
        "draft": {"name": "", "colour": Tag.Colour.BLUE},
        **extra,
    }


@manager_view
def tag_list(request):
    """The organization's tags with their colours and use, and a form for a new one."""
    if request.method != "POST":
        return render(request, "inbox/manage_tags.html", tags_context(request))
    name, colour = request.POST.get("name", ""), request.POST.get("colour", "")
    try:
        tags.create_tag(request.org, name, colour, acting_member=request.member)
    except Refused as exc:
        context = tags_context(request, error=str(exc), draft={"name": name, "colour": colour})
        return render(request, "inbox/manage_tags.html", context, status=exc.status)
    return redirect("manage-tags")


@manager_view
@require_POST
def delete_tag(request, tag_id: int):
    tag = get_for_org_or_404(request.org, Tag, pk=tag_id)
    tags.delete_tag(tag, acting_member=request.member)
    return redirect("manage-tags")


@manager_view
def canned_reply_list(request):
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
            canned_replies.save_canned_reply(
                request.org,
                draft["shortcode"],
                draft["body"],
                acting_member=request.member,
                reply=reply,
            )
        except Refused as exc:
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
    canned_replies.delete_canned_reply(reply, acting_member=request.member)
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
    # One date field per day off (`<input type="date">` sends YYYY-MM-DD); a cleared one is
    # a day removed. A browser without a date picker lets people type: say what was wrong.
    holidays = sorted({h.strip() for h in post.getlist("holidays") if h.strip()})
    for holiday in holidays:
        try:
            date.fromisoformat(holiday)
        except ValueError:
            problems.append(
                _("Holidays: “%(value)s” is not a date. Pick the day from the calendar.")
                % {"value": holiday}
            )
    return hours, holidays, problems


HOLIDAY_BLANKS = 3  # empty date fields under the saved days, to add more at once


def holiday_fields(holidays: list[str]) -> list[str]:
    """The holidays form's date fields: the saved days, then a few empty ones."""
    return [*holidays, *[""] * HOLIDAY_BLANKS]


def hours_context(request, **extra) -> dict:
    org = request.org
    return {
        "section": "hours",
        "always": not org.business_hours,
        "rows": schedule_rows(org.business_hours or sla.DEFAULT_HOURS),
        "holidays": holiday_fields(org.holidays),
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
                request.org,
                acting_member=request.member,
                hours=hours,
                holidays=holidays,
                time_zone=time_zone,
            )
        except Refused as exc:
            problems = [str(exc)]
        else:
            return redirect(f"{reverse('manage-hours')}?saved=1")
    context = hours_context(
        request,
        error=" ".join(problems),
        always=always,
        rows=schedule_rows(hours) if hours or not always else hours_context(request)["rows"],
        holidays=holiday_fields(holidays),
        time_zone=time_zone,
    )
    return render(request, "inbox/manage_hours.html", context, status=422)


def duration(minutes: int | None) -> str:
    """A target in business minutes as people say it: 45 min, 2 h, 1 h 30 min."""
    if minutes is None:
        return ""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return _("%(minutes)s min") % {"minutes": rest}
    if not rest:
        return _("%(hours)s h") % {"hours": hours}
    return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": rest}


def first_queues(org) -> dict[int, Queue]:
    """Number id → the queue its new conversations land in: its first by id."""
    first: dict[int, Queue] = {}
    links = (
        Queue.numbers.through.objects.filter(queue__organization=org)
        .select_related("queue")
        .order_by("queue_id")
    )
    for link in links:
        first.setdefault(link.number_id, link.queue)
    return first


@manager_view
def queue_list(request):
    """The organization's queues: members with their availability and load, numbers (and
    where each one's new conversations land), distribution, SLA targets and breaches."""
    org = request.org
    members = Member.objects.order_by("display_name", "pk")
    rows = (
        scoped(org, Queue)
        .prefetch_related(Prefetch("members", queryset=members), "numbers")
        .annotate(
            n_open=Count(
                "conversations",
                filter=~Q(conversations__status=Conversation.Status.RESOLVED),
            )
        )
        .order_by("name")
    )
    breached = deadlines.breached_counts(org)
    routes = first_queues(org)
    for queue in rows:
        queue.breached = breached.get(queue.pk, 0)
        queue.first_label = duration(queue.first_response_minutes)
        queue.resolution_label = duration(queue.resolution_minutes)
        queue.routes = [(number, routes[number.pk]) for number in queue.numbers.all()]
    return render(request, "inbox/manage_queues.html", {"section": "queues", "queues": rows})


def posted_minutes(value: str, errors: dict, field: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    minutes = whole(value)
    if minutes is None:
        errors[field] = _("An SLA target is a whole number of minutes.")
        return None
    if problem := deadlines.target_problem(minutes):
        errors[field] = problem
        return None
    return minutes


def posted_ids(values: list[str]) -> list[int]:
    # Anything that is not an id becomes 0, which no row has: the service refuses it.
    return [posted_id(v) or 0 for v in values]


def queue_form_context(request, queue: Queue | None, draft: dict, errors: dict) -> dict:
    org = request.org
    routes = first_queues(org)
    numbers = []
    for number in scoped(org, Number).order_by("name", "pk"):
        lands_in = routes.get(number.pk)
        # Where its new conversations would go if this queue took it: an older queue keeps
        # them (the first by id); a new queue comes last.
        elsewhere = lands_in if lands_in and (queue is None or lands_in.pk < queue.pk) else None
        numbers.append({"number": number, "elsewhere": elsewhere})
    return {
        "section": "queues",
        "queue": queue,
        "draft": draft,
        "errors": errors,
        "error": " ".join(str(e) for e in errors.values()),
        "members": [
            {
                "member": m,
                "checked": m.pk in draft["member_ids"],
                "capacity": draft["capacities"].get(m.pk, m.capacity),
                "error": errors.get(f"capacity_{m.pk}"),
            }
            for m in scoped(org, Member).order_by("display_name", "pk")
        ],
        "numbers": numbers,
        "distributions": [
            (Queue.Distribution.OFF, Queue.Distribution.OFF.label, DISTRIBUTION_HELP["off"]),
            (
                Queue.Distribution.ROUND_ROBIN,
                Queue.Distribution.ROUND_ROBIN.label,
                DISTRIBUTION_HELP["round_robin"],
            ),
            (
                Queue.Distribution.LEAST_LOAD,
                Queue.Distribution.LEAST_LOAD.label,
                DISTRIBUTION_HELP["least_load"],
            ),
        ],
        "max_capacity": queues.MAX_CAPACITY,
        "survey_choices": Queue.Survey.choices,
        "default_question": surveys.settings_of(org.id).question or DEFAULT_SURVEY_QUESTION,
    }


DISTRIBUTION_HELP = {
    "off": gettext_lazy("New conversations wait in the queue until an operator claims one."),
    "round_robin": gettext_lazy(
        "Each new conversation goes to the next online operator under capacity, in turn."
    ),
    "least_load": gettext_lazy(
        "Each new conversation goes to the online operator with the fewest open ones."
    ),
}


@manager_view
def queue_form(request, queue_id: int | None = None):
    """A new queue, or one to change: name, members (and each one's capacity), numbers,
    distribution and SLA targets, saved together through `queues.create_queue` or
    `queues.update_queue` and `queues.set_capacity`. A refusal is shown on its field and
    nothing is saved."""
    org = request.org
    queue = get_for_org_or_404(org, Queue, pk=queue_id) if queue_id else None
    members = list(scoped(org, Member).order_by("display_name", "pk"))
    if queue is not None:
        draft = {
            "name": queue.name,
            "member_ids": set(queue.members.values_list("pk", flat=True)),
            "number_ids": set(queue.numbers.values_list("pk", flat=True)),
            "distribution": queue.distribution,
            "first_response_minutes": queue.first_response_minutes or "",
            "resolution_minutes": queue.resolution_minutes or "",
            "survey": queue.survey,
            "survey_question": queue.survey_question,
        }
    else:
        draft = {
            "name": "",
            "member_ids": set(),
            "number_ids": set(),
            "distribution": Queue.Distribution.OFF,
            "first_response_minutes": "",
            "resolution_minutes": "",
            "survey": Queue.Survey.INHERIT,
            "survey_question": "",
        }
    draft["capacities"] = {m.pk: m.capacity for m in members}
    errors: dict = {}
    status = 200
    if request.method == "POST":
        post = request.POST
        draft = {
            "name": post.get("name", ""),
            "member_ids": set(posted_ids(post.getlist("members"))),
            "number_ids": set(posted_ids(post.getlist("numbers"))),
            "distribution": post.get("distribution", ""),
            "first_response_minutes": post.get("first_response_minutes", "").strip(),
            "resolution_minutes": post.get("resolution_minutes", "").strip(),
            "survey": post.get("survey", Queue.Survey.INHERIT),
            "survey_question": post.get("survey_question", ""),
            # Only this organization's members: another's id in a field name is ignored.
            "capacities": {
                m.pk: post.get(f"capacity_{m.pk}", str(m.capacity)).strip() for m in members
            },
        }
        fields = {
            "name": draft["name"],
            "member_ids": draft["member_ids"],
            "number_ids": draft["number_ids"],
            "distribution": draft["distribution"],
            "first_response_minutes": posted_minutes(
                draft["first_response_minutes"], errors, "first_response_minutes"
            ),
            "resolution_minutes": posted_minutes(
                draft["resolution_minutes"], errors, "resolution_minutes"
            ),
        }
        capacities = {}
        for member in members:
            value = draft["capacities"][member.pk]
            capacity = whole(value, most=queues.MAX_CAPACITY)
            if capacity is None:
                errors[f"capacity_{member.pk}"] = _(
                    "%(name)s: a capacity is a whole number from 0 to %(max)s."
                ) % {"name": member.display_name, "max": queues.MAX_CAPACITY}
            elif capacity != member.capacity:
                capacities[member] = capacity
        if not errors:
            try:
                with transaction.atomic():
                    if queue is None:
                        saved = queues.create_queue(org, acting_member=request.member, **fields)
                    else:
                        queues.update_queue(queue, acting_member=request.member, **fields)
                        saved = queue
                    surveys.set_queue_survey(
                        saved,
                        acting_member=request.member,
                        survey=draft["survey"],
                        question=draft["survey_question"],
                    )
                    for member, capacity in capacities.items():
                        queues.set_capacity(member, capacity, acting_member=request.member)
            except Refused as exc:
                errors[exc.field or "form"], status = str(exc), exc.status
            else:
                return redirect("manage-queues")
        status = status if status != 200 else 422
        if queue is not None:
            queue.refresh_from_db()  # a refused save may have changed it in memory
    context = queue_form_context(request, queue, draft, errors)
    return render(request, "inbox/manage_queue_form.html", context, status=status)


@manager_view
@require_POST
def delete_queue(request, queue_id: int):
    queue = get_for_org_or_404(request.org, Queue, pk=queue_id)
    queues.delete_queue(queue, acting_member=request.member)
    return redirect("manage-queues")


@manager_view
def survey_settings(request):
    """The satisfaction survey after a resolved conversation: on or off, its question and
    how long an answer counts, saved through `surveys.update_settings`; queues may differ
    (their own form)."""
    saved = surveys.settings_of(request.org.id)
    draft = {"enabled": saved.enabled, "question": saved.question, "open_hours": saved.open_hours}
    errors: dict = {}
    if request.method == "POST":
        post = request.POST
        draft = {
            "enabled": post.get("enabled") == "1",
            "question": post.get("question", ""),
            "open_hours": post.get("open_hours", "").strip(),
        }
        open_hours = whole(draft["open_hours"], most=MAX_SURVEY_OPEN_HOURS)
        if open_hours is None:
            errors["open_hours"] = _("A whole number of hours from 1 to %(max)s.") % {
                "max": MAX_SURVEY_OPEN_HOURS
            }
        else:
            try:
                surveys.update_settings(
                    request.org,
                    acting_member=request.member,
                    enabled=draft["enabled"],
                    question=draft["question"],
                    open_hours=open_hours,
                )
            except Refused as exc:
                errors[exc.field or "form"] = str(exc)
            else:
                return redirect(f"{reverse('manage-survey')}?saved=1")
    context = {
        "section": "survey",
        "draft": draft,
        "errors": errors,
        "default_question": DEFAULT_SURVEY_QUESTION,
        "max_hours": MAX_SURVEY_OPEN_HOURS,
        "overrides": scoped(request.org, Queue)
        .exclude(survey=Queue.Survey.INHERIT)
        .order_by("name"),
    }
    return render(request, "inbox/manage_survey.html", context, status=422 if errors else 200)
