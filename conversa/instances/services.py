"""State changes of WhatsApp numbers."""

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
