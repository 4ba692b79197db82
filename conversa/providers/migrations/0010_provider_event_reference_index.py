# The reference's index holds only the events that carry one: before, every inbound webhook
# (with none) was written to two of them on PostgreSQL, a btree and one for LIKE, which no
# query uses.

from django.db import migrations, models

from conversa.bulk import drop_column_indexes

KEPT = "provider_event_reference"


def drop(apps, schema_editor):
    drop_column_indexes(schema_editor, "providers_providerevent", "reference", keep=KEPT)


class Migration(migrations.Migration):
    dependencies = [("providers", "0009_provider_event_indexes")]

    # The new index first, so that no lookup is left without one while it is built.
    operations = [
        migrations.AddIndex(
            model_name="providerevent",
            index=models.Index(
                condition=models.Q(("reference", ""), _negated=True),
                fields=["reference"],
                name=KEPT,
            ),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop, migrations.RunPython.noop)],
            state_operations=[
                migrations.AlterField(
                    model_name="providerevent",
                    name="reference",
                    field=models.CharField(blank=True, max_length=64),
                ),
            ],
        ),
    ]
