"""Inbound flow: verify → store the raw event once → normalize → apply in one transaction."""

from dataclasses import fields

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from conversa.bulk import insert_new
from conversa.engine.services import log_status
from conversa.inbound import consequences
from conversa.inbound.unparsed import MAX_REASON, unparsed_events, unparsed_item
from conversa.inbox import media, message_changes
from conversa.inbox import services as inbox
from conversa.numbers import services as numbers
from conversa.numbers import webhooks as webhook_health
from conversa.numbers.models import Number
from conversa.providers.base import (
    ConnectionUpdate,
    IdentityUpdate,
    InboundMessage,
    MessageChange,
    ParsedEvent,
    PreferenceUpdate,
    QrUpdate,
    StatusUpdate,
    Unparsed,
    WebhookMalformed,
    WebhookTooLarge,
)
from conversa.providers.models import ProviderEvent
from conversa.providers.registry import get_provider
from conversa.realtime import publisher

log = structlog.get_logger(__name__)


def read_webhook(number: Number, headers, raw_body: bytes) -> list[ParsedEvent]:
    """Verify a webhook POST (WebhookRejected when it does not prove where it came from) and
    parse it into events, storing nothing. Once verified nothing is refused: a body the parser
    cannot read, or that fails it, is one Unparsed event holding the body."""
    provider = get_provider(number)
    provider.verify_webhook(number, headers, raw_body)
    try:
        return provider.parse_webhook(number, raw_body)
    except WebhookMalformed as exc:
        return [unparsed_item(raw_body, str(exc))]
    except WebhookTooLarge:
        raise
    except Exception as exc:
        # A parser's bug must not lose a verified webhook: kept, to be read after the fix.
        log.exception("the %s parser failed on a verified webhook", number.provider)
        return [unparsed_item(raw_body, f"the parser failed: {type(exc).__name__}")]


def apply_webhook(number: Number, raw_body: bytes, parsed: list[ParsedEvent]) -> list[bool]:
    """`apply_events` for one webhook's events; if they cannot be stored (a value the
    database refuses, an apply bug), the body is kept as one Unparsed event instead."""
    batch = [(number, item) for item in parsed]
    try:
        return apply_events(batch)
    except Exception as exc:
        return keep_unstorable(number, raw_body, exc)


def keep_unstorable(number: Number, raw_body: bytes, exc: Exception) -> list[bool]:
    """Store a verified body whose events failed to store as one Unparsed event."""
    log.error("a %s webhook could not be applied (%s): kept unparsed", number.provider, exc)
    reason = f"could not be stored: {type(exc).__name__}"
    return apply_events([(number, unparsed_item(raw_body, reason))])


def counted(stored: list[bool]) -> dict:
    return {"stored": sum(stored), "duplicates": len(stored) - sum(stored)}


def apply_events(batch: list[tuple[Number, ParsedEvent]]) -> list[bool]:
    """Store and apply many events (of one webhook, or of many received at once) in one
    transaction; for each, False if it was seen before.

    New inbound messages go in bulk: a few statements for the batch. Everything else, and the
    whole batch when another process races it (a unique constraint refuses a bulk insert), goes
    one event at a time through `apply_event`.
    """
    if not batch:
        return []
    try:
        with publisher.batch(), transaction.atomic():
            stored = apply_in_bulk(batch)
    except IntegrityError:
        with publisher.batch(), transaction.atomic():
            stored = [apply_event(number, item) for number, item in batch]
    # After the commit: what a card reads is never ahead of the webhooks stored.
    webhook_health.heard_from([number for number, _ in batch], timezone.now())
    return stored


def apply_in_bulk(batch: list[tuple[Number, ParsedEvent]]) -> list[bool]:
    seen: set[tuple[int, str]] = set()
    results: list[bool] = []
    fresh: list[tuple[int, ProviderEvent, Number, InboundMessage]] = []
    for number, item in batch:
        key = (number.pk, item.dedupe_key)
        if key in seen:
            results.append(False)
            continue
        seen.add(key)
        if isinstance(item.event, InboundMessage) and not item.event.from_me:
            fresh.append(
                (len(results), record_of(number, item, processed=True), number, item.event)
            )
            results.append(False)
        else:
            # Rare kinds (statuses, changes, the business's own phone messages, connection, QR)
            # keep their one-at-a-time path.
            results.append(apply_event(number, item))
    # One statement both stores the new events and tells which were seen before.
    stored = {
        id(record)
        for record in insert_new([record for _, record, _, _ in fresh], ["number", "dedupe_key"])
    }
    arrivals = []
    for position, record, number, event in fresh:
        if id(record) in stored:
            results[position] = True
            arrivals.append((number, event))
    consequences.receive_messages(arrivals)
    return results


def record_of(number: Number, item: ParsedEvent, *, processed: bool = False) -> ProviderEvent:
    event = item.event
    return ProviderEvent(
        organization_id=number.organization_id,
        number=number,
        kind=type(event).__name__,
        dedupe_key=item.dedupe_key,
        provider_message_id=getattr(event, "provider_message_id", ""),
        reference=getattr(event, "reference", ""),
        event=event_record(event),
        payload=item.raw,
        reason=event.reason[:MAX_REASON] if isinstance(event, Unparsed) else "",
        processed_at=timezone.now() if processed else None,
    )


def event_record(event) -> dict:
    """The neutral event as its row keeps it: a media file's bytes carried in the webhook stay
    in the raw payload only, not a second time here."""
    # Its fields as they are: the row is written out before anything else reads the event,
    # and dataclasses.asdict's copy of every nested dict and list cost more than the rest of
    # building the row.
    record = {field.name: getattr(event, field.name) for field in fields(event)}
    if isinstance(record.get("content"), dict):
        record["content"] = media.without_bytes(record["content"])
    return record


@transaction.atomic
def apply_event(number: Number, item: ParsedEvent) -> bool:
    """Store the event under its dedupe key and apply it; False if it was seen before."""
    event = item.event
    try:
        with transaction.atomic():
            record = record_of(number, item)
            record.save()
    except IntegrityError:
        return False
    applied = True
    if isinstance(event, InboundMessage):
        consequences.receive_message(number, event)
    elif isinstance(event, MessageChange):
        # Kept unprocessed until its message is stored (`message_changes.apply_early_changes`).
        applied = message_changes.apply_change(number, event, record)
    elif isinstance(event, IdentityUpdate):
        message_changes.apply_identity_update(number, event)
    elif isinstance(event, PreferenceUpdate):
        consequences.preference_changed(number, event)
    elif isinstance(event, Unparsed):
        # Kept unprocessed until `conversa reprocess-events` reads it.
        applied = False
        provider = number.provider
        transaction.on_commit(lambda: unparsed_events.labels(provider=provider).inc())
    elif isinstance(event, StatusUpdate):
        message = inbox.apply_status(number, event)
        applied = message is not None
        if applied:
            log_status(message, event)
    elif isinstance(event, ConnectionUpdate):
        numbers.apply_connection(number, event.status, phone=event.phone, reason=event.reason)
    elif isinstance(event, QrUpdate):
        numbers.apply_qr(number, event.code)
    if applied:
        ProviderEvent.objects.filter(pk=record.pk).update(processed_at=timezone.now())
    return True
