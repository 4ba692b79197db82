"""Endpoints, as owners and admins manage them: create (the secret returned once), change the
URL, description and events, enable or disable, rotate the secret, delete, send a test event.
Every change is audited; the secret is never in the audit log nor in any answer but the one
that creates or rotates it."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member
from conversa.accounts.services import record, same_org
from conversa.errors import Forbidden, Refused
from conversa.providers import outbound
from conversa.webhooks import outbox, signing
from conversa.webhooks.catalogue import BY_NAME, TEST_EVENT
from conversa.webhooks.models import ROTATION_OVERLAP, Delivery, Endpoint

MAX_ENDPOINTS = 20
MAX_URL = 500
MAX_DESCRIPTION = 200


def must_administer(member: Member) -> None:
    if not member.is_active or not member.administers:
        raise Forbidden(gettext("Only owners and admins manage webhooks."))


def clean_url(url: str) -> str:
    """An http(s) URL that leads to an address Conversa may call (the provider URLs' guard)."""
    url = (url or "").strip()
    if not url:
        raise Refused(gettext("Give the endpoint's URL."), field="url")
    if len(url) > MAX_URL:
        raise Refused(gettext("Keep the URL under 500 characters."), field="url")
    if not url.lower().startswith(("https://", "http://")):
        raise Refused(gettext("The URL starts with https:// (or http://)."), field="url")
    try:
        outbound.check_url(url)
    except outbound.UnsafeAddress:
        raise Refused(
            gettext("That address is private or reserved: Conversa does not send to it."),
            field="url",
        ) from None
    except Exception:
        raise Refused(gettext("That address could not be found."), field="url") from None
    return url


def clean_events(names) -> list[str]:
    names = list(dict.fromkeys(names or []))
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise Refused(gettext("Unknown event: %(name)s") % {"name": unknown[0]}, field="events")
    if not names:
        raise Refused(gettext("Choose at least one event."), field="events")
    return names


def clean_description(text: str) -> str:
    text = (text or "").strip()
    if len(text) > MAX_DESCRIPTION:
        raise Refused(gettext("Keep the description under 200 characters."), field="description")
    return text


@transaction.atomic
def create_endpoint(
    *, acting_member: Member, url: str, description: str = "", events: list[str]
) -> tuple[Endpoint, str]:
    """A new, enabled endpoint: (the row, its secret). Show the secret this once."""
    must_administer(acting_member)
    org = acting_member.organization
    if Endpoint.objects.for_org(org).count() >= MAX_ENDPOINTS:
        raise Refused(gettext("An organization has at most 20 endpoints."), field="url")
    secret = signing.new_secret()
    endpoint = Endpoint.objects.create(
        organization=org,
        url=clean_url(url),
        description=clean_description(description),
        event_types=clean_events(events),
        secret=secret,
        created_by=acting_member,
    )
    record(org.pk, "webhook_endpoint.created", endpoint, actor=acting_member, url=endpoint.url)
    return endpoint, secret


@transaction.atomic
def update_endpoint(
    endpoint: Endpoint,
    *,
    acting_member: Member,
    url: str | None = None,
    description: str | None = None,
    events: list[str] | None = None,
) -> Endpoint:
    must_administer(acting_member)
    same_org(endpoint, acting_member.organization_id)
    if url is not None:
        endpoint.url = clean_url(url)
    if description is not None:
        endpoint.description = clean_description(description)
    if events is not None:
        endpoint.event_types = clean_events(events)
    endpoint.save(update_fields=["url", "description", "event_types"])
    record(
        endpoint.organization_id,
        "webhook_endpoint.changed",
        endpoint,
        actor=acting_member,
        url=endpoint.url,
        events=endpoint.event_types,
    )
    return endpoint


@transaction.atomic
def set_enabled(endpoint: Endpoint, enabled: bool, *, acting_member: Member) -> Endpoint:
    """Turn an endpoint on (its failing clock starts afresh) or off. Pending deliveries wait
    while it is off and go out once it is on again (within their three days)."""
    must_administer(acting_member)
    same_org(endpoint, acting_member.organization_id)
    if endpoint.enabled == enabled:
        return endpoint
    endpoint.enabled = enabled
    endpoint.disabled_reason = (
        "" if enabled else gettext("Turned off by %(name)s.") % {"name": acting_member.display_name}
    )
    endpoint.failing_since = None
    endpoint.save(update_fields=["enabled", "disabled_reason", "failing_since"])
    verb = "webhook_endpoint.enabled" if enabled else "webhook_endpoint.disabled"
    record(endpoint.organization_id, verb, endpoint, actor=acting_member, url=endpoint.url)
    return endpoint


@transaction.atomic
def rotate_secret(endpoint: Endpoint, *, acting_member: Member) -> tuple[Endpoint, str]:
    """A new secret (returned this once); the old one keeps signing for 24 hours beside it."""
    must_administer(acting_member)
    same_org(endpoint, acting_member.organization_id)
    secret = signing.new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = timezone.now() + ROTATION_OVERLAP
    endpoint.secret = secret
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    record(endpoint.organization_id, "webhook_endpoint.rotated", endpoint, actor=acting_member)
    return endpoint, secret


@transaction.atomic
def delete_endpoint(endpoint: Endpoint, *, acting_member: Member) -> None:
    """Delete an endpoint with its deliveries (nothing more is sent to it)."""
    must_administer(acting_member)
    same_org(endpoint, acting_member.organization_id)
    record(
        endpoint.organization_id,
        "webhook_endpoint.deleted",
        endpoint,
        actor=acting_member,
        url=endpoint.url,
    )
    endpoint.delete()


@transaction.atomic
def send_test(endpoint: Endpoint, *, acting_member: Member) -> Delivery:
    """A `webhook.test` delivery to `endpoint`, sent by the worker like any other."""
    must_administer(acting_member)
    same_org(endpoint, acting_member.organization_id)
    event_id = outbox.new_event_id()
    data = {"endpoint_id": endpoint.pk, "sent_by": acting_member.display_name}
    delivery = Delivery.objects.create(
        organization_id=endpoint.organization_id,
        endpoint=endpoint,
        event_id=event_id,
        event_type=TEST_EVENT,
        body=outbox.body(endpoint.organization_id, event_id, TEST_EVENT, data),
    )
    record(endpoint.organization_id, "webhook_endpoint.tested", endpoint, actor=acting_member)
    return delivery
