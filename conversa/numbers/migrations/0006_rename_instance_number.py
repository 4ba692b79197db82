from django.db import migrations, models


class Migration(migrations.Migration):
    """The model says what people call it: a number. Its rows are kept (the table is renamed)."""

    dependencies = [
        ("instances", "0005_secrets_encrypted_qr_evolution_server"),
        ("inbox", "0011_tag_colour_validator"),
        ("engine", "0005_intent_scheduled"),
        ("providers", "0005_sandbox_models_moved"),
        ("crm", "0003_stage_colour"),
    ]

    operations = [
        migrations.RenameModel("Instance", "Number"),
        migrations.RemoveConstraint("number", "instance_unique_provider_name"),
        migrations.AddConstraint(
            "number",
            models.UniqueConstraint(
                fields=["provider", "provider_name"], name="number_unique_provider_name"
            ),
        ),
    ]
