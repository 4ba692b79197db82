# On PostgreSQL, the inserts of Gate decisions and messages are counted once per statement
# (triggers.per_statement): a campaign's start inserts a decision per person in one statement.

from django.db import migrations

from conversa.insights import triggers


def install(apps, schema_editor):
    triggers.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0007_metric_index"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
