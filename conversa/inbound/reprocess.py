"""Read again, with today's parsers, what verified webhooks held that could not be read when
they came (`conversa reprocess-events`)."""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from conversa.inbound import services
from conversa.inbound.unparsed import MAX_REASON, body_of
from conversa.providers.base import Unparsed, WebhookMalformed
from conversa.providers.models import ProviderEvent
from conversa.providers.registry import get_provider

log = logging.getLogger(__name__)


def reprocess_events(*, since: datetime | None = None, number_id: int | None = None) -> dict:
    """Parse each unprocessed Unparsed event again (no signature check: it was verified when
    it came) and apply what now parses through the usual path, whose dedupe keys make a
    second run change nothing. An event is marked processed once nothing in it is unparsed.

    Returns {examined, reparsed (now fully read), still_unparsed, applied (events stored)}.
    """
    records = ProviderEvent.objects.filter(
        kind=Unparsed.__name__, processed_at__isnull=True
    ).select_related("number__organization")
    if since is not None:
        records = records.filter(received_at__gte=since)
    if number_id is not None:
        records = records.filter(number_id=number_id)
    summary = {"examined": 0, "reparsed": 0, "still_unparsed": 0, "applied": 0}
    # The ids first: the rows change as they are read (SQLite gives no isolation between a
    # cursor and writes on the same connection).
    ids = list(records.order_by("id").values_list("pk", flat=True))
    for start in range(0, len(ids), 200):
        for record in records.filter(pk__in=ids[start : start + 200]).order_by("id"):
            summary["examined"] += 1
            applied, reason = reprocess(record)
            summary["applied"] += applied
            summary["reparsed" if reason is None else "still_unparsed"] += 1
    return summary


def reprocess(record: ProviderEvent) -> tuple[int, str | None]:
    """(events newly stored, None when nothing is left unread, else why) for one record."""
    number = record.number
    try:
        parsed = get_provider(number).parse_webhook(number, body_of(record))
    except WebhookMalformed as exc:
        return 0, keep_reason(record, str(exc))
    except Exception as exc:
        log.exception("the %s parser failed on unparsed event %s", number.provider, record.pk)
        return 0, keep_reason(record, f"the parser failed: {type(exc).__name__}")
    unread = [item for item in parsed if isinstance(item.event, Unparsed)]
    readable = [(number, item) for item in parsed if not isinstance(item.event, Unparsed)]
    try:
        with transaction.atomic():
            applied = sum(services.apply_events(readable))
            if not unread:
                ProviderEvent.objects.filter(pk=record.pk).update(processed_at=timezone.now())
    except Exception as exc:
        log.exception("unparsed event %s could not be applied", record.pk)
        return 0, keep_reason(record, f"could not be stored: {type(exc).__name__}")
    if unread:
        return applied, keep_reason(record, unread[0].event.reason)
    return applied, None


def keep_reason(record: ProviderEvent, reason: str) -> str:
    """Today's reason replaces the old one: the page says why it is still unread."""
    reason = reason[:MAX_REASON]
    if reason != record.reason:
        ProviderEvent.objects.filter(pk=record.pk).update(reason=reason)
    return reason
