# A contact's phone and an identity's value lead their unique indexes: every lookup by them
# names them, and an index that led with the organization let PostgreSQL, before it had
# statistics of a new organization's rows, read all of them for each lookup of a batch's phones
# (inbox 0023 removed the organization's own indexes for the same reason).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0013_retention_and_audit_erasure"),
        ("inbox", "0023_contact_organization_index"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="contactidentity",
            name="contact_identity_unique",
        ),
        migrations.AddConstraint(
            model_name="contactidentity",
            constraint=models.UniqueConstraint(
                fields=("value", "organization", "kind"), name="contact_identity_unique"
            ),
        ),
        migrations.RemoveConstraint(
            model_name="contact",
            name="contact_unique_phone",
        ),
        migrations.AddConstraint(
            model_name="contact",
            constraint=models.UniqueConstraint(
                condition=models.Q(("phone", ""), _negated=True),
                fields=("phone", "organization"),
                name="contact_unique_phone",
            ),
        ),
    ]
