from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_save, pre_delete, pre_save


def forget_organization(sender, instance, **kwargs):
    # The counts carry plain ids, not foreign keys (models.py): no cascade reaches them.
    from conversa.insights.models import DailyCount, Delta, HourlyCount, WeeklyCount

    for counts in (HourlyCount, DailyCount, WeeklyCount):
        counts.objects.filter(organization_id=instance.pk).delete()
    Delta.objects.filter(organization_id=instance.pk).delete()


def add_functions(connection, **kwargs):
    """SQLite has no time zones: the Insights triggers call this process's (rows.local_hour)."""
    if connection.vendor == "sqlite":
        from conversa.insights.rows import local_hour

        connection.ensure_connection()
        connection.connection.create_function(
            "conversa_local_hour", 2, local_hour, deterministic=True
        )


def note_zone(sender, instance, update_fields=None, **kwargs):
    # The counts' hours are the organization's local hours (rows.hour): a new time zone
    # recounts them, once the change is committed.
    if instance.pk is None or (update_fields is not None and "time_zone" not in update_fields):
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("time_zone", flat=True).first()
    instance._insights_zone_changed = stored is not None and stored != instance.time_zone


def recount_zone(sender, instance, **kwargs):
    if getattr(instance, "_insights_zone_changed", False):
        from django.db import transaction

        from conversa.insights import aggregates

        instance._insights_zone_changed = False
        transaction.on_commit(lambda: aggregates.rebuild(instance))


class InsightsConfig(AppConfig):
    name = "conversa.insights"
    label = "insights"

    def ready(self):
        from conversa.accounts.models import Organization

        pre_delete.connect(forget_organization, sender=Organization, dispatch_uid="insights")
        pre_save.connect(note_zone, sender=Organization, dispatch_uid="insights-zone")
        post_save.connect(recount_zone, sender=Organization, dispatch_uid="insights-zone")
        connection_created.connect(add_functions, dispatch_uid="insights-functions")
