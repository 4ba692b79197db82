"""The exports' API: ask for an export (202: a worker writes it), follow it, download its file.
Owners, admins and supervisors export the organization's rows, owners and admins the audit
log; an export is seen by its requester and by the organization's owners and admins (another's
is a 404). An expired file is a 410."""

from datetime import date, datetime
from typing import Literal

from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from conversa import spreadsheets
from conversa.bounds import Id
from conversa.errors import Conflict, NotFound
from conversa.insights import exports, periods
from conversa.insights.models import Export

router = Router(tags=["exports"])


class ExportFilters(Schema):
    number_id: Id | None = None
    queue_id: Id | None = None
    agent_id: Id | None = None
    tag_id: Id | None = None
    member_id: Id | None = Field(None, description="audit log: who acted")
    verb: str | None = Field(None, max_length=94, description="audit log: the action's code")
    object_type: str | None = Field(None, max_length=64, description="audit log: about what")


class ExportIn(Schema):
    kind: Literal["conversations", "messages", "intents", "agents", "audit"]
    format: Literal["csv", "xlsx"] = "csv"
    period: Literal["today", "7d", "30d"] | None = Field(
        None, description="the last days, today included; or give start and end"
    )
    start: date | None = Field(None, description="the first local day, included")
    end: date | None = Field(None, description="the last local day, included")
    filters: ExportFilters = Field(default_factory=ExportFilters)


class ExportOut(Schema):
    id: int
    kind: str
    format: str
    status: str
    start: date
    end: date
    filters: dict
    rows_done: int
    rows_total: int | None
    percent: int
    error: str
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    url: str
    file_url: str | None


def export_out(export: Export) -> dict:
    ready = export.status == Export.Status.DONE and not export.expired()
    return {
        "id": export.pk,
        "kind": export.kind,
        "format": export.format,
        "status": Export.Status.EXPIRED if export.expired() else export.status,
        "start": export.first_day,
        "end": export.last_day,
        "filters": export.filters,
        "rows_done": export.rows_done,
        "rows_total": export.rows_total,
        "percent": export.percent,
        "error": export.error,
        "created_at": export.created_at,
        "finished_at": export.finished_at,
        "expires_at": export.expires_at,
        "url": reverse("api:get_export", kwargs={"export_id": export.pk}),
        "file_url": reverse("api:export_file", kwargs={"export_id": export.pk}) if ready else None,
    }


@router.post("/exports", response={202: ExportOut})
def create_export(request: HttpRequest, payload: ExportIn):
    """Ask for an export of a period (the last 7 days unless `period` or `start` and `end` say
    otherwise) with the Insights filters (or, for the audit log, its own); follow it at `url`."""
    org = request.org
    if payload.start or payload.end:
        first, last = payload.start or payload.end, payload.end or payload.start
    else:
        chosen = periods.preset(org, payload.period or "7d")
        first, last = chosen.first_day, chosen.last_day
    export = exports.request_export(
        org,
        kind=payload.kind,
        fmt=payload.format,
        first_day=first,
        last_day=last,
        filters=payload.filters.model_dump(exclude_none=True),
        acting_member=request.member,
    )
    return Status(202, export_out(export))


def visible_export(request: HttpRequest, export_id: int) -> Export:
    export = exports.visible(request.org, request.member).filter(pk=export_id).first()
    if export is None:
        raise NotFound("No such export")
    return export


@router.get("/exports/{export_id}", response=ExportOut, url_name="get_export")
def get_export(request: HttpRequest, export_id: Id):
    """An export's status and progress; `file_url` once its file is ready."""
    return export_out(visible_export(request, export_id))


@router.get(
    "/exports/{export_id}/file",
    url_name="export_file",
    openapi_extra={
        "responses": {
            200: {
                "description": "the export's file: CSV, or XLSX as it was asked for",
                "content": {
                    "text/csv": {
                        "schema": {"type": "string"},
                        "example": "date,conversation,direction,body\n2026-06-01 09:12,42,in,Olá\n",
                    }
                },
            }
        }
    },
)
def export_file(request: HttpRequest, export_id: Id):
    """The export's file (CSV or XLSX), until it expires (then 410)."""
    export = visible_export(request, export_id)
    if export.status != Export.Status.DONE and not export.expired():
        raise Conflict("This export is not ready yet.")
    handle = None if export.expired() else exports.open_file(export)
    if handle is None:
        raise HttpError(410, "This export has expired: ask for it again.")
    chunks = spreadsheets.file_chunks(handle)
    return spreadsheets.download(request, chunks, export.format, exports.file_name(export))
