"""Whether a number's webhooks reach this Conversa, and pointing them here again.

A number whose webhooks go elsewhere receives nothing, silently: every customer message to it
is lost while sends still work. Two signs give it away (webhook_problems): the URL registered
with the provider is not the one this Conversa would register now (CONVERSA_PUBLIC_URL or the
port changed), or sends went out and nothing came back since (no status, no message).
"""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max

from conversa.engine.models import ExecutionJob
from conversa.numbers.models import Number
from conversa.providers.base import ProviderError
from conversa.providers.registry import get_provider, sandbox_tenant

log = logging.getLogger(__name__)

URL_CHANGED = "url_changed"
SILENT = "silent"
# How far back a send counts as evidence that webhooks should have come back by now.
SEND_WINDOW = timedelta(hours=24)
# How closely `Number.last_webhook_at` follows the webhooks: written at most this often per
# number and process, not by every batch of a busy number.
HEARD_RESOLUTION = timedelta(seconds=5)


def webhook_url(number: Number) -> str:
    """Where the provider posts this number's webhooks (what Meta's dashboard asks for)."""
    return f"{settings.PUBLIC_URL}/webhooks/{number.provider}/{number.webhook_key}"


def heard_from(numbers: Iterable[Number], now: datetime) -> None:
    """Remember that a webhook for each of these numbers arrived `now` (to within
    HEARD_RESOLUTION): any verified webhook counts, a duplicate or an unreadable one too."""
    for number in {n.pk: n for n in numbers}.values():
        if number.last_webhook_at is None or now - number.last_webhook_at > HEARD_RESOLUTION:
            Number.objects.filter(pk=number.pk).update(last_webhook_at=now)
            number.last_webhook_at = now


def webhook_problems(numbers: list[Number], now: datetime) -> dict[int, str]:
    """Per number: "" when nothing says its webhooks are lost; URL_CHANGED when the URL last
    registered with its provider is not the one this Conversa would register now; SILENT when
    a send went out more than WEBHOOK_SILENCE_MINUTES ago and no webhook has arrived since
    (every provider answers a send with at least a "sent" status). One query for all: when
    each number last heard a webhook is kept on it (`Number.last_webhook_at`), as the latest of
    its stored webhooks grew to a tenth of a second to read at a million."""
    ids = [n.pk for n in numbers]
    quiet = timedelta(minutes=settings.WEBHOOK_SILENCE_MINUTES)
    last_sent = dict(
        ExecutionJob.objects.filter(
            number_id__in=ids,
            status=ExecutionJob.Status.SENT,
            updated_at__gte=now - SEND_WINDOW,
            updated_at__lte=now - quiet,
        )
        .values("number_id")
        .annotate(at=Max("updated_at"))
        .values_list("number_id", "at")
    )
    problems = {}
    for number in numbers:
        problem = ""
        if number.webhook_url and number.webhook_url != webhook_url(number):
            problem = URL_CHANGED
        else:
            sent, received = last_sent.get(number.pk), number.last_webhook_at
            # Kept to within HEARD_RESOLUTION: one may have come that much after `received`.
            if sent and (received is None or received + HEARD_RESOLUTION < sent):
                problem = SILENT
        problems[number.pk] = problem
    return problems


def embedded_sandbox() -> bool:
    """The simulator is served by this very process (the default): its numbers' webhooks
    must come back to this server's own URL."""
    embedded_url = f"{settings.PUBLIC_URL}/sandbox/evolution"
    return settings.SANDBOX_ENABLED and embedded_url == settings.SANDBOX_URL


def align_sandbox_webhooks() -> int:
    """Point the embedded sandbox's numbers at this server's URL when they point elsewhere
    (the demo was loaded while another port was configured), before the server starts.

    The server is not listening yet, so the simulator's own record is changed in the
    database, as `conversa demo` created it. Returns how many were changed.
    """
    if not embedded_sandbox():
        return 0
    from conversa.sandbox.models import SandboxInstance

    changed = 0
    numbers = Number.objects.filter(provider=Number.Provider.SANDBOX).exclude(
        status=Number.Status.REMOVED
    )
    twins = {t.name: t for t in SandboxInstance.objects.filter(protocol="evolution")}
    for number in numbers:
        twin, url = twins.get(number.provider_name), webhook_url(number)
        if twin is None:
            continue
        if not twin.tenant:
            # A twin from before the simulator kept tenants: it is its number's organization's.
            twin.tenant = sandbox_tenant(number.organization_id)
            twin.save(update_fields=["tenant"])
        if twin.webhook_url != url:
            twin.webhook_url = url
            twin.webhook_enabled = True
            twin.save(update_fields=["webhook_url", "webhook_enabled"])
            changed += 1
        if number.webhook_url != url:
            Number.objects.filter(pk=number.pk).update(webhook_url=url)
    if changed:
        log.info("pointed %s sandbox number(s) at %s", changed, settings.PUBLIC_URL)
    return changed


def sync_registered_webhook(number: Number) -> None:
    """Ask the provider where the number's webhook posts now (Evolution's /webhook/find) and
    remember it, so the card tells when it is not here. Providers that cannot say (the Cloud
    API: Meta's dashboard holds it) and failed questions leave what is known."""
    provider = get_provider(number)
    if not hasattr(provider, "registered_webhook"):
        return
    try:
        url = provider.registered_webhook(number)
    except ProviderError:
        return
    if url != number.webhook_url:
        Number.objects.filter(pk=number.pk).update(webhook_url=url)
        number.webhook_url = url
