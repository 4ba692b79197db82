"""Outbound webhooks through the API (owners and admins): the event catalogue with an example
of each payload, endpoints (create: the secret in the answer, once; change; delete), rotating
the secret, sending a test event, and an endpoint's deliveries with their attempts."""

from datetime import datetime
from typing import Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Path, Query, Router, Schema
from ninja.responses import Status

from conversa import cursors
from conversa.accounts.scoping import get_for_org_or_404
from conversa.cursors import Cursor, Limit
from conversa.webhooks import log, services
from conversa.webhooks.catalogue import CATALOGUE, example_payload
from conversa.webhooks.models import Delivery, Endpoint

router = Router(tags=["webhooks"])

MAX_ID = 2**63 - 1
EVENT_NAMES = Literal[tuple(e.name for e in CATALOGUE)]  # type: ignore[valid-type]


class EventTypeOut(Schema):
    name: str
    description: str
    example: dict = Field(description="The whole body a receiver gets (the envelope and data).")


class EndpointOut(Schema):
    id: int
    url: str
    description: str
    events: list[str]
    enabled: bool
    disabled_reason: str
    failing_since: datetime | None
    previous_secret_until: datetime | None = Field(
        description="Until then the previous secret signs too (after a rotation)."
    )
    created_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(description="`whsec_…`: shown in this answer only, never again.")


class EndpointIn(Schema):
    url: str = Field(max_length=500, examples=["https://erp.example.com/conversa/hooks"])
    description: str = Field("", max_length=200, examples=["ERP: orders"])
    events: list[EVENT_NAMES] = Field(min_length=1, examples=[["message.received"]])


class EndpointPatch(Schema):
    url: str | None = Field(None, max_length=500)
    description: str | None = Field(None, max_length=200)
    events: list[EVENT_NAMES] | None = Field(None, min_length=1)
    enabled: bool | None = None


class AttemptOut(Schema):
    started_at: datetime
    status_code: int | None
    latency_ms: int
    response: str = Field(description="The first KB of the receiver's answer.")
    error: str


class DeliveryOut(Schema):
    id: int
    event_id: str = Field(description="The `webhook-id`: the same on every attempt.")
    event_type: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_status: int | None
    last_error: str


class DeliveryDetail(DeliveryOut):
    body: str
    attempt_log: list[AttemptOut]


class DeliveryFilters(Schema):
    event_type: str = Field("", max_length=40)
    status: Literal["", "pending", "delivered", "failed"] = ""


def endpoint_out(e: Endpoint) -> dict:
    fields = ("id", "url", "description", "enabled", "disabled_reason", "failing_since")
    return {
        **{f: getattr(e, f) for f in fields},
        "events": e.event_types,
        "previous_secret_until": e.previous_secret_until,
        "created_at": e.created_at,
    }


def administered(request: HttpRequest, endpoint_id: int) -> Endpoint:
    services.must_administer(request.member)
    return get_for_org_or_404(request.org, Endpoint, pk=endpoint_id)


