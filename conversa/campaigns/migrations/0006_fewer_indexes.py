# Foreign keys whose own index another index already leads with lose it (an index fewer to
# write per row: a campaign's start writes 100,000 of each).

import django.db.models.deletion
from django.db import migrations, models

from conversa.bulk import drop_single_column_index

REDUNDANT = [
    ("campaigns_campaignrecipient", "campaign_id"),
    ("campaigns_campaignrecipient", "contact_id"),
]


def drop(apps, schema_editor):
    for table, column in REDUNDANT:
        drop_single_column_index(schema_editor.connection, table, column)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0005_segments_campaigns"),
        ("inbox", "0022_conversation_waiting"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop, migrations.RunPython.noop)],
            state_operations=[
                migrations.AlterField(
                    model_name="campaignrecipient",
                    name="campaign",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="recipients",
                        to="campaigns.campaign",
                    ),
                ),
                migrations.AlterField(
                    model_name="campaignrecipient",
                    name="contact",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="inbox.contact",
                    ),
                ),
            ],
        )
    ]
