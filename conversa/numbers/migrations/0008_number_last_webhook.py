from django.db import migrations, models
from django.db.models import Max, OuterRef, Subquery


def from_stored_webhooks(apps, schema_editor):
    """Each number's latest stored webhook, once: from now on the inbound path keeps it."""
    Number = apps.get_model("instances", "Number")
    ProviderEvent = apps.get_model("providers", "ProviderEvent")
    latest = (
        ProviderEvent.objects.filter(number=OuterRef("pk"))
        .values("number")
        .annotate(at=Max("received_at"))
        .values("at")
    )
    Number.objects.update(last_webhook_at=Subquery(latest))


class Migration(migrations.Migration):
    dependencies = [
        ("instances", "0007_numbers_webhook_health"),
        ("providers", "0010_provider_event_reference_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="number",
            name="last_webhook_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(from_stored_webhooks, migrations.RunPython.noop, elidable=True),
    ]
