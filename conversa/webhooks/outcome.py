"""What an attempt's answer does to its delivery and its endpoint.

- 2xx: delivered; the endpoint is no longer failing.
- 410 Gone: the receiver wants nothing more (the specification's advice): the endpoint is
  disabled, with the reason on its page.
- Anything else (another status, a timeout, no connection): retried with exponential backoff
  and jitter (5 s, 20 s, 80 s, … at most a day apart, a Retry-After taken when longer) until
  three days after the event, then failed. An endpoint whose every attempt failed for a day is
  disabled, and its organization's owners are emailed.
"""

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member
from conversa.accounts.services import record as audit
from conversa.webhooks.models import Attempt, Delivery, Endpoint

log = logging.getLogger(__name__)
P = Delivery.Status

GIVE_UP_AFTER = timedelta(days=3)
DISABLE_AFTER = timedelta(days=1)
MAX_DELAY = 24 * 3600.0


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 5 s (WEBHOOK_FIRST_RETRY_SECONDS) × 4ⁿ⁻¹,
    at most a day, ±20%."""
    first = settings.WEBHOOK_FIRST_RETRY_SECONDS
    delay = min(first * 4 ** (attempts - 1), MAX_DELAY) * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_DELAY))
    return timedelta(seconds=delay)


@transaction.atomic
def record(
    delivery: Delivery,
    *,
    worker_id: str,
    started,
    status: int | None,
    latency_ms: int,
    response: str,
    error: str,
    retry_after: float | None = None,
) -> None:
    now = timezone.now()
    Attempt.objects.create(
        organization_id=delivery.organization_id,
        delivery=delivery,
        started_at=started,
        status_code=status,
        latency_ms=latency_ms,
        response=response,
        error=error,
    )
    attempts = delivery.attempts + 1
    changes = {
        "attempts": attempts,
        "last_status": status,
        "last_error": error,
        "lease_until": None,
    }
    endpoint = delivery.endpoint
    if status is not None and 200 <= status < 300:
        changes |= {"status": P.DELIVERED, "delivered_at": now}
        Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(
            failing_since=None
        )
    elif status == 410:
        changes["status"] = P.FAILED
        disable(endpoint, gettext("The endpoint answered 410 Gone: it wants no more events."))
    else:
        if now - delivery.retry_from >= GIVE_UP_AFTER:
            changes["status"] = P.FAILED
        else:
            changes["next_attempt_at"] = now + backoff(attempts, retry_after)
        Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
            failing_since=now
        )
        endpoint.refresh_from_db(fields=["failing_since"])
        if endpoint.failing_since and now - endpoint.failing_since >= DISABLE_AFTER:
            disable(endpoint, gettext("Every delivery failed for a day."), email=True)
    # Whoever holds the claim now (ours, or another worker's after our lease ended) sees the
    # newest outcome; a delivered delivery is never moved back to pending.
    Delivery.objects.filter(pk=delivery.pk).exclude(status=P.DELIVERED).update(**changes)


def disable(endpoint: Endpoint, reason: str, *, email: bool = False) -> bool:
    """Disable `endpoint` with `reason` (once: of two workers, one writes and is audited)."""
    changed = Endpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
        enabled=False, disabled_reason=reason[:300]
    )
    if not changed:
        return False
    audit(
        endpoint.organization_id,
        "webhook_endpoint.disabled",
        endpoint,
        label="worker",
        url=endpoint.url,
        reason=reason,
    )
    if email:
        transaction.on_commit(lambda: email_owners(endpoint, reason))
    return True


def email_owners(endpoint: Endpoint, reason: str) -> None:
    owners = Member.objects.filter(
        organization_id=endpoint.organization_id, role=Member.Role.OWNER, is_active=True
    ).select_related("user")
    recipients = [m.user.email for m in owners if m.user.email]
    if not recipients:
        return
    subject = gettext("A webhook endpoint of Conversa was disabled")
    text = gettext(
        "Conversa stopped sending events to %(url)s: %(reason)s\n\n"
        "Turn it back on in Settings → Webhooks once it answers again."
    ) % {"url": endpoint.url, "reason": reason}
    try:
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:
        log.exception("the email about disabled webhook endpoint %s was not sent", endpoint.pk)
