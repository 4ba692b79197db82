# Contacts and their identities lose the index on their organization alone: the unique (and
# listing) indexes lead with it, and beside them it misled the planner into scanning a new
# organization's contacts for each phone an import looked up (models.Contact).

import django.db.models.deletion
from django.db import migrations, models

from conversa.bulk import drop_single_column_index

REDUNDANT = [
    ("inbox_contact", "organization_id"),
    ("inbox_contactidentity", "organization_id"),
]


def drop(apps, schema_editor):
    for table, column in REDUNDANT:
        drop_single_column_index(schema_editor.connection, table, column)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0013_retention_and_audit_erasure"),
        ("inbox", "0022_conversation_waiting"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop, migrations.RunPython.noop)],
            state_operations=[
                migrations.AlterField(
                    model_name="contact",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
                migrations.AlterField(
                    model_name="contactidentity",
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
