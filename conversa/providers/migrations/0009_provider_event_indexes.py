# Webhooks are found by their message's id first (ProviderEventQuerySet.about), and the number
# loses its index of its own: beside the unique key, which leads with it, that index misled the
# planner into reading every webhook of a new number for each batch. The index on (kind,
# processed_at), which every webhook was written to, becomes one on the unparsed alone.

import django.db.models.deletion
from django.db import migrations, models

from conversa.bulk import drop_single_column_index


def drop(apps, schema_editor):
    drop_single_column_index(schema_editor.connection, "providers_providerevent", "number_id")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0013_retention_and_audit_erasure"),
        ("instances", "0007_numbers_webhook_health"),
        ("providers", "0008_connection_index"),
    ]

    # The new indexes first, so that no lookup is left without one while they are built.
    operations = [
        migrations.AddIndex(
            model_name="providerevent",
            index=models.Index(
                fields=["provider_message_id", "number"], name="provider_event_message"
            ),
        ),
        migrations.AddIndex(
            model_name="providerevent",
            index=models.Index(
                condition=models.Q(("kind", "Unparsed"), ("processed_at__isnull", True)),
                fields=["organization", "received_at"],
                name="provider_event_unparsed",
            ),
        ),
        migrations.RemoveIndex(model_name="providerevent", name="providers_p_number__922743_idx"),
        migrations.RemoveIndex(model_name="providerevent", name="providers_p_kind_408f57_idx"),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop, migrations.RunPython.noop)],
            state_operations=[
                migrations.AlterField(
                    model_name="providerevent",
                    name="number",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="instances.number",
                    ),
                ),
            ],
        ),
    ]
