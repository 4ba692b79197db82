# The conversations' new counts: open now, the SLA's first replies and resolutions (with a target,
# and on time), and each tag's (rows.CONVERSATION_METRICS, rows.tagged); the triggers that keep
# them, and the counts of what is already there (each organization's counts rebuilt; its
# durations and their settled seconds kept).

from types import SimpleNamespace

from django.db import migrations

from conversa.insights import aggregates, triggers


def install(apps, schema_editor):
    triggers.install(schema_editor.connection)
    Organization = apps.get_model("accounts", "Organization")
    for pk in Organization.objects.values_list("pk", flat=True):
        aggregates.rebuild(SimpleNamespace(pk=pk), counts_only=True)


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0003_handled"),
        ("inbox", "0022_conversation_waiting"),
    ]

    # Back: the triggers keep counting the new rows, which nothing reads.
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
