from datetime import timedelta

from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.crm.models import FollowUp
from conversa.engine import services, wording
from conversa.engine.models import ExecutionJob, GateDecision, MessageIntent
from conversa.engine.queries import FOLLOWUPS, HELD, api_tokens_of, filter_intents
from conversa.errors import InvalidTransition
from conversa.numbers.models import Number
from conversa.web import local_midnight, number, operator_view


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


# The Gate's decisions' codes and the follow-ups' cancel reasons are short words.
MAX_CODE = 48


@operator_view
def intents(request):
    query = request.GET
    org = request.org
    verdict = choice(query.get("verdict", ""), [*GateDecision.Verdict.choices, (HELD, "")])
    filters = {
        "status": choice(query.get("status", ""), MessageIntent.Status.choices),
        "origin": choice(query.get("origin", ""), MessageIntent.Origin.choices),
        "job_status": choice(query.get("job_status", ""), ExecutionJob.Status.choices),
        "since": local_midnight(org, query.get("since")),
        "until": local_midnight(org, query.get("until"), after=True),
        "number_id": number(query.get("number")),
        "verdict": verdict,
        "reason": query.get("reason", "")[:MAX_CODE] if verdict and "reason" in query else None,
        "stopped": query.get("stopped", "")[:MAX_CODE] or None,
        "due": query.get("by") == "due",
        "followups": query.get("followups") if query.get("followups") in FOLLOWUPS else None,
    }
    rows = list(
        filter_intents(scoped(org, MessageIntent), **filters)
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
        "days": {"since": query.get("since", ""), "until": query.get("until", "")},
        "narrowed": narrowed_words(org, query, filters),
        "statuses": list(wording.STATES.items()),
        "origins": list(wording.ORIGINS.items()),
        "job_statuses": ExecutionJob.Status.choices,
        # The export form of the Gate's decisions: from the day filtered on (the last 30
        # days without one) to today, days the person may change.
        "export_dates": export_dates(filters),
        "export_kinds": [("intents", _("Sending decisions"))],
    }
    template = "engine/_intent_rows.html" if request.htmx else "engine/intents.html"
    return render(request, template, context)


def export_dates(filters: dict) -> tuple[str, str]:
    """The first and last day the export form offers: the list's own days (its `since` and
    `until` are the organization's local midnights), else the last 30 days."""
    today = timezone.localdate()
    since, until = filters["since"], filters["until"]
    first = timezone.localtime(since).date() if since else today - timedelta(days=29)
    last = timezone.localtime(until - timedelta(microseconds=1)).date() if until else today
    return first.isoformat(), last.isoformat()


def narrowed_words(org, query, filters: dict) -> dict | None:
    """The filters Insights' links add beyond the form's (a Gate decision and its reason, a
    follow-up's stop reason, a number, due times), kept as hidden fields and said in words."""
    names = ("number", "verdict", "reason", "stopped", "by", "followups")
    kept = {k: query[k] for k in names if k in query}
    if not (
        filters["verdict"]
        or filters["stopped"]
        or filters["number_id"]
        or filters["due"]
        or filters["followups"]
    ):
        return None
    return {
        "kept": kept,
        "held": filters["verdict"] == HELD,
        "verdict": filters["verdict"] in GateDecision.Verdict.values
        and GateDecision.Verdict(filters["verdict"]).label,
        "reason": filters["reason"] and reason_words(org, filters["reason"]),
        "stopped": filters["stopped"]
        and dict(FollowUp.CancelReason.choices).get(filters["stopped"], filters["stopped"]),
        "number": filters["number_id"]
        and scoped(org, Number).filter(pk=filters["number_id"]).first(),
        "due": filters["due"],
        "followups": filters["followups"],
    }


def reason_words(org, code: str) -> str:
    """A reason code as the Gate worded it last."""
    said = scoped(org, GateDecision).filter(reason_code=code).exclude(reason="")
    return said.order_by("-created_at").values_list("reason", flat=True).first() or code


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
