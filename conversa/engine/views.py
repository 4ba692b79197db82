from django.shortcuts import redirect, render
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_POST

from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.engine import services
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.engine.queries import filter_intents, timeline
from conversa.errors import InvalidTransition
from conversa.web import operator_view


def choice(value: str, choices) -> str | None:
    return value if value in dict(choices) else None


@operator_view
def intents(request):
    query = request.GET
    try:
        since = parse_date(query.get("since") or "")
    except ValueError:  # a well-formed but impossible date: no filter rather than a 500
        since = None
    filters = {
        "status": choice(query.get("status", ""), MessageIntent.Status.choices),
        "origin": choice(query.get("origin", ""), MessageIntent.Origin.choices),
        "job_status": choice(query.get("job_status", ""), ExecutionJob.Status.choices),
        "since": since,
    }
    rows = filter_intents(scoped(request.org, MessageIntent), **filters)
    rows = rows.select_related("contact", "job", "number").prefetch_related("decisions")[:200]
    context = {
        "intents": rows,
        "filters": filters,
        "statuses": MessageIntent.Status.choices,
        "origins": MessageIntent.Origin.choices,
        "job_statuses": ExecutionJob.Status.choices,
    }
    template = "engine/_intent_rows.html" if request.htmx else "engine/intents.html"
    return render(request, template, context)


@operator_view
def intent_page(request, intent_id: int):
    intent = get_for_org_or_404(request.org, MessageIntent, pk=intent_id)
    context = {"intent": intent, "job": getattr(intent, "job", None), "timeline": timeline(intent)}
    return render(request, "engine/intent.html", context)


@operator_view
@require_POST
def intent_action(request, intent_id: int, action: str):
    """Cancel a not-yet-sent intent, or resend / mark failed an UNCERTAIN one."""
    intent = get_for_org_or_404(request.org, MessageIntent, pk=intent_id)
    services.refuse_unless_settles(request.member, intent)  # whatever state it is in
    job = getattr(intent, "job", None)
    try:
        if action == "cancel":
            services.cancel(intent, acting_member=request.member)
        elif job is not None and job.status == ExecutionJob.Status.UNCERTAIN:
            services.resolve_uncertain(job, action, acting_member=request.member)
    except (InvalidTransition, ValueError):
        pass  # the page shows the job's current state, which says why nothing happened
    return redirect("intent", intent_id=intent.pk)