@router.get("/webhooks/event-types", response=list[EventTypeOut])
def event_types(
    request: HttpRequest,
    response: HttpResponse,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """Every event an endpoint can ask for, with the body a receiver gets for it."""
    rows = [
        {"pk": n, "name": e.name, "description": str(e.description), "example": example_payload(e)}
        for n, e in enumerate(CATALOGUE)
    ]  # in the catalogue's order
    return cursors.page(rows, order=["pk"], cursor=cursor, limit=limit, response=response)


@router.get("/webhooks/endpoints", response=list[EndpointOut])
def list_endpoints(
    request: HttpRequest,
    response: HttpResponse,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """The organization's endpoints, oldest first, a page at a time."""
    services.must_administer(request.member)
    found = Endpoint.objects.for_org(request.org)
    rows = cursors.page(found, order=["pk"], cursor=cursor, limit=limit, response=response)
    return [endpoint_out(e) for e in rows]


@router.post("/webhooks/endpoints", response={201: EndpointCreated})
def create_endpoint(request: HttpRequest, payload: EndpointIn):
    """A new endpoint, enabled. Its secret is in this answer and never again."""
    endpoint, secret = services.create_endpoint(
        acting_member=request.member,
        url=payload.url,
        description=payload.description,
        events=list(payload.events),
    )
    return Status(201, {**endpoint_out(endpoint), "secret": secret})


@router.get("/webhooks/endpoints/{endpoint_id}", response=EndpointOut)
def get_endpoint(request: HttpRequest, endpoint_id: int = Path(..., ge=1, le=MAX_ID)):
    return endpoint_out(administered(request, endpoint_id))


@router.patch("/webhooks/endpoints/{endpoint_id}", response=EndpointOut)
def update_endpoint(
    request: HttpRequest, payload: EndpointPatch, endpoint_id: int = Path(..., ge=1, le=MAX_ID)
):
    """Change the URL, description or events; `enabled` turns it on or off."""
    endpoint = administered(request, endpoint_id)
    if payload.url is not None or payload.description is not None or payload.events is not None:
        endpoint = services.update_endpoint(
            endpoint,
            acting_member=request.member,
            url=payload.url,
            description=payload.description,
            events=list(payload.events) if payload.events is not None else None,
        )
    if payload.enabled is not None:
        endpoint = services.set_enabled(endpoint, payload.enabled, acting_member=request.member)
    return endpoint_out(endpoint)


@router.delete("/webhooks/endpoints/{endpoint_id}", response={204: None})
def delete_endpoint(request: HttpRequest, endpoint_id: int = Path(..., ge=1, le=MAX_ID)):
    services.delete_endpoint(administered(request, endpoint_id), acting_member=request.member)
    return Status(204, None)


@router.post("/webhooks/endpoints/{endpoint_id}/rotate", response=EndpointCreated)
def rotate_secret(request: HttpRequest, endpoint_id: int = Path(..., ge=1, le=MAX_ID)):
    """A new secret, in this answer only; the previous one keeps signing for 24 hours."""
    endpoint, secret = services.rotate_secret(
        administered(request, endpoint_id), acting_member=request.member
    )
    return {**endpoint_out(endpoint), "secret": secret}


@router.post("/webhooks/endpoints/{endpoint_id}/test", response={202: DeliveryOut})
def send_test(request: HttpRequest, endpoint_id: int = Path(..., ge=1, le=MAX_ID)):
    """A `webhook.test` event, sent by the worker like any other delivery."""
    delivery = services.send_test(administered(request, endpoint_id), acting_member=request.member)
    return Status(202, delivery)


@router.get("/webhooks/endpoints/{endpoint_id}/deliveries", response=list[DeliveryOut])
def list_deliveries(
    request: HttpRequest,
    response: HttpResponse,
    filters: Query[DeliveryFilters],
    endpoint_id: int = Path(..., ge=1, le=MAX_ID),
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """The endpoint's deliveries, newest first, by event type and outcome, a page at a time."""
    endpoint = administered(request, endpoint_id)
    found = log.deliveries(endpoint, event_type=filters.event_type, status=filters.status)
    return cursors.page(found, order=["-created_at"], cursor=cursor, limit=limit, response=response)


@router.get("/webhooks/deliveries/{delivery_id}", response=DeliveryDetail)
def get_delivery(request: HttpRequest, delivery_id: int = Path(..., ge=1, le=MAX_ID)):
    """One delivery: the body sent and every attempt (status, latency, the answer's first KB)."""
    services.must_administer(request.member)
    delivery = get_for_org_or_404(request.org, Delivery, pk=delivery_id)
    delivery.attempt_log = list(log.attempts(delivery)[:100])
    return delivery


@router.post("/webhooks/deliveries/{delivery_id}/replay", response={202: DeliveryOut})
def replay(request: HttpRequest, delivery_id: int = Path(..., ge=1, le=MAX_ID)):
    """Send the delivery again (same event id and body), now."""
    services.must_administer(request.member)
    delivery = get_for_org_or_404(request.org, Delivery, pk=delivery_id)
    return Status(202, log.replay(delivery, acting_member=request.member))


class ReplayRange(Schema):
    start: datetime
    end: datetime


class Replayed(Schema):
    deliveries: int


@router.post("/webhooks/endpoints/{endpoint_id}/replay", response={202: Replayed})
def replay_period(
    request: HttpRequest, payload: ReplayRange, endpoint_id: int = Path(..., ge=1, le=MAX_ID)
):
    """Send again every delivery to the endpoint made from `start` up to `end` (at most 10,000
    at once); how many."""
    endpoint = administered(request, endpoint_id)
    count = log.replay_range(endpoint, payload.start, payload.end, acting_member=request.member)
    return Status(202, {"deliveries": count})
