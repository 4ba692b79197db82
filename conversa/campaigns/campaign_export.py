"""A campaign's recipients as a download (its page's buttons and the API): one row per
recipient with the outcome in words, as CSV or XLSX, written by the one spreadsheet writer
(`conversa.spreadsheets`: streamed, formulas as text).

Headers in the request's language, times in the organization's time zone (an API token's
request has no organization until its authentication, so the zone is the campaign's
organization's, set here, not whatever the request had).
"""

import tempfile
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from conversa import spreadsheets
from conversa.accounts import tenancy
from conversa.accounts.models import Member
from conversa.accounts.services import record
from conversa.campaigns import progress
from conversa.campaigns.models import Campaign

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


def header() -> list[str]:
    return [str(HEADERS[column]) for column in progress.EXPORT_COLUMNS]


def xlsx_file(campaign: Campaign, zone: ZoneInfo):
    """The workbook, written to a temporary file (open, at its start; closing deletes it)."""
    # Not a `with`: the answer reads it and closes it once sent (spreadsheets.file_chunks).
    handle = tempfile.TemporaryFile()  # noqa: SIM115
    sheet = spreadsheets.Sheet(
        "xlsx", handle, header(), zone, title=gettext("Recipients"), seconds=False
    )
    for chunk in spreadsheets.chunked(progress.export_records(campaign)):
        sheet.append(chunk)
    sheet.close()
    handle.seek(0)
    return handle


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


def export(request: HttpRequest, campaign: Campaign, kind: str, *, acting_member: Member):
    """The campaign's recipients as a CSV or XLSX download (`kind`), recorded in the audit
    log: the file holds people's numbers."""
    zone = ZoneInfo(campaign.organization.time_zone)
    with timezone.override(zone):
        if kind == "xlsx":
            chunks = spreadsheets.file_chunks(xlsx_file(campaign, zone))
        else:
            records = progress.export_records(campaign)
            chunks = spreadsheets.csv_chunks(header(), records, zone, seconds=False)
        day = timezone.localdate().isoformat()
    record(campaign.organization_id, "campaign.exported", campaign, actor=acting_member, kind=kind)
    body = as_the_request_was(chunks, campaign.organization_id, zone, translation.get_language())
    stem = slugify(campaign.name)[:80] or "campaign"
    return spreadsheets.download(request, body, kind, f"{stem}-{day}.{kind}")
