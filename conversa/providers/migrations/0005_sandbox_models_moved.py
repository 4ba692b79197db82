# The simulator's models now belong to the sandbox app (sandbox 0001); their tables stay.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0004_sandbox_lifecycle_and_disorder"),
        ("sandbox", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="SandboxMessage"),
                migrations.DeleteModel(name="SandboxInstance"),
            ],
            database_operations=[],
        ),
    ]
