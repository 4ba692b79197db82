# Foreign keys whose own index another index already leads with lose it (an index fewer to
# write per row: a campaign's start writes 100,000 of each).

import django.db.models.deletion
from django.db import migrations, models

from conversa.bulk import drop_single_column_index

REDUNDANT = [
    ("engine_executionjob", "number_id"),
    ("engine_gatedecision", "organization_id"),
    ("engine_messageintent", "organization_id"),
]


def drop(apps, schema_editor):
    for table, column in REDUNDANT:
        drop_single_column_index(schema_editor.connection, table, column)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0013_retention_and_audit_erasure"),
        ("engine", "0013_gate_decision_reason"),
        ("instances", "0007_numbers_webhook_health"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop, migrations.RunPython.noop)],
            state_operations=[
                migrations.AlterField(
                    model_name="executionjob",
                    name="number",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="jobs",
                        to="instances.number",
                    ),
                ),
                migrations.AlterField(
                    model_name="gatedecision",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
                migrations.AlterField(
                    model_name="messageintent",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
            ],
        )
    ]
