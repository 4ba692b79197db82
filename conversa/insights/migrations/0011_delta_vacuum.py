# The deltas are a queue: written by every change, deleted by the fold a few seconds later. Its
# dead rows are what a figure's read of the unfolded deltas wades through (a month's range of
# the index), so PostgreSQL vacuums the table after a fixed number of them, not after a fifth
# of a table that is nearly always empty.

from django.db import migrations


def tune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE insights_delta SET (autovacuum_vacuum_scale_factor = 0, "
            "autovacuum_vacuum_threshold = 10000)"
        )


def untune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE insights_delta RESET (autovacuum_vacuum_scale_factor, "
            "autovacuum_vacuum_threshold)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0010_daily_counts"),
    ]

    operations = [migrations.RunPython(tune, untune)]
