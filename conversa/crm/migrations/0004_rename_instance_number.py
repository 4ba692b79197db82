from django.db import migrations


class Migration(migrations.Migration):
    """The number a row belongs to is called `number` (the model was renamed from Instance)."""

    dependencies = [
        ("crm", "0003_stage_colour"),
        ("instances", "0006_rename_instance_number"),
    ]

    operations = [
        migrations.RenameField("automation", "instance", "number"),
    ]
