from django.db import migrations, models

# The Contacts page's search reads custom field values as `custom_fields__icontains`, which
# Django writes on PostgreSQL as UPPER(custom_fields::text) LIKE UPPER('%q%'): a trigram index
# on that expression answers it as 0008's do for names and numbers. PostgreSQL only.
FIELDS_TRIGRAM = "contact_fields_trgm"


def add_fields_trigram(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {FIELDS_TRIGRAM} ON inbox_contact"
        " USING gin (UPPER(custom_fields::text) gin_trgm_ops)"
    )


def drop_fields_trigram(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {FIELDS_TRIGRAM}")


class Migration(migrations.Migration):
    dependencies = [("inbox", "0017_message_removed_contact_erased")]

    operations = [
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["organization", "name", "id"], name="contact_by_name"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                fields=["organization", "created_at", "id"], name="contact_by_created"
            ),
        ),
        migrations.RunPython(add_fields_trigram, drop_fields_trigram),
    ]
