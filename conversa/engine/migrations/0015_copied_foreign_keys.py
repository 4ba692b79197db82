# A job's organization and contact, and a Gate decision's organization, are copies of their
# intent's: the database no longer checks them again (accounts.models.COPIED). PostgreSQL only.

import django.db.models.deletion
from django.db import migrations, models

from conversa.bulk import drop_foreign_key

COPIES = [
    ("engine_executionjob", "contact_id"),
    ("engine_executionjob", "organization_id"),
    ("engine_gatedecision", "organization_id"),
]


def drop(apps, schema_editor):
    for table, column in COPIES:
        drop_foreign_key(schema_editor.connection, table, column)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0013_retention_and_audit_erasure"),
        ("engine", "0014_fewer_indexes"),
        ("inbox", "0022_conversation_waiting"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop, migrations.RunPython.noop)],
            state_operations=[
                migrations.AlterField(
                    model_name="executionjob",
                    name="contact",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="inbox.contact",
                    ),
                ),
                migrations.AlterField(
                    model_name="executionjob",
                    name="organization",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
                migrations.AlterField(
                    model_name="gatedecision",
                    name="organization",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
            ],
        )
    ]
