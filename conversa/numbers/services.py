"""State changes of WhatsApp numbers: adding one, pairing it, its connection, its health."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from conversa.accounts.models import Member, Organization
from conversa.accounts.services import record
from conversa.engine.models import ExecutionJob, GateDecision
from conversa.errors import Conflict, ProviderRefused
from conversa.numbers import webhooks
from conversa.numbers.models import Number
from conversa.numbers.webhooks import webhook_url
from conversa.providers.base import Pairing, ProviderError
from conversa.providers.models import ProviderEvent
from conversa.providers.registry import get_provider
from conversa.realtime import events, publisher


@dataclass(frozen=True)
class NumberSettings:
    """What a person types in step 1 of "Add number" (only the provider's own fields count)."""

    name: str
    provider: str
    base_url: str = ""
    api_key: str = ""
    phone_number_id: str = ""
    access_token: str = ""
    app_secret: str = ""
    verify_token: str = ""


def add_number(org: Organization, wanted: NumberSettings) -> Number:
    """Register a number with its provider, then store it; nothing is stored if the provider
    refuses (wrong URL, key or token), and the reason is raised as ProviderRefused.

    The provider is called before the row exists, outside any transaction: on the embedded
    default the sandbox answering that call writes to the same SQLite database.
    """
    number = Number(
        organization=org,
        name=wanted.name,
        provider=wanted.provider,
        hourly_quota=org.default_hourly_quota,
        daily_quota=org.default_daily_quota,
    )
    if wanted.provider == Number.Provider.CLOUD:
        number.provider_name = wanted.phone_number_id
        number.provider_token = wanted.access_token
        number.app_secret = wanted.app_secret
        number.verify_token = wanted.verify_token or number.verify_token
        taken = Number.objects.filter(
            provider=wanted.provider, provider_name=wanted.phone_number_id
        )
        if taken.exclude(status=Number.Status.REMOVED).exists():
            raise Conflict(_("This phone number id is already connected."))
    else:
        number.provider_name = f"{slugify(wanted.name)[:40] or 'number'}-{secrets.token_hex(4)}"
        number.base_url = wanted.base_url
        number.api_key = wanted.api_key
    provider = get_provider(number)
    try:
        token = provider.create_instance(number, webhook_url(number))
    except ProviderError as exc:
        raise ProviderRefused(_("The provider refused: %(reason)s") % {"reason": exc}) from exc
    if token:
        number.provider_token = token
    if wanted.provider != Number.Provider.CLOUD:
        number.webhook_url = webhook_url(number)
    if wanted.provider == Number.Provider.CLOUD:
        # Credentials checked: a Cloud API number has no pairing, it can send now.
        number.status = Number.Status.CONNECTED
    try:
        number.save()
    except IntegrityError as exc:
        raise Conflict(_("This phone number id is already connected.")) from exc
    announce(number)
    return number


def connect_number(number: Number) -> Pairing | None:
    """Ask the provider for a QR to scan (None when the number is already connected)."""
    try:
        pairing = get_provider(number).connect(number)
    except ProviderError as exc:
        raise ProviderRefused(_("The provider refused: %(reason)s") % {"reason": exc}) from exc
    if pairing is None:
        apply_connection(number, Number.Status.CONNECTED)
    else:
        apply_qr(number, pairing.code)
    return pairing


def apply_qr(number: Number, code: str) -> None:
    """A new QR to scan (qrcode.updated, or the answer to connect): pages redraw it."""
    now = timezone.now()
    changes = {
        "qr_code": code,
        "qr_updated_at": now,
        "status": Number.Status.CONNECTING,
        "connection_reason": "",
        "last_activity_at": now,
    }
    rows = Number.objects.filter(pk=number.pk).exclude(status=Number.Status.REMOVED)
    moved = update_status(rows, changes)
    update_local(number, changes)
    announce(number, status_changed=moved)


# The reasons that say more than a bare "logged out": a logout.instance (which carries no
# code) arriving after the close that explained it must not wipe the explanation.
SPECIFIC_REASONS = ("banned", "suspended")


def apply_connection(number: Number, status: str, *, phone: str = "", reason: str = "") -> None:
    """Record the provider's view of the connection (connection.update, a logout) and why.

    A `refused` number (WhatsApp turned it away, or the QR limit was reached) also gets a
    cooldown the Gate respects, so the engine does not keep hammering it.
    """
    now = timezone.now()
    changes: dict = {"status": status, "last_activity_at": now, "connection_reason": reason}
    if phone:
        changes["phone_number"] = phone
    if status == Number.Status.CONNECTED:
        changes["qr_code"] = ""
        changes["connection_reason"] = ""
    if reason == "refused":
        changes["cooldown_until"] = now + timedelta(seconds=settings.REFUSED_COOLDOWN_SECONDS)
    rows = Number.objects.filter(pk=number.pk).exclude(status=Number.Status.REMOVED)
    if reason == "logged_out":
        explained = rows.filter(status=status, connection_reason__in=SPECIFIC_REASONS)
        if explained.update(last_activity_at=now):
            number.refresh_from_db()
            announce(number)
            return
    if status == Number.Status.CONNECTING and not reason:
        # An open number going back to connecting is Evolution reconnecting after a
        # transient drop (it sends no close for those), not a new pairing.
        dropped = Q(status=Number.Status.CONNECTED) | Q(connection_reason="reconnecting")
        reconnecting = {**changes, "connection_reason": "reconnecting"}
        # Connected → connecting is a status change; a further "reconnecting" is not.
        moved = bool(rows.filter(status=Number.Status.CONNECTED).update(**reconnecting))
        if moved or rows.filter(dropped).update(**reconnecting):
            update_local(number, reconnecting)
            announce(number, status_changed=moved)
            return
    connected = status == Number.Status.CONNECTED
    with transaction.atomic():
        moved = update_status(rows, changes)
        if connected and moved:
            # Every way a number can send again sends what it held at once, not at the Gate's
            # next look (up to 30 s later): here, connected again (as on resume, `set_paused`).
            from conversa.engine.policies import wake_held  # the engine builds on numbers

            wake_held(number.organization_id, number_id=number.pk)
    update_local(number, changes)
    announce(number, status_changed=moved)


def logout_number(number: Number) -> None:
    """Unlink the WhatsApp session; the number can be paired again with a new QR."""
    call(number, "logout")
    apply_connection(number, Number.Status.DISCONNECTED)


def restart_number(number: Number) -> None:
    call(number, "restart")
    announce(number)


def remove_number(number: Number) -> None:
    """Delete the number at its provider. The row stays, REMOVED, so its conversations and
    the proof of every message it sent are kept; the Gate never sends through it again."""
    call(number, "delete_instance")
    changes = {"status": Number.Status.REMOVED, "qr_code": "", "paused": True}
    moved = update_status(Number.objects.filter(pk=number.pk), changes)
    update_local(number, changes)
    announce(number, status_changed=moved)


def set_paused(number: Number, paused: bool, *, acting_member: Member | None = None) -> None:
    """Pause (the Gate defers every send through it) or resume a number; resuming wakes the
    messages held on it. Recorded as `number.paused` or `number.resumed` when a person did it."""
    from conversa.engine.policies import wake_held  # the engine builds on numbers

    with transaction.atomic():
        changed = Number.objects.filter(pk=number.pk).exclude(paused=paused).update(paused=paused)
        number.paused = paused
        if changed and acting_member is not None:
            verb = "number.paused" if paused else "number.resumed"
            record(number.organization_id, verb, number, actor=acting_member)
        if changed and not paused:
            wake_held(number.organization_id, number_id=number.pk)
    announce(number)


# What a person can do to a number from its card, its pairing page or the API.
ACTIONS = {
    "connect": connect_number,
    "logout": logout_number,
    "restart": restart_number,
    "pause": lambda number: set_paused(number, True),
    "resume": lambda number: set_paused(number, False),
    "remove": remove_number,
    "webhook": lambda number: register_webhook(number),
}


def register_webhook(number: Number) -> None:
    """Point the provider's webhook for `number` at this Conversa's URL again (after
    CONVERSA_PUBLIC_URL or the port changed) and remember what was registered."""
    if number.provider == Number.Provider.CLOUD:
        raise ProviderRefused(_("A Cloud API number's webhook is set in the Meta app dashboard."))
    url = webhook_url(number)
    try:
        get_provider(number).set_webhook(number, url)
    except ProviderError as exc:
        raise ProviderRefused(_("The provider refused: %(reason)s") % {"reason": exc}) from exc
    Number.objects.filter(pk=number.pk).update(webhook_url=url)
    number.webhook_url = url
    announce(number)


def call(number: Number, action: str) -> None:
    try:
        getattr(get_provider(number), action)(number)
    except ProviderError as exc:
        raise ProviderRefused(_("The provider refused: %(reason)s") % {"reason": exc}) from exc


def update_local(number: Number, changes: dict) -> None:
    for name, value in changes.items():
        setattr(number, name, value)


def update_status(rows, changes: dict) -> bool:
    """Apply `changes`, which set a status, to `rows`; whether the status moved (what the
    outbound webhooks send as `number.status_changed`)."""
    moved = bool(rows.exclude(status=changes["status"]).update(**changes))
    if not moved:
        rows.update(**changes)
    return moved


def announce(number: Number, *, status_changed: bool = False) -> None:
    change = "status_changed" if status_changed else None
    publisher.publish(
        number.organization_id, events.NumberUpdated(number_ids=[number.id], change=change)
    )


BREAKER_THRESHOLD = 5


def record_send_outcome(number: Number, *, ok: bool) -> None:
    """Feed the per-number circuit breaker.

    A success closes it. The BREAKER_THRESHOLD-th failure in a row opens it for BREAKER_HOLD_SECONDS,
    during which the Gate defers this number's sends; once the hold ends (half-open) the next
    failure opens it again at once and the next success closes it.
    """
    numbers = Number.objects.filter(pk=number.pk)
    if ok:
        numbers.filter(breaker_failures__gt=0).update(breaker_failures=0, breaker_open_until=None)
        return
    numbers.update(breaker_failures=F("breaker_failures") + 1)
    opened = numbers.filter(breaker_failures__gte=BREAKER_THRESHOLD).update(
        breaker_open_until=timezone.now() + timedelta(seconds=settings.BREAKER_HOLD_SECONDS)
    )
    if opened:
        announce(number)


HEALTH_WINDOW = timedelta(hours=24)
WEBHOOK_PROBLEM_SCORE = 40
BANNED_SCORE = {"banned": 0, "suspended": 20}


def sending_score(*, sent: int, failed: int, drops: int, decided: int, blocked: int) -> int:
    """The 0–100 score of a number's sends over a window (the health score before WhatsApp's
    and the webhooks' ceilings): up to 50 points lost to the share of sends that failed, 10
    per disconnect (at most 30), up to 20 to the share of the Gate's decisions that were
    blocks. Insights draws it per day with the same weights."""
    lost = 0.0
    if sent + failed:
        lost += 50 * failed / (sent + failed)
    lost += min(10 * drops, 30)
    if decided:
        lost += 20 * blocked / decided
    return max(0, round(100 - lost))


def health_scores(numbers: list[Number], now: datetime) -> dict[int, int]:
    """A 0–100 score per number from the last 24 hours, in five queries for all of them:
    up to 50 points lost to the share of sends that failed, 10 per disconnect (at most 30),
    and up to 20 to the share of the Gate's decisions that were blocks; at most
    WEBHOOK_PROBLEM_SCORE while its webhooks are not arriving (each number gets its
    `webhook_problem`, see webhooks.webhook_problems), and at most BANNED_SCORE's while
    WhatsApp bans or suspends it. Stored on the number.
    """
    ids = [n.pk for n in numbers]
    since = now - HEALTH_WINDOW
    failed_statuses = [ExecutionJob.Status.FAILED, ExecutionJob.Status.DEAD]
    jobs = {
        row["number_id"]: row
        for row in ExecutionJob.objects.filter(number_id__in=ids, updated_at__gte=since)
        .values("number_id")
        .annotate(
            sent=Count("id", filter=Q(status=ExecutionJob.Status.SENT)),
            failed=Count("id", filter=Q(status__in=failed_statuses)),
        )
    }
    drops = dict(
        ProviderEvent.objects.filter(
            Q(event__status=Number.Status.DISCONNECTED) | Q(event__reason="reconnecting"),
            number_id__in=ids,
            kind="ConnectionUpdate",
            received_at__gte=since,
        )
        # A logout is a person's decision (and Evolution reports it three ways), not a drop.
        .exclude(event__reason="logged_out")
        .values("number_id")
        .annotate(n=Count("id"))
        .values_list("number_id", "n")
    )
    decisions = {
        row["number_id"]: row
        for row in GateDecision.objects.filter(number_id__in=ids, created_at__gte=since)
        .values("number_id")
        .annotate(
            total=Count("id"), blocked=Count("id", filter=Q(verdict=GateDecision.Verdict.BLOCK))
        )
    }
    problems = webhooks.webhook_problems(numbers, now)
    scores = {}
    for number in numbers:
        job = jobs.get(number.pk, {"sent": 0, "failed": 0})
        decided = decisions.get(number.pk, {"total": 0, "blocked": 0})
        scores[number.pk] = sending_score(
            sent=job["sent"],
            failed=job["failed"],
            drops=drops.get(number.pk, 0),
            decided=decided["total"],
            blocked=decided["blocked"],
        )
        if number.status == Number.Status.DISCONNECTED:
            # WhatsApp's own verdict on the number outweighs its recent figures.
            ceiling = BANNED_SCORE.get(number.connection_reason, 100)
            scores[number.pk] = min(scores[number.pk], ceiling)
        number.webhook_problem = problems[number.pk]
        if number.webhook_problem:
            # A number that receives nothing is not healthy, whatever its sends say.
            scores[number.pk] = min(scores[number.pk], WEBHOOK_PROBLEM_SCORE)
    changed = [n for n in numbers if n.health_score != scores[n.pk]]
    for number in changed:
        number.health_score = scores[number.pk]
    Number.objects.bulk_update(changed, ["health_score"])
    return scores
