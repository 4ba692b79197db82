from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_POST

from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.engine import services, wording
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.engine.queries import api_tokens_of, filter_intents
from conversa.errors import InvalidTransition
from conversa.web import operator_view


def choice(value: str, choices) -> str | None:
    return value if value in dict(choices) else None


# The decisions with the number each one names, in one query for a whole page.
DECISIONS = Prefetch("decisions", queryset=GateDecision.objects.select_related("number"))


def described(intent: MessageIntent, token: str = "") -> MessageIntent:
    """The intent with what the pages show of it, in words (engine/wording.py); `token`: the
    API token it came with, by name."""
    intent.state_text, intent.tone = wording.state(intent)
    intent.origin_text, intent.origin_who = wording.source(intent, token)
    intent.sending_number = wording.sending_number(intent)
    intent.moment = wording.moment(intent)
    intent.moment_text = wording.when(intent.moment)
    return intent


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
    rows = list(
        filter_intents(scoped(request.org, MessageIntent), **filters)
        .select_related(
            "contact",
            "number",
            "created_by",
            "job__number",
            "job__message",
            "follow_up__automation",
        )
        .prefetch_related(DECISIONS)[:200]
    )
    tokens = api_tokens_of(request.org, rows)
    for intent in rows:
        described(intent, tokens.get(intent.pk, ""))
    context = {
        "intents": rows,
        "filters": filters,
        "statuses": list(wording.STATES.items()),
        "origins": list(wording.ORIGINS.items()),
        "job_statuses": ExecutionJob.Status.choices,
    }
    template = "engine/_intent_rows.html" if request.htmx else "engine/intents.html"
    return render(request, template, context)


@operator_view
def intent_page(request, intent_id: int):
    intent = (
        scoped(request.org, MessageIntent)
        .select_related("contact", "number", "created_by", "job__number", "job__message")
        .select_related("follow_up__automation")
        .prefetch_related(DECISIONS)
        .filter(pk=intent_id)
        .first()
    )
    if intent is None:
        raise Http404("No such message")
    context = {
        "intent": described(intent, api_tokens_of(request.org, [intent]).get(intent.pk, "")),
        "job": getattr(intent, "job", None),
        "story": wording.story(intent),
    }
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
