"""Reading intents for the Intents page and the API alike: their filters and timeline."""

from datetime import datetime

from django.db.models import Exists, OuterRef

from conversa.accounts.models import OperationalEvent
from conversa.accounts.scoping import scoped
from conversa.engine.models import GateDecision, MessageIntent

# Deferred or blocked: the Gate held the message (Insights' "held" per number).
HELD = "held"


FOLLOWUPS = ("live", "waiting")


def filter_intents(
    intents,
    *,
    status=None,
    origin=None,
    job_status=None,
    number_id=None,
    contact_id=None,
    since: datetime | None = None,
    until: datetime | None = None,
    verdict: str | None = None,
    reason: str | None = None,
    stopped: str | None = None,
    due: bool = False,
    followups: str | None = None,
):
    """The Intents page's and the API's filters, in one place. The window [since, until)
    applies to when the intent was made; to when a Gate decision with `verdict` (or HELD: a
    deferral or a block) and reason
    code `reason`, "" for none) was made, on `number_id` then, when a verdict is given; to a
    follow-up's due time when `due`. `stopped`: follow-ups cancelled for that reason;
    `followups`: "live", follow-ups not stopped; "waiting", those still to go (not stopped, not
    yet sent, blocked or failed), as Insights counts them."""
    if status:
        intents = intents.filter(status=status)
    if origin:
        intents = intents.filter(origin=origin)
    if job_status:
        intents = intents.filter(job__status=job_status)
    if contact_id:
        intents = intents.filter(contact_id=contact_id)
    if stopped:
        intents = intents.filter(follow_up__cancel_reason=stopped)
    if followups in FOLLOWUPS:
        intents = intents.filter(follow_up__isnull=False, follow_up__cancelled_at__isnull=True)
    if followups == "waiting":
        done = [
            MessageIntent.Status.SENT,
            MessageIntent.Status.BLOCKED,
            MessageIntent.Status.FAILED,
        ]
        intents = intents.exclude(status__in=done)
    if verdict:
        held = [GateDecision.Verdict.DEFER, GateDecision.Verdict.BLOCK]
        verdicts = held if verdict == HELD else [verdict]
        decided = GateDecision.objects.filter(intent=OuterRef("pk"), verdict__in=verdicts)
        if reason is not None:
            decided = decided.filter(reason_code=reason)
        if number_id:
            decided = decided.filter(number_id=number_id)
        return intents.filter(Exists(window(decided, "created_at", since, until)))
    if number_id:
        intents = intents.filter(number_id=number_id)
    return window(intents, "follow_up__due_at" if due else "created_at", since, until)


def window(rows, field: str, since: datetime | None, until: datetime | None):
    if since:
        rows = rows.filter(**{f"{field}__gte": since})
    if until:
        rows = rows.filter(**{f"{field}__lt": until})
    return rows


def timeline(intent: MessageIntent) -> list[dict]:
    """The intent's recorded events and each Gate decision on it, oldest first. A decision is
    stored once, as its GateDecision row (invariant 6), and told here from that row: repeating
    it as an event would cost a second row per decision (a campaign's start makes 100,000).
    Older databases also hold "gate.*" events of those decisions: left out, not shown twice."""
    events = scoped(intent.organization, OperationalEvent).filter(
        object_type="messageintent", object_id=intent.pk
    )
    entries = [
        {
            "at": e.created_at,
            "verb": e.verb,
            "actor": e.actor_label,
            "by_person": e.actor_id is not None,
            "data": e.data,
        }
        for e in events.exclude(verb__startswith="gate.").order_by("created_at", "id")
    ]
    if not any(entry["verb"] == "intent.created" for entry in entries):
        # Intents made in bulk (a campaign's, `services.queue_intents`) have no entry of their
        # own: their creation is told from the row itself.
        entries.insert(
            0,
            {
                "at": intent.created_at,
                "verb": "intent.created",
                "actor": "system",
                "by_person": False,
                "data": {"origin": intent.origin},
            },
        )
    decisions = scoped(intent.organization, GateDecision).filter(intent=intent)
    entries += [
        {
            "at": d.created_at,
            "verb": f"gate.{d.verdict}",
            "actor": "gate",
            "by_person": False,
            "data": {"reason": d.reason},
        }
        for d in decisions.order_by("created_at", "id")
    ]
    # Stable: an event and a decision made at the same instant keep that order.
    return sorted(entries, key=lambda entry: entry["at"])


def api_tokens_of(org, intents: list[MessageIntent]) -> dict[int, str]:
    """Intent id → the name of the API token it was asked for with, for those of `intents`
    that came through the API with one (read from their "intent.created" entries)."""
    through_api = [i for i in intents if i.origin == MessageIntent.Origin.API]
    if not through_api:
        return {}
    events = scoped(org, OperationalEvent).filter(
        object_type="messageintent",
        object_id__in=[i.pk for i in through_api],
        verb="intent.created",
        data__has_key="api_token",
    )
    return {e.object_id: e.data["api_token"] for e in events}
