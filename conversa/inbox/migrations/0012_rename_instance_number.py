from django.db import migrations, models


class Migration(migrations.Migration):
    """The number a row belongs to is called `number` (the model was renamed from Instance).
    The indexes and constraints on the field are taken off around the rename and put back on
    `number` (SQLite rebuilds the table on a foreign key's rename, and they must name it)."""

    dependencies = [
        ("inbox", "0011_tag_colour_validator"),
        ("instances", "0006_rename_instance_number"),
    ]

    operations = [
        migrations.RemoveConstraint("conversation", "conversation_one_unresolved_per_contact"),
        migrations.RemoveConstraint("message", "message_unique_provider_id"),
        migrations.RenameField("conversation", "instance", "number"),
        migrations.RenameField("message", "instance", "number"),
        migrations.AddConstraint(
            "conversation",
            models.UniqueConstraint(
                fields=["number", "contact"],
                name="conversation_one_unresolved_per_contact",
                condition=~models.Q(status="resolved"),
            ),
        ),
        migrations.AddConstraint(
            "message",
            models.UniqueConstraint(
                fields=["number", "provider_message_id"],
                name="message_unique_provider_id",
                condition=~models.Q(provider_message_id=""),
            ),
        ),
    ]
