from datetime import datetime
from typing import Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Path, Router, Schema
from ninja.errors import ValidationError
from ninja.responses import Status

from conversa import cursors
from conversa.accounts.models import MAX_DAILY_QUOTA, MAX_HOURLY_QUOTA
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.bounds import Id
from conversa.cursors import Cursor, Limit
from conversa.engine import policies
from conversa.errors import Conflict, Forbidden
from conversa.numbers import services
from conversa.numbers.forms import NumberForm
from conversa.numbers.models import Number

router = Router(tags=["numbers"])


class NumberOut(Schema):
    id: int
    name: str
    provider: str
    status: str
    # Why it is not connected, when the provider said: logged_out, banned, suspended,
    # refused, reconnecting.
    connection_reason: str
    phone_number: str
    paused: bool
    health_score: int
    breaker_state: str
    cooldown_until: datetime | None
    hourly_quota: int
    daily_quota: int
    qr_code: str
    last_activity_at: datetime | None
    webhook_url: str
    # "" while its webhooks arrive; "url_changed" or "silent" (see numbers.webhooks).
    webhook_problem: str
    # The queue its new conversations land in (null: none).
    queue_id: int | None


def number_out(number: Number) -> dict:
    computed = {
        "webhook_url": services.webhook_url(number),
        "webhook_problem": getattr(number, "webhook_problem", ""),
        "queue_id": policies.first_queue_id(number),
    }
    fields = [f for f in NumberOut.model_fields if f not in computed]
    return {**{f: getattr(number, f) for f in fields}, **computed}


@router.get("/numbers", response=list[NumberOut])
def list_numbers(
    request: HttpRequest,
    response: HttpResponse,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """The organization's numbers by name (removed ones left out), a page at a time. Secrets
    are never returned."""
    found = scoped(request.org, Number).exclude(status=Number.Status.REMOVED)
    numbers = cursors.page(found, order=["name"], cursor=cursor, limit=limit, response=response)
    services.health_scores(numbers, timezone.now())
    return [number_out(number) for number in numbers]


@router.get("/numbers/{number_id}", response=NumberOut)
def get_number(request: HttpRequest, number_id: Id):
    number = get_for_org_or_404(request.org, Number, pk=number_id)
    services.health_scores([number], timezone.now())
    return number_out(number)


class NumberIn(Schema):
    """The "Add number" page's fields: Evolution takes `base_url` and `api_key`; the Cloud API
    `phone_number_id`, `access_token`, `app_secret` and `verify_token` (made when empty); the
    sandbox nothing more. Checked as the page checks them (an Evolution server on a private
    address is refused)."""

    name: str = Field(min_length=1, max_length=120)
    provider: Literal["sandbox", "evolution", "cloud"]
    base_url: str = Field("", max_length=300)
    api_key: str = Field("", max_length=200)
    phone_number_id: str = Field("", max_length=32)
    access_token: str = Field("", max_length=600)
    app_secret: str = Field("", max_length=200)
    verify_token: str = Field("", max_length=200)


@router.post("/numbers", response={201: NumberOut})
def add_number(request: HttpRequest, payload: NumberIn):
    """Add a number: registered with its provider first (its refusal is a 502 saying why, and
    nothing is stored), then pair it with `POST /api/numbers/{id}/connect`. Owners and admins."""
    if not request.member.manages_numbers:
        raise Forbidden("Only owners and admins manage numbers")
    form = NumberForm(payload.dict())
    if not form.is_valid():
        raise ValidationError(
            [
                {"type": "value_error", "loc": ["body", field], "msg": str(message)}
                for field, messages in form.errors.items()
                for message in messages
            ]
        )
    number = services.add_number(request.org, form.settings())
    services.health_scores([number], timezone.now())
    return Status(201, number_out(number))


@router.post("/numbers/{number_id}/{action}", response=NumberOut)
def act_on_number(
    request: HttpRequest,
    number_id: Id,
    action: Literal["connect", "logout", "restart", "pause", "resume", "remove", "webhook"],
):
    """Pair (the answer carries the QR's text in `qr_code`), log out, restart, pause, resume,
    remove a number, or register its webhook again at this Conversa's URL (`webhook`). Owners and admins only; a provider's refusal is a 502 saying why."""
    if not request.member.manages_numbers:
        raise Forbidden("Only owners and admins manage numbers")
    number = get_for_org_or_404(request.org, Number, pk=number_id)
    if number.status == Number.Status.REMOVED:
        raise Conflict("This number was removed")
    if action in ("pause", "resume"):
        services.set_paused(number, action == "pause", acting_member=request.member)
    else:
        services.ACTIONS[action](number)
    return number_out(number)


MAX_ID = 2**63 - 1


class NumberPatch(Schema):
    """Only the fields sent change; quotas 0 mean unlimited; `queue_id` null: no queue."""

    name: str | None = Field(None, min_length=1, max_length=120)
    hourly_quota: int | None = Field(None, ge=0, le=MAX_HOURLY_QUOTA)
    daily_quota: int | None = Field(None, ge=0, le=MAX_DAILY_QUOTA)
    queue_id: int | None = Field(None, ge=1, le=MAX_ID)
    paused: bool | None = None


@router.patch("/numbers/{number_id}", response=NumberOut)
def patch_number(
    request: HttpRequest, payload: NumberPatch, number_id: int = Path(..., ge=1, le=MAX_ID)
):
    """Change a number's name, quotas, queue or pause (owners and admins), all or nothing,
    recorded. Resuming it, or raising a quota, sends what it held."""
    policies.must_administer(request.member)
    number = get_for_org_or_404(request.org, Number, pk=number_id)
    current = policies.number_policies(number)
    wanted = {
        field: getattr(payload, field)
        for field in payload.model_fields_set
        if getattr(payload, field) is not None or field == "queue_id"
    }
    policies.update_number(
        number,
        acting_member=request.member,
        wanted=policies.NumberPolicies(**{**current.__dict__, **wanted}),
    )
    services.health_scores([number], timezone.now())
    return number_out(number)
