# Tag.colour is checked by the one colour rule (conversa.colours); the column is unchanged.

from django.db import migrations, models

import conversa.colours


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0010_queue_index_stats"),
    ]

    operations = [
        migrations.AlterField(
            model_name="tag",
            name="colour",
            field=models.CharField(
                choices=[
                    ("grey", "Grey"),
                    ("red", "Red"),
                    ("orange", "Orange"),
                    ("yellow", "Yellow"),
                    ("green", "Green"),
                    ("teal", "Teal"),
                    ("blue", "Blue"),
                    ("purple", "Purple"),
                    ("pink", "Pink"),
                ],
                default="grey",
                max_length=8,
                validators=[
                    conversa.colours.ColourValidator(
                        [
                            "grey",
                            "red",
                            "orange",
                            "yellow",
                            "green",
                            "teal",
                            "blue",
                            "purple",
                            "pink",
                        ]
                    )
                ],
            ),
        ),
    ]
