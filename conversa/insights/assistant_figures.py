"""The assistant's figures on the Insights page and in its API: what it answered, when it handed
customers to the team and why, how people rated it, and the tokens and estimated cost of its
model calls on each local day (the seeds' "tokens and cost per day").

They are the organization's whole, for owners, admins and supervisors: its model calls are one
budget, and the number, queue, agent and tag filters do not narrow them. A few aggregate queries
over the period's rows of the AI log (one row per model call or output, far fewer than
messages)."""

from decimal import Decimal

from django.db.models import Count, Q, Sum

from conversa.accounts.models import OperationalEvent, Organization
from conversa.assistant.models import AssistantOutput, AssistantSession, ModelCall
from conversa.assistant.outputs import accuracy
from conversa.insights.figures import local_days, share

Outcome = AssistantOutput.Outcome
# The handoff reasons listed, most frequent first; the rest are in the total.
TOP_REASONS = 8


def assistant(org: Organization, start, end) -> dict:
    """The assistant in the period [start, end):
    - `answers_sent`: replies it sent customers through the Gate (its "I do not know" too; not
      the words that pass a customer to a person);
    - `handoffs` and `handoff_reasons` (most frequent first): each time it handed a
      conversation to the team (its audit entries: a conversation handed off twice counts
      twice);
    - `rated`, `rated_good`, `good_pct`: people's ratings of its outputs of the period;
    - `tokens`, `cost` (US dollars, None when no call had a price) and `per_day`: its model
      calls by the organization's local day, zero days included."""
    period = Q(created_at__gte=start, created_at__lt=end)
    answers_sent = (
        AssistantOutput.objects.for_org(org)
        .filter(period, kind=AssistantOutput.Kind.REPLY, intent__isnull=False)
        .exclude(outcome=Outcome.HANDED_OFF)
        .count()
    )
    reasons = list(
        OperationalEvent.objects.for_org(org)
        .filter(period, verb="assistant.stopped", data__state=AssistantSession.State.HANDED_OFF)
        .values_list("data__reason")
        .annotate(n=Count("pk"))
        .order_by("-n", "data__reason")
    )
    calls = {
        day: (tokens or 0, cost)
        for day, tokens, cost in ModelCall.objects.for_org(org)
        .filter(period)
        .values_list("day")
        .annotate(tokens=Sum("prompt_tokens") + Sum("completion_tokens"), cost=Sum("cost"))
    }
    per_day = []
    for day in local_days(org, start, end):
        tokens, cost = calls.get(day, (0, None))
        per_day.append({"day": day, "tokens": tokens, "cost": cost})
    costs = [row["cost"] for row in per_day if row["cost"] is not None]
    rated = accuracy(org, since=start, until=end)
    return {
        "answers_sent": answers_sent,
        "handoffs": sum(n for _, n in reasons),
        "handoff_reasons": [
            {"reason": reason or "", "count": n} for reason, n in reasons[:TOP_REASONS]
        ],
        "rated": rated.rated,
        "rated_good": rated.good,
        "good_pct": share(rated.good, rated.rated),
        "tokens": sum(row["tokens"] for row in per_day),
        "cost": sum(costs, Decimal(0)) if costs else None,
        "per_day": per_day,
    }
