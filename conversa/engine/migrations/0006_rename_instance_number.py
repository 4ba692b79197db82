from django.db import migrations, models


CODES = ["removed", "paused", "not_connected", "cooldown"]


def rename_reason_codes(apps, schema_editor, old="instance_", new="number_"):
    """The Gate's reason codes about the number were `instance_*`; the recorded ones follow."""
    GateDecision = apps.get_model("engine", "GateDecision")
    for code in CODES:
        GateDecision.objects.filter(reason_code=old + code).update(reason_code=new + code)


def restore_reason_codes(apps, schema_editor):
    rename_reason_codes(apps, schema_editor, old="number_", new="instance_")


class Migration(migrations.Migration):
    """The number a row belongs to is called `number` (the model was renamed from Instance).
    The indexes and constraints on the field are taken off around the rename and put back on
    `number` (SQLite rebuilds the table on a foreign key's rename, and they must name it)."""

    dependencies = [
        ("engine", "0005_intent_scheduled"),
        ("instances", "0006_rename_instance_number"),
    ]

    operations = [
        migrations.RemoveIndex("executionjob", "engine_exec_instanc_ceee1f_idx"),
        migrations.RemoveIndex("executionjob", "engine_exec_instanc_07bf29_idx"),
        migrations.RenameField("messageintent", "instance", "number"),
        migrations.RenameField("gatedecision", "instance", "number"),
        migrations.RenameField("executionjob", "instance", "number"),
        migrations.AddIndex(
            "executionjob",
            models.Index(fields=["number", "contact", "id"], name="engine_exec_number__97af01_idx"),
        ),
        migrations.AddIndex(
            "executionjob",
            models.Index(
                fields=["number", "status", "updated_at"], name="engine_exec_number__7fec48_idx"
            ),
        ),
        migrations.RunPython(rename_reason_codes, restore_reason_codes),
    ]
