"""`/api/organization`: the organization's settings and the policies the Gate enforces (owners
and admins). The numbers' own are `PATCH /api/numbers/{id}` (numbers/api.py)."""

from datetime import time
from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from pydantic import StringConstraints

from conversa.accounts import mfa
from conversa.accounts.models import (
    MAX_DAILY_QUOTA,
    MAX_HOURLY_QUOTA,
    MAX_REOPEN_WINDOW_HOURS,
    MAX_RETENTION_DAYS,
)
from conversa.engine import policies, retention

router = Router(tags=["organization"])

# "HH:MM", 00:00 to 23:59.
Clock = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# Per weekday, up to four periods ["HH:MM", "HH:MM"], start before end.
SendingHours = dict[Weekday, Annotated[list[tuple[Clock, Clock]], Field(max_length=4)]]


class OrganizationOut(Schema):
    id: int
    name: str
    time_zone: str
    # Local "HH:MM"; both null: no quiet hours.
    quiet_hours_start: str | None
    quiet_hours_end: str | None
    # When messages no person typed may leave, per weekday ({}: any time).
    sending_hours: dict
    reopen_window_hours: int
    default_hourly_quota: int
    default_daily_quota: int
    # ISO 4217: the currency leads' values are shown in.
    currency: str
    # The kill switch: while true, nothing is sent for the organization.
    sending_paused: bool


class OrganizationPatch(Schema):
    """Only the fields sent change. Quiet hours: both times, or both null to have none."""

    name: str | None = Field(None, min_length=1, max_length=policies.MAX_NAME)
    time_zone: str | None = Field(None, max_length=64)
    quiet_hours_start: Clock | None = None
    quiet_hours_end: Clock | None = None
    sending_hours: SendingHours | None = None
    reopen_window_hours: int | None = Field(None, ge=0, le=MAX_REOPEN_WINDOW_HOURS)
    default_hourly_quota: int | None = Field(None, ge=0, le=MAX_HOURLY_QUOTA)
    default_daily_quota: int | None = Field(None, ge=0, le=MAX_DAILY_QUOTA)
    currency: str | None = Field(None, min_length=3, max_length=3)
    sending_paused: bool | None = None


def clock(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value else None


def organization_out(org) -> dict:
    return {
        **{f: getattr(org, f) for f in OrganizationOut.model_fields},
        "quiet_hours_start": clock(org.quiet_hours_start),
        "quiet_hours_end": clock(org.quiet_hours_end),
    }


@router.get("/organization", response=OrganizationOut)
def get_organization(request: HttpRequest):
    """The organization's settings and sending policies (owners and admins)."""
    policies.must_administer(request.member)
    return organization_out(request.org)


@router.patch("/organization", response=OrganizationOut)
def patch_organization(request: HttpRequest, payload: OrganizationPatch):
    """Change the organization's settings (owners and admins): all the fields sent are checked
    before any is saved, and the change is recorded. `sending_paused` is the kill switch."""
    org = request.org
    policies.must_administer(request.member)
    sent = payload.model_fields_set - {"sending_paused"}
    if sent:
        current = policies.OrganizationPolicies.of(org)
        wanted = {}
        for field in sent:
            value = getattr(payload, field)
            if field in ("quiet_hours_start", "quiet_hours_end"):
                value = time.fromisoformat(value) if value else None
            elif value is None:
                value = getattr(current, field)  # null for a plain field: unchanged
            elif field == "sending_hours":
                value = {day: [list(span) for span in spans] for day, spans in value.items()}
            wanted[field] = value
        policies.update_organization(
            org,
            acting_member=request.member,
            wanted=policies.OrganizationPolicies(**{**current.__dict__, **wanted}),
        )
    if payload.sending_paused is not None:
        mfa.refuse_without_fresh_factor(request)
        policies.set_sending_paused(
            org, acting_member=request.member, paused=payload.sending_paused
        )
    return organization_out(org)


class RetentionIO(Schema):
    retention_days: int | None = Field(
        description="keep messages' texts and files this many days; null: for ever",
        ge=1,
        le=MAX_RETENTION_DAYS,
    )


@router.put("/organization/retention", response=RetentionIO)
def set_retention(request: HttpRequest, payload: RetentionIO):
    """How long messages' texts and files are kept (owners and admins; recorded). The next
    run, within the hour, applies it."""
    retention.set_retention_days(request.org, payload.retention_days, acting_member=request.member)
    return {"retention_days": request.org.retention_days}
