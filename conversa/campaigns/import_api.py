"""The campaigns' API: contact imports. `POST /api/contact-imports` takes a CSV or XLSX file
(multipart) with its column mapping and queues it for a worker; `GET` follows it. Owners,
admins and supervisors only."""

import json

from django.http import HttpRequest
from ninja import Field, File, Form, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from conversa.accounts.scoping import get_for_org_or_404
from conversa.bounds import Id
from conversa.campaigns import imports
from conversa.campaigns.models import ContactImport
from conversa.errors import Forbidden, Refused

router = Router(tags=["campaigns"])


class ImportIn(Schema):
    mapping: str = Field(
        "",
        max_length=5000,
        description='JSON: column index → field ("phone", "name", "tags", "consent", '
        '"consent_evidence", "consent_date", "custom" or ""), e.g. {"0": "phone", "1": "name"}; '
        "none: guessed from the header row",
    )
    region: str = Field("BR", min_length=2, max_length=2, description="country of bare numbers")
    start: bool = Field(True, description="queue the import at once (false: a draft)")


class ImportOut(Schema):
    id: int
    file_name: str
    status: str
    headers: list[str]
    mapping: dict
    rows_total: int
    rows_done: int
    percent: int
    created: int = Field(alias="created_count")
    updated: int = Field(alias="updated_count")
    merged: int = Field(alias="merged_count")
    refused: int = Field(alias="refused_count")
    consents: int = Field(alias="consent_count")


def supervisors_only(request: HttpRequest) -> None:
    if not request.member.supervises:
        raise Forbidden("Only owners, admins and supervisors import contacts")


def columns_of(text: str) -> dict[int, str]:
    try:
        given = json.loads(text)
    except ValueError:
        given = None
    if not isinstance(given, dict) or len(given) > imports.MAX_COLUMNS:
        raise Refused("mapping: a JSON object of column index → field", field="mapping")
    columns = {}
    for key, value in given.items():
        if not str(key).isdigit() or not isinstance(value, str) or len(str(key)) > 3:
            raise Refused("mapping: a JSON object of column index → field", field="mapping")
        columns[int(key)] = value
    return columns


@router.post("/contact-imports", response={201: ImportOut})
def create_import(request: HttpRequest, payload: Form[ImportIn], file: File[UploadedFile]):
    """Upload a contact list (CSV or XLSX, 20 MB at most), map its columns and, unless
    `start` is false, queue it: a worker imports it in the background."""
    supervisors_only(request)
    if file.size and file.size > imports.MAX_BYTES:
        raise Refused("The file is larger than 20 MB.", field="file")
    imp = imports.upload(
        request.org,
        file_name=file.name or "",
        data=file.read(imports.MAX_BYTES + 1),
        region=payload.region,
        acting_member=request.member,
    )
    if payload.mapping:
        imports.set_mapping(imp, columns_of(payload.mapping), acting_member=request.member)
    if payload.start:
        imports.start(imp, acting_member=request.member)
    return Status(201, imp)


@router.get("/contact-imports/{import_id}", response=ImportOut)
def get_import(request: HttpRequest, import_id: Id):
    """An import's status and counts (`percent` reaches 100 when it is done)."""
    supervisors_only(request)
    return get_for_org_or_404(request.org, ContactImport, pk=import_id)


class MappingIn(Schema):
    mapping: dict[str, str] = Field(
        max_length=imports.MAX_COLUMNS,
        description='column index → field, as in `POST /api/contact-imports`: {"0": "phone"}',
    )
    start: bool = Field(False, description="queue the import once mapped")


@router.put("/contact-imports/{import_id}/mapping", response=ImportOut)
def put_mapping(request: HttpRequest, import_id: Id, payload: MappingIn):
    """Map a draft import's columns (the page's mapping step) and, with `start`, queue it."""
    supervisors_only(request)
    imp = get_for_org_or_404(request.org, ContactImport, pk=import_id)
    imports.set_mapping(imp, columns_of(json.dumps(payload.mapping)), acting_member=request.member)
    if payload.start:
        imports.start(imp, acting_member=request.member)
    return imp
