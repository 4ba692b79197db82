from django.db import migrations, models


class Migration(migrations.Migration):
    """The number a row belongs to is called `number` (the model was renamed from Instance).
    The indexes and constraints on the field are taken off around the rename and put back on
    `number` (SQLite rebuilds the table on a foreign key's rename, and they must name it)."""

    dependencies = [
        ("providers", "0005_sandbox_models_moved"),
        ("instances", "0006_rename_instance_number"),
    ]

    operations = [
        migrations.RemoveConstraint("providerevent", "provider_event_unique_key"),
        migrations.RemoveIndex("providerevent", "providers_p_instanc_0348e1_idx"),
        migrations.RenameField("providerevent", "instance", "number"),
        migrations.AddConstraint(
            "providerevent",
            models.UniqueConstraint(
                fields=["number", "dedupe_key"], name="provider_event_unique_key"
            ),
        ),
        migrations.AddIndex(
            "providerevent",
            models.Index(
                fields=["number", "provider_message_id"], name="providers_p_number__922743_idx"
            ),
        ),
    ]
