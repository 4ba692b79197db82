# A recipient's organization is its campaign's and its number its intent's: the database no
# longer checks these copies again (accounts.models.COPIED). PostgreSQL only.

import django.db.models.deletion
from django.db import migrations, models

from conversa.bulk import drop_foreign_key

COPIES = [
    ("campaigns_campaignrecipient", "number_id"),
    ("campaigns_campaignrecipient", "organization_id"),
]


def drop(apps, schema_editor):
    for table, column in COPIES:
        drop_foreign_key(schema_editor.connection, table, column)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0013_retention_and_audit_erasure"),
        ("campaigns", "0006_fewer_indexes"),
        ("instances", "0007_numbers_webhook_health"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop, migrations.RunPython.noop)],
            state_operations=[
                migrations.AlterField(
                    model_name="campaignrecipient",
                    name="number",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="instances.number",
                    ),
                ),
                migrations.AlterField(
                    model_name="campaignrecipient",
                    name="organization",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
            ],
        )
    ]
