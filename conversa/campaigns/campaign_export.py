"""A campaign's recipients as a download (its page's buttons and the API): one row per
recipient with the outcome in words, as CSV or XLSX.

- Headers in the request's language, times in the organization's time zone (an API token's
  request has no organization until its authentication, so the zone is the campaign's
  organization's, set here, not whatever the request had).
- CSV: UTF-8 with a BOM, as the import's error report (Excel in pt-BR reads accents right only
  with it), written a chunk of lines at a time while the client reads.
- XLSX: openpyxl's write-only mode, whose rows go to a temporary file as they are read; the
  finished file is then sent a block at a time. Neither holds the rows in memory.
- A cell a spreadsheet would run as a formula is written as text (`progress.safe_cell`).
- Under ASGI the chunks are read by an async iterator, each chunk in the request's thread:
  Django reads a plain iterator into one list before sending anything.
"""

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from itertools import islice
from zoneinfo import ZoneInfo

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from conversa.accounts import tenancy
from conversa.accounts.models import Member
from conversa.accounts.services import record
from conversa.campaigns import progress
from conversa.campaigns.models import Campaign

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
HEADERS = {
    "name": _("Name"),
    "phone": _("Phone"),
    "sent_from": _("Sent from"),
    "outcome": _("Outcome"),
    "sent_at": _("Sent at"),
    "delivered_at": _("Delivered at"),
    "read_at": _("Read at"),
    "replied_at": _("Replied at"),
}
LINES_PER_CHUNK = 500
BLOCK = 64 * 1024
DATE_FORMAT = "yyyy-mm-dd hh:mm"


def header() -> list[str]:
    return [str(HEADERS[column]) for column in progress.EXPORT_COLUMNS]


def csv_chunks(campaign: Campaign) -> Iterator[bytes]:
    """The CSV's bytes: the BOM and the header, then LINES_PER_CHUNK lines at a time."""
    lines = progress.csv_lines(campaign)
    next(lines)  # its header names the columns for programs; people read ours
    first = io.StringIO()
    first.write("\ufeff")
    csv.writer(first).writerow(header())
    yield first.getvalue().encode()
    while chunk := list(islice(lines, LINES_PER_CHUNK)):
        yield "".join(chunk).encode()


def xlsx_cell(sheet, value, zone: ZoneInfo):
    if isinstance(value, datetime):
        # Excel has no time zones: the organization's wall-clock time, as a real date.
        cell = WriteOnlyCell(sheet, value.astimezone(zone).replace(tzinfo=None))
        cell.number_format = DATE_FORMAT
        return cell
    return progress.safe_cell(ILLEGAL_CHARACTERS_RE.sub("", value or ""))


def xlsx_file(campaign: Campaign, zone: ZoneInfo):
    """The workbook, written to a temporary file (open, at its start; closing deletes it)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=gettext("Recipients")[:31])
    bold = Font(bold=True)
    titles = []
    for title in header():
        cell = WriteOnlyCell(sheet, title)
        cell.font = bold
        titles.append(cell)
    sheet.append(titles)
    for row in progress.export_records(campaign):
        sheet.append([xlsx_cell(sheet, value, zone) for value in row])
    # Not a `with`: the answer reads it and closes it once sent (file_chunks).
    handle = tempfile.TemporaryFile()  # noqa: SIM115
    book.save(handle)
    handle.seek(0)
    return handle


def file_chunks(handle) -> Iterator[bytes]:
    try:
        while block := handle.read(BLOCK):
            yield block
    finally:
        handle.close()


def as_the_request_was(chunks: Iterator[bytes], org_id: int, zone, language: str):
    """`chunks`, each read as the request's own work was: for its organization (the database's
    tenant narrowing), in its zone and language. The middleware that set those has returned by
    the time a streamed answer is read."""
    try:
        while True:
            with (
                tenancy.working_for(org_id),
                timezone.override(zone),
                translation.override(language),
            ):
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk
    finally:
        chunks.close()


async def read_async(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    step = sync_to_async(next, thread_sensitive=True)
    try:
        while (chunk := await step(chunks, None)) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close, thread_sensitive=True)()


def export(request: HttpRequest, campaign: Campaign, kind: str, *, acting_member: Member):
    """The campaign's recipients as a CSV or XLSX download (`kind`), recorded in the audit
    log: the file holds people's numbers."""
    zone = ZoneInfo(campaign.organization.time_zone)
    with timezone.override(zone):
        xlsx = kind == "xlsx"
        chunks = file_chunks(xlsx_file(campaign, zone)) if xlsx else csv_chunks(campaign)
        day = timezone.localdate().isoformat()
    record(campaign.organization_id, "campaign.exported", campaign, actor=acting_member, kind=kind)
    body = as_the_request_was(chunks, campaign.organization_id, zone, translation.get_language())
    if isinstance(request, ASGIRequest):
        body = read_async(body)
    response = StreamingHttpResponse(body, content_type=FORMATS[kind])
    stem = slugify(campaign.name)[:80] or "campaign"
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}-{day}.{kind}")
    return response
