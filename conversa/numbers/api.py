from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Path, Router, Schema

from conversa.accounts.models import MAX_DAILY_QUOTA, MAX_HOURLY_QUOTA
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.bounds import Id
from conversa.engine import policies
from conversa.errors import Conflict, Forbidden
from conversa.numbers import services
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
def list_numbers(request: HttpRequest):
    """The organization's numbers (removed ones left out). Secrets are never returned."""
    numbers = list(
        scoped(request.org, Number).exclude(status=Number.Status.REMOVED).order_by("name")
    )
    services.health_scores(numbers, timezone.now())
    return [number_out(number) for number in numbers]


@router.get("/numbers/{number_id}", response=NumberOut)
def get_number(request: HttpRequest, number_id: Id):
    number = get_for_org_or_404(request.org, Number, pk=number_id)
    services.health_scores([number], timezone.now())
    return number_out(number)


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
