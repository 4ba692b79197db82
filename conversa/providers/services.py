"""Inbound flow: verify → store the raw event once → normalize → apply in one transaction."""

from dataclasses import asdict

from django.db import IntegrityError, transaction
from django.utils import timezone

from conversa.inbox import services as inbox
from conversa.instances import services as instances
from conversa.instances.models import Instance
from conversa.providers.base import (
    ConnectionUpdate,
    InboundMessage,
    ParsedEvent,
    QrUpdate,
    StatusUpdate,
)
from conversa.providers.models import ProviderEvent
from conversa.providers.registry import get_provider


def receive_webhook(instance: Instance, headers, raw_body: bytes) -> dict:
    """Verify, parse and apply one webhook POST. Returns counts of stored and repeated events.

    Raises WebhookRejected (nothing stored) or WebhookMalformed (nothing stored).
    """
    provider = get_provider(instance)
    provider.verify_webhook(instance, headers, raw_body)
    parsed = provider.parse_webhook(instance, raw_body)
    counts = {"stored": 0, "duplicates": 0}
    for item in parsed:
        counts["stored" if apply_event(instance, item) else "duplicates"] += 1
    return counts


@transaction.atomic
def apply_event(instance: Instance, item: ParsedEvent) -> bool:
    """Store the event under its dedupe key and apply it; False if it was seen before."""
    event = item.event
    try:
        with transaction.atomic():
            record = ProviderEvent.objects.create(
                organization_id=instance.organization_id,
                instance=instance,
                kind=type(event).__name__,
                dedupe_key=item.dedupe_key,
                provider_message_id=getattr(event, "provider_message_id", ""),
                reference=getattr(event, "reference", ""),
                event=asdict(event),
                payload=item.raw,
            )
    except IntegrityError:
        return False
    applied = True
    if isinstance(event, InboundMessage):
        inbox.receive_message(instance, event)
    elif isinstance(event, StatusUpdate):
        applied = inbox.apply_status(instance, event) is not None
    elif isinstance(event, ConnectionUpdate):
        instances.apply_connection(instance, event.status, phone=event.phone, reason=event.reason)
    elif isinstance(event, QrUpdate):
        instances.apply_qr(instance, event.code)
    if applied:
        ProviderEvent.objects.filter(pk=record.pk).update(processed_at=timezone.now())
    return True


def apply_early_statuses(sent: list[tuple[Instance, str]]) -> None:
    """Apply status updates that arrived before the sends they are about were recorded."""
    if not sent:
        return
    numbers = {instance.pk: instance for instance, _ in sent}
    wanted = {(instance.pk, provider_id) for instance, provider_id in sent}
    early = ProviderEvent.objects.filter(
        instance_id__in=numbers,
        kind=StatusUpdate.__name__,
        provider_message_id__in=[provider_id for _, provider_id in sent],
        processed_at__isnull=True,
    ).order_by("id")
    for record in early:
        if (record.instance_id, record.provider_message_id) not in wanted:
            continue
        instance = numbers[record.instance_id]
        if inbox.apply_status(instance, StatusUpdate(**record.event)) is not None:
            ProviderEvent.objects.filter(pk=record.pk).update(processed_at=timezone.now())
