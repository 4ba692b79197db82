"""`/api/segments`: saved filters over the organization's contacts (the filters of `GET
/api/contacts`, by the same names), each with how many contacts match it now; counting filters
without saving them. Every member reads them; owners, admins and supervisors create, change and
delete them (audited). Another organization's segment is a 404."""

from datetime import datetime
from typing import Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.responses import Status
from pydantic import ConfigDict

from conversa import cursors
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.bounds import Id
from conversa.campaigns import contact_listing, segments
from conversa.campaigns.contact_listing import Filters
from conversa.campaigns.models import Segment
from conversa.cursors import Cursor, Limit
from conversa.inbox.listing import COUNT_CAP

router = Router(tags=["segments"])

YesNo = Literal["", "yes", "no"]
EXACT = Query(False, description=f"count every match (slower) instead of stopping at {COUNT_CAP}")


class SegmentFilters(Schema):
    """Who is in a segment; every field left out is "any"."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field("", max_length=segments.SEARCH_LENGTH, description="name, phone, tag or field")
    consent: YesNo = Field("", description="marketing consent given (yes) or not (no)")
    opted_out: YesNo = ""
    blocked: YesNo = ""
    wrote_within_days: int | None = Field(
        None, ge=1, le=contact_listing.MAX_DAYS, description="the customer wrote within"
    )
    open_conversation: YesNo = ""
    stage_id: Id | None = Field(None, description="has a lead in this pipeline stage")


class SegmentIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=segments.NAME_LENGTH)
    filters: SegmentFilters = Field(default_factory=SegmentFilters)


class SegmentChanges(Schema):
    """What to change; a field left out stays. `filters` replaces the whole set."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=segments.NAME_LENGTH)
    filters: SegmentFilters | None = None


class SegmentOut(Schema):
    id: int
    name: str
    filters: SegmentFilters
    count: int = Field(description=f"how many contacts match now, up to {COUNT_CAP + 1}")
    created_by_id: int | None
    created_at: datetime


class SegmentCount(Schema):
    count: int
    capped: bool = Field(description=f"true: more than {COUNT_CAP} match (not counted further)")


def stored(given: SegmentFilters) -> dict:
    """The API's names for the filters, as a segment stores them."""
    return {
        "q": given.q,
        "consent": given.consent,
        "opted_out": given.opted_out,
        "blocked": given.blocked,
        "wrote_within": given.wrote_within_days,
        "open_conversation": given.open_conversation,
        "stage": given.stage_id,
    }


def shown(filters: Filters) -> dict:
    return {
        "q": filters.q,
        "consent": filters.consent,
        "opted_out": filters.opted_out,
        "blocked": filters.blocked,
        "wrote_within_days": filters.wrote_within,
        "open_conversation": filters.open_conversation,
        "stage_id": filters.stage,
    }


def out(segment: Segment, count: int) -> dict:
    return {
        "id": segment.pk,
        "name": segment.name,
        "filters": shown(segments.filters_of(segment)),
        "count": count,
        "created_by_id": segment.created_by_id,
        "created_at": segment.created_at,
    }


def counted(request: HttpRequest, filters: Filters, exact: bool) -> dict:
    count = segments.count(request.org, filters, exact=exact)
    return {"count": count, "capped": not exact and count > COUNT_CAP}


@router.get("/segments", response=list[SegmentOut])
def list_segments(
    request: HttpRequest,
    response: HttpResponse,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """The organization's segments by name, each with its count now, a page at a time."""
    everyone = scoped(request.org, Segment)
    found = cursors.page(everyone, order=["name"], cursor=cursor, limit=limit, response=response)
    counts = segments.counts(request.org, found)
    return [out(s, counts[s.pk]) for s in found]


@router.post("/segments", response={201: SegmentOut})
def create_segment(request: HttpRequest, payload: SegmentIn):
    """Save filters as a segment (owners, admins, supervisors). A name another segment has
    (capitals aside) is a 409; a stage of another organization, a 422."""
    segment = segments.create_segment(
        request.org,
        name=payload.name,
        filters=stored(payload.filters),
        acting_member=request.member,
    )
    return Status(201, out(segment, segments.count(request.org, segments.filters_of(segment))))


@router.post("/segments/count", response=SegmentCount)
def count_filters(request: HttpRequest, payload: SegmentFilters, exact: bool = EXACT):
    """How many contacts the filters match now, without saving them."""
    cleaned = segments.clean_filters(request.org, stored(payload))
    return counted(request, Filters(**cleaned), exact)


@router.get("/segments/{segment_id}", response=SegmentOut)
def get_segment(request: HttpRequest, segment_id: Id):
    segment = get_for_org_or_404(request.org, Segment, pk=segment_id)
    return out(segment, segments.count(request.org, segments.filters_of(segment)))


@router.patch("/segments/{segment_id}", response=SegmentOut)
def patch_segment(request: HttpRequest, segment_id: Id, payload: SegmentChanges):
    """Rename a segment and/or replace its filters (owners, admins, supervisors)."""
    segment = get_for_org_or_404(request.org, Segment, pk=segment_id)
    segments.update_segment(
        segment,
        name=payload.name,
        filters=stored(payload.filters) if payload.filters is not None else None,
        acting_member=request.member,
    )
    return out(segment, segments.count(request.org, segments.filters_of(segment)))


@router.delete("/segments/{segment_id}", response={204: None})
def delete_segment(request: HttpRequest, segment_id: Id):
    """Delete a segment (owners, admins, supervisors); a 409 while a campaign that is sending
    or paused uses it."""
    segment = get_for_org_or_404(request.org, Segment, pk=segment_id)
    segments.delete_segment(segment, acting_member=request.member)
    return Status(204, None)


@router.get("/segments/{segment_id}/count", response=SegmentCount)
def count_segment(request: HttpRequest, segment_id: Id, exact: bool = EXACT):
    """How many contacts match the segment now."""
    segment = get_for_org_or_404(request.org, Segment, pk=segment_id)
    return counted(request, segments.filters_of(segment), exact)
