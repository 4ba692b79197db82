"""An endpoint's delivery log: its deliveries by event type and outcome, each one's attempts,
and replay (one delivery, or every delivery of a time range) with the same event id."""

from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member
from conversa.accounts.services import record, same_org
from conversa.errors import Refused
from conversa.webhooks.models import Attempt, Delivery, Endpoint
from conversa.webhooks.services import must_administer

MAX_REPLAY = 10_000


def deliveries(endpoint: Endpoint, *, event_type: str = "", status: str = "") -> QuerySet:
    rows = Delivery.objects.filter(organization_id=endpoint.organization_id, endpoint=endpoint)
    if event_type:
        rows = rows.filter(event_type=event_type)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "-id")


def attempts(delivery: Delivery) -> QuerySet:
    return Attempt.objects.filter(
        organization_id=delivery.organization_id, delivery=delivery
    ).order_by("-started_at", "-id")


def again(rows: QuerySet) -> int:
    # Due now, unclaimed; the same event id and body, so a receiver that kept it can tell.
    return rows.update(
        status=Delivery.Status.PENDING,
        next_attempt_at=timezone.now(),
        lease_until=None,
        retry_from=timezone.now(),
    )


@transaction.atomic
def replay(delivery: Delivery, *, acting_member: Member) -> Delivery:
    """Send `delivery` again now (its three days of retries start afresh)."""
    must_administer(acting_member)
    same_org(delivery, acting_member.organization_id)
    again(Delivery.objects.filter(pk=delivery.pk))
    record(
        delivery.organization_id,
        "webhook_endpoint.replayed",
        delivery.endpoint,
        actor=acting_member,
        deliveries=1,
        event_id=delivery.event_id,
    )
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def replay_range(
    endpoint: Endpoint, start: datetime, end: datetime, *, acting_member: Member
) -> int:
    """Send again every delivery to `endpoint` made in [start, end); how many."""
    must_administer(acting_member)
    same_org(endpoint, acting_member.organization_id)
    if end <= start:
        raise Refused(gettext("The end comes after the start."), field="end")
    rows = Delivery.objects.filter(
        organization_id=endpoint.organization_id,
        endpoint=endpoint,
        created_at__gte=start,
        created_at__lt=end,
    )
    if rows.count() > MAX_REPLAY:
        raise Refused(gettext("At most 10,000 deliveries at once: choose a shorter range."))
    count = again(rows)
    record(
        endpoint.organization_id,
        "webhook_endpoint.replayed",
        endpoint,
        actor=acting_member,
        deliveries=count,
        start=start.isoformat(),
        end=end.isoformat(),
    )
    return count
