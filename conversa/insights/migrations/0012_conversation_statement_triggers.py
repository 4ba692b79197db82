# On PostgreSQL, new conversations are counted once per statement (triggers.per_statement): the
# webhook front door inserts a batch of new customers' conversations in one statement, and
# counting them row by row ran five statements per conversation inside the insert.

from django.db import migrations

from conversa.insights import triggers


def install(apps, schema_editor):
    triggers.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0011_delta_vacuum"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
