# The simulator's two models moved here from the providers app; their tables stay as they were
# (db_table), so this migration only tells Django's state where they now live.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("providers", "0004_sandbox_lifecycle_and_disorder"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SandboxInstance",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("protocol", models.CharField(default="evolution", max_length=16)),
                        ("name", models.CharField(max_length=120, unique=True)),
                        ("token", models.CharField(max_length=64)),
                        ("app_secret", models.CharField(blank=True, max_length=200)),
                        ("state", models.CharField(default="close", max_length=16)),
                        ("owner_phone", models.CharField(blank=True, max_length=20)),
                        ("qr_code", models.CharField(blank=True, max_length=200)),
                        ("qr_count", models.PositiveIntegerField(default=0)),
                        ("webhook_enabled", models.BooleanField(default=True)),
                        ("webhook_url", models.CharField(blank=True, max_length=500)),
                        ("webhook_headers", models.JSONField(blank=True, default=dict)),
                        ("webhook_events", models.JSONField(blank=True, default=list)),
                        ("webhook_by_events", models.BooleanField(default=False)),
                        ("webhook_base64", models.BooleanField(default=False)),
                        ("latency_ms", models.PositiveIntegerField(default=0)),
                        ("failure_rate", models.FloatField(default=0.0)),
                        ("timeout_rate", models.FloatField(default=0.0)),
                        ("hang_rate", models.FloatField(default=0.0)),
                        ("duplicate_rate", models.FloatField(default=0.0)),
                        ("reorder_ms", models.PositiveIntegerField(default=0)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={"db_table": "providers_sandboxinstance"},
                ),
                migrations.CreateModel(
                    name="SandboxMessage",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("chat_phone", models.CharField(max_length=20)),
                        ("customer_name", models.CharField(blank=True, max_length=120)),
                        ("from_me", models.BooleanField()),
                        ("kind", models.CharField(default="text", max_length=16)),
                        ("message_id", models.CharField(max_length=64, unique=True)),
                        ("text", models.TextField()),
                        ("status", models.CharField(default="PENDING", max_length=16)),
                        ("reference", models.CharField(blank=True, db_index=True, max_length=128)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("instance", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="messages", to="sandbox.sandboxinstance")),
                    ],
                    options={"db_table": "providers_sandboxmessage", "ordering": ["created_at", "id"]},
                ),
            ],
            database_operations=[],
        ),
    ]
