"""The audit timeline is append-only in the database too (PostgreSQL): a trigger refuses UPDATE
and DELETE of its rows, whatever code or console runs them.

Allowed: an actor set to NULL (its member row deleted: Django's SET_NULL), an entry re-pointed to
another object (`EventQuerySet.repoint`, for merged conversations), and the deletion of a whole
organization's entries by `Organization.delete`, which names the organization in the
transaction-local setting `conversa.erasing_organization`. TRUNCATE (the tests' flush) fires no
row trigger. SQLite has no such trigger: there the model and its queryset refuse.
"""

from django.db import migrations

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
     AND NEW.data = OLD.data AND NEW.created_at = OLD.created_at
     AND NEW.ip_address IS NOT DISTINCT FROM OLD.ip_address AND NEW.user_agent = OLD.user_agent
     AND (NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id OR NEW.actor_id IS NULL) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'the audit timeline is append-only: UPDATE refused';
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS accounts_operationalevent_append_only ON accounts_operationalevent;
CREATE TRIGGER accounts_operationalevent_append_only
  BEFORE UPDATE OR DELETE ON accounts_operationalevent
  FOR EACH ROW EXECUTE FUNCTION conversa_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS accounts_operationalevent_append_only ON accounts_operationalevent;
DROP FUNCTION IF EXISTS conversa_audit_append_only();
"""


def on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("accounts", "0010_mfa_audit_origin")]

    operations = [migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP))]
