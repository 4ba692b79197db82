"""A retention period per organization, and the audit trigger's one new exception: emptying
the details (`data`) of entries about a contact whose personal data is erased (LGPD), while the
transaction names the organization in `conversa.erasing_personal_data`
(`EventQuerySet.erase_data`). Every other rule of `audit_append_only` stays.
"""

from importlib import import_module

from django.db import migrations, models

# The function as it was (for the way back) and its PostgreSQL-only runner.
previous = import_module("conversa.accounts.migrations.0011_audit_append_only")

CREATE = """
CREATE OR REPLACE FUNCTION conversa_audit_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF current_setting('conversa.erasing_organization', true) = OLD.organization_id::text THEN
      RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit timeline is append-only: DELETE refused';
  END IF;
  IF NEW.id = OLD.id AND NEW.organization_id = OLD.organization_id AND NEW.verb = OLD.verb
     AND NEW.object_type = OLD.object_type AND NEW.actor_label = OLD.actor_label
     AND (NEW.data = OLD.data OR (NEW.data = '{"erased": true}'::jsonb AND
          current_setting('conversa.erasing_personal_data', true) = OLD.organization_id::text))
     AND NEW.created_at = OLD.created_at
     AND NEW.ip_address IS NOT DISTINCT FROM OLD.ip_address AND NEW.user_agent = OLD.user_agent
     AND (NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id OR NEW.actor_id IS NULL) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'the audit timeline is append-only: UPDATE refused';
END
$$ LANGUAGE plpgsql;
"""
# Only the function changes; the trigger created by 0011 calls it by name.
PREVIOUS = previous.CREATE.split("DROP TRIGGER", 1)[0]


class Migration(migrations.Migration):
    dependencies = [("accounts", "0012_organization_currency")]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="retention_days",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="organization",
            constraint=models.CheckConstraint(
                condition=models.Q(retention_days__isnull=True)
                | models.Q(retention_days__gte=1, retention_days__lte=3650),
                name="organization_retention_days_bounded",
            ),
        ),
        migrations.RunPython(previous.on_postgresql(CREATE), previous.on_postgresql(PREVIOUS)),
    ]
