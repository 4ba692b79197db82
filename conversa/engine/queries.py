"""Reading intents for the Intents page and the API alike: their filters and timeline."""

from datetime import datetime

from conversa.accounts.models import OperationalEvent
from conversa.accounts.scoping import scoped
from conversa.engine.models import MessageIntent


def filter_intents(
    intents,
    *,
    status=None,
    origin=None,
    job_status=None,
    number_id=None,
    contact_id=None,
    since: datetime | None = None,
):
    """The Intents page's and the API's filters, in one place."""
    if status:
        intents = intents.filter(status=status)
    if origin:
        intents = intents.filter(origin=origin)
    if job_status:
        intents = intents.filter(job__status=job_status)
    if number_id:
        intents = intents.filter(number_id=number_id)
    if contact_id:
        intents = intents.filter(contact_id=contact_id)
    if since:
        intents = intents.filter(created_at__gte=since)
    return intents


def timeline(intent: MessageIntent) -> list[dict]:
    events = scoped(intent.organization, OperationalEvent).filter(
        object_type="messageintent", object_id=intent.pk
    )
    return [
        {
            "at": e.created_at,
            "verb": e.verb,
            "actor": e.actor_label,
            "by_person": e.actor_id is not None,
            "data": e.data,
        }
        for e in events.order_by("created_at", "id")
    ]


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
