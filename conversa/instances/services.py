"""State changes of WhatsApp numbers."""

from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from conversa.instances.models import Instance
from conversa.realtime import publisher


def apply_connection(instance: Instance, status: str, *, phone: str = "") -> None:
    """Record the provider's view of the connection (CONNECTION_UPDATE)."""
    fields = {"status": status, "last_activity_at": timezone.now()}
    if phone:
        fields["phone_number"] = phone
    Instance.objects.filter(pk=instance.pk).update(**fields)
    for name, value in fields.items():
        setattr(instance, name, value)
    publisher.publish(instance.organization_id, publisher.INSTANCE_UPDATED, instance_id=instance.id)


def record_activity(instance: Instance) -> None:
    Instance.objects.filter(pk=instance.pk).update(last_activity_at=timezone.now())


BREAKER_THRESHOLD = 5


def record_send_outcome(instance: Instance, *, ok: bool) -> None:
    """Feed the per-instance circuit breaker.

    A success closes it. The BREAKER_THRESHOLD-th failure in a row opens it for BREAKER_HOLD_SECONDS,
    during which the Gate defers this number's sends; once the hold ends (half-open) the next
    failure opens it again at once and the next success closes it.
    """
    numbers = Instance.objects.filter(pk=instance.pk)
    if ok:
        numbers.filter(breaker_failures__gt=0).update(breaker_failures=0, breaker_open_until=None)
        return
    numbers.update(breaker_failures=F("breaker_failures") + 1)
    opened = numbers.filter(breaker_failures__gte=BREAKER_THRESHOLD).update(
        breaker_open_until=timezone.now() + timedelta(seconds=settings.BREAKER_HOLD_SECONDS)
    )
    if opened:
        publisher.publish(
            instance.organization_id, publisher.INSTANCE_UPDATED, instance_id=instance.id
        )
