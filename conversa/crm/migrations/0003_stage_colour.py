# Stage.color is spelled Stage.colour, like Tag.colour, and is checked by the one colour rule.
# A rename keeps every stage's colour; rows that break the rule stay, and pages print the
# default colour for them (Stage.safe_colour).

from django.db import migrations, models

import conversa.colours


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0002_leads_automations_followups"),
    ]

    operations = [
        migrations.RenameField(model_name="stage", old_name="color", new_name="colour"),
        migrations.AlterField(
            model_name="stage",
            name="colour",
            field=models.CharField(
                default="#64748b",
                max_length=16,
                validators=[conversa.colours.ColourValidator()],
            ),
        ),
    ]
