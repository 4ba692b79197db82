from django.db import migrations, models
from django.db.models import F, Q


def customers_first_messages(apps, schema_editor):
    """Cycles the customer wrote in (their last message since it opened) keep their clocks
    from the cycle's start, as before; the others (started by the business, or reopened by an
    operator, the customer silent since) have none until the customer writes."""
    Conversation = apps.get_model("inbox", "Conversation")
    wrote = Q(last_inbound_at__isnull=False, last_inbound_at__gte=F("opened_at"))
    Conversation.objects.filter(wrote).update(first_inbound_at=F("opened_at"))
    Conversation.objects.exclude(wrote).update(first_response_due_at=None, resolution_due_at=None)


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0014_presence_sockets_mentions"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="first_inbound_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(customers_first_messages, migrations.RunPython.noop),
    ]
