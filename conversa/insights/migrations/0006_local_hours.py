# The counts' hours become the organization's local hours (rows.hour), the conversations each
# member handled are counted by local day (rows.HANDLED) and the first response and resolution
# times in buckets (rows.DURATION_BOUNDS): the triggers for them, the handled rows written again
# in local hours, and every organization's counts rebuilt (its durations' settled seconds kept).

from types import SimpleNamespace

from django.db import migrations, models

from conversa.insights import aggregates, triggers


def drop(apps, schema_editor):
    # SQLite rewrites insights_delta to change its column: no trigger may name it meanwhile.
    triggers.drop(schema_editor.connection)


def install(apps, schema_editor):
    connection = schema_editor.connection
    triggers.install(connection)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM insights_handled")
        aggregates.rebuild_handled(cursor)
    Organization = apps.get_model("accounts", "Organization")
    for pk in Organization.objects.values_list("pk", flat=True):
        aggregates.rebuild(SimpleNamespace(pk=pk), counts_only=True)


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0005_covering_indexes"),
    ]

    # Back: the triggers keep counting the new rows, which nothing reads.
    operations = [
        migrations.RunPython(drop, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="delta",
            name="value",
            field=models.BigIntegerField(),
        ),
        migrations.RunPython(install, migrations.RunPython.noop),
    ]
