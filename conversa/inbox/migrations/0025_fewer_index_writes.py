# A new customer's message writes fewer indexes: the conversation's organization loses its own
# (every index of its lists leads with it), and the conversation's queue and assignee and the
# message's sender are indexed only where set (a customer's message has no sender; a new
# conversation, often neither queue nor assignee). The new indexes first, so that no lookup
# is left without one while they are built.

import django.db.models.deletion
from django.db import migrations, models

from conversa.bulk import drop_column_indexes

DROPPED = [
    ("inbox_conversation", "organization_id", ""),
    ("inbox_conversation", "queue_id", "conversation_queue"),
    ("inbox_conversation", "assignee_id", "conversation_assignee"),
    ("inbox_message", "sender_id", "message_sender"),
]


def drop(apps, schema_editor):
    for table, column, kept in DROPPED:
        drop_column_indexes(schema_editor, table, column, keep=kept)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0013_retention_and_audit_erasure"),
        ("inbox", "0024_lookups_by_phone_first"),
        ("instances", "0007_numbers_webhook_health"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                condition=models.Q(("queue__isnull", False)),
                fields=["queue"],
                name="conversation_queue",
            ),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                condition=models.Q(("assignee__isnull", False)),
                fields=["assignee"],
                name="conversation_assignee",
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("sender__isnull", False)),
                fields=["sender"],
                name="message_sender",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop, migrations.RunPython.noop)],
            state_operations=[
                migrations.AlterField(
                    model_name="conversation",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
                migrations.AlterField(
                    model_name="conversation",
                    name="queue",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="conversations",
                        to="inbox.queue",
                    ),
                ),
                migrations.AlterField(
                    model_name="conversation",
                    name="assignee",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to="accounts.member",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="sender",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to="accounts.member",
                    ),
                ),
            ],
        ),
    ]
