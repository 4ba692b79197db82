from django.db import migrations, models
from django.db.models import Count, Q


def resolve_older_duplicates(apps, schema_editor):
    """Before the constraint: where a race already left a contact with several unresolved
    conversations on one number, keep the newest live and resolve the others."""
    Conversation = apps.get_model("inbox", "Conversation")
    live = Conversation.objects.exclude(status="resolved")
    doubled = (
        live.values("instance_id", "contact_id").annotate(n=Count("id")).filter(n__gt=1)
    )
    for pair in doubled:
        ids = list(
            live.filter(instance_id=pair["instance_id"], contact_id=pair["contact_id"])
            .order_by("-id")
            .values_list("id", flat=True)
        )
        Conversation.objects.filter(id__in=ids[1:]).update(status="resolved")


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(resolve_older_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="conversation",
            constraint=models.UniqueConstraint(
                condition=~Q(status="resolved"),
                fields=("instance", "contact"),
                name="conversation_one_unresolved_per_contact",
            ),
        ),
    ]
