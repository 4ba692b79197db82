# The triggers' test for rows with no local hour is made on an aggregate (triggers.append), so
# that PostgreSQL no longer pushes it into each branch: deleting a conversation scanned every
# Gate decision, and compiled that plan (JIT) once per row.

from django.db import migrations

from conversa.insights import triggers


def install(apps, schema_editor):
    triggers.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0008_statement_triggers"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
