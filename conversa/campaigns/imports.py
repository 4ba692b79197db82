"""Contact lists imported from CSV or XLSX files (issue 18).

1. `upload` stores the file (20 MB at most) and reads its header row: a DRAFT import.
2. `set_mapping` says which column holds the phone, the name, tags, custom fields and the
   consent (yes/no, its evidence, its date); `preview` checks the first rows without writing.
3. `start` queues it; a worker (conversa.engine.worker) claims it and `run_due` applies it in
   batches of `BATCH` rows, a few statements each: contacts through the identity code
   (`inbox.contacts.contacts_for_batch`, one person per number in either Brazilian form),
   tags, custom fields, consent records (`consent.record_consents`, keyed on the file's hash
   and the row number) and the refused rows with their reason. Each batch moves `rows_done` in
   its own transaction, so a worker that dies mid-batch leaves the import to resume there, and
   the same file imported again writes nothing new.
"""

import csv
import functools
import hashlib
import io
import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import phonenumbers
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Model
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from conversa.accounts.audit import safe_cell
from conversa.accounts.models import Member, Organization
from conversa.bulk import set_column
from conversa.campaigns import consent
from conversa.campaigns.models import (
    Consent,
    ContactImport,
    ContactImportProblem,
    ImportedContact,
)
from conversa.engine import wakeup
from conversa.errors import Forbidden, Refused
from conversa.inbox import contacts as identity
from conversa.inbox import phones
from conversa.inbox.models import Contact, ContactIdentity, Tag

log = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024
BATCH = 1000
PREVIEW_ROWS = 20
MAX_COLUMNS = 100
CELL_LIMIT = 500
LEASE_SECONDS = 60
# How long one worker pass spends on an import before it lets the pass's other work run.
SLICE_SECONDS = 2.0
TAG_LENGTH = Tag._meta.get_field("name").max_length

FIELDS = ("phone", "name", "tags", "consent", "consent_evidence", "consent_date")
YES = {"sim", "s", "yes", "y", "1", "true", "verdadeiro", "x", "ok", "aceito", "autorizado"}
NO = {"não", "nao", "n", "no", "0", "false", "falso", "recusado", "recusou"}
# A row's problems, in English in the database and the report; the page translates them.
BAD_ENCODING = gettext_noop("unreadable characters (the file's encoding)")
NO_PHONE = gettext_noop("no phone number")
BAD_PHONE = gettext_noop("invalid phone number")
BAD_CONSENT = gettext_noop("consent value unreadable (use yes or no)")
BAD_DATE = gettext_noop("consent date unreadable")
DUPLICATE = gettext_noop("same person as an earlier row: merged")

# Rows read so far of the imports this process is running: id → (next row number, rows), so
# a pass goes on from where the last one stopped instead of reading the file again.
_open: dict[int, tuple[int, Iterator]] = {}


# Reading files


def read_rows(data: bytes, kind: str) -> Iterator[tuple[int, list[str]]]:
    """(row number as a spreadsheet shows it, cells) of each row, the header row (1) first.
    A CSV is UTF-8 (with or without BOM) or, when no line reads as UTF-8, Latin-1; bytes
    that fit neither stay as surrogates (`bad_encoding` finds them in their row)."""
    if kind == ContactImport.Kind.XLSX:
        yield from read_xlsx(data)
        return
    text = decode(data)
    sample = text[:4096].splitlines()[0] if text else ""
    delimiter = max([",", ";", "\t"], key=sample.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                yield reader.line_num, [c.strip()[:CELL_LIMIT] for c in cells[:MAX_COLUMNS]]
    except csv.Error as exc:  # a cell past the csv module's 128 KB, a NUL byte
        raise Refused(_("This is not a CSV file Conversa can read."), field="file") from exc


def decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # UTF-8 with a few bad bytes (reported per row) or a Latin-1 file (no line with
    # accents reads as UTF-8): told apart by whether any non-ASCII line decodes as UTF-8.
    for line in data.splitlines():
        if max(line, default=0) < 0x80:
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        return data.decode("utf-8", errors="surrogateescape")
    return data.decode("latin-1")


def printable(cell: str) -> str:
    """The cell with its unreadable bytes as "?" (a database keeps no lone surrogates)."""
    return cell.encode("utf-8", "replace").decode()


# The surrogates `decode` leaves for bytes that are not UTF-8.
UNREADABLE = re.compile("[\udc80-\udcff]")


def bad_encoding(cells: list[str]) -> bool:
    return any(UNREADABLE.search(cell) for cell in cells)


def read_xlsx(data: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # a corrupt or renamed file: openpyxl raises many kinds
        raise Refused(_("This is not a spreadsheet Conversa can read (XLSX).")) from exc
    try:
        sheet = book.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [cell_text(v) for v in values[:MAX_COLUMNS]]
            if any(cells):
                yield number, cells
    finally:
        book.close()


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone typed as a number: 5511988887777.0
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()[:CELL_LIMIT]


# Upload and mapping


def upload(
    org: Organization, *, file_name: str, data: bytes, region: str = "BR", acting_member: Member
) -> ContactImport:
    """Store an uploaded file as a DRAFT import, with its header row."""
    if not acting_member.supervises:
        raise Forbidden(_("Only owners, admins and supervisors import contacts."))
    if len(data) > MAX_BYTES:
        raise Refused(_("The file is larger than 20 MB."), field="file")
    name = file_name.rsplit("/", 1)[-1][:200] or "contacts.csv"
    kind = ContactImport.Kind.XLSX if name.lower().endswith(".xlsx") else ContactImport.Kind.CSV
    if kind == ContactImport.Kind.XLSX and not data.startswith(b"PK"):
        raise Refused(_("This is not a spreadsheet Conversa can read (XLSX)."), field="file")
    region = (region or "BR").upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise Refused(_("Unknown country code."), field="region")
    rows = read_rows(data, kind)
    headers = next(rows, (0, []))[1]
    if not headers:
        raise Refused(_("The file is empty."), field="file")
    total = sum(1 for _row in rows)
    digest = hashlib.sha256(data).hexdigest()
    imp = ContactImport(
        organization=org,
        file_name=name,
        kind=kind,
        sha256=digest,
        region=region,
        headers=[printable(h) for h in headers],
        rows_total=total,
        created_by=acting_member,
    )
    imp.mapping = guess_mapping(imp.headers)
    imp.file.save(f"org_{org.pk}_{digest[:16]}.{kind}", ContentFile(data), save=False)
    imp.save()
    return imp


GUESSES = {
    "phone": {"phone", "telefone", "celular", "whatsapp", "fone", "número", "numero", "mobile"},
    "name": {"name", "nome", "full name", "nome completo", "cliente"},
    "tags": {"tags", "etiquetas", "tag", "etiqueta"},
    "consent": {"consent", "consentimento", "opt-in", "optin", "aceita marketing"},
    "consent_evidence": {"evidence", "evidência", "evidencia", "origem", "source"},
    "consent_date": {"consent date", "data do consentimento", "data consentimento"},
}


def guess_mapping(headers: list[str]) -> dict:
    mapping: dict = {"custom": {}}
    for index, header in enumerate(headers):
        words = header.strip().lower()
        for name, known in GUESSES.items():
            if words in known and name not in mapping:
                mapping[name] = index
    return mapping


def custom_key(header: str) -> str:
    return "_".join("".join(c if c.isalnum() else " " for c in header.lower()).split())[:50]


def set_mapping(imp: ContactImport, columns: dict[int, str], *, acting_member: Member) -> None:
    """Map the file's columns: `columns` is column index → one of FIELDS, "custom" (a custom
    field named after the column's header) or "" (left out). A phone column is required."""
    if imp.status != ContactImport.Status.DRAFT:
        raise Refused(_("This import has already started."))
    mapping: dict = {"custom": {}}
    for index, target in sorted(columns.items()):
        if not 0 <= index < len(imp.headers) or not target:
            continue
        if target == "custom":
            key = custom_key(imp.headers[index]) or f"column_{index + 1}"
            mapping["custom"][key] = index
        elif target in FIELDS:
            if target in mapping:
                raise Refused(_("Two columns are mapped to the same field."), field="mapping")
            mapping[target] = index
        else:
            raise Refused(_("Unknown field."), field="mapping")
    if "phone" not in mapping:
        raise Refused(_("Choose the column that holds the phone number."), field="mapping")
    imp.mapping = mapping
    imp.save(update_fields=["mapping"])


# Checking rows


@dataclass
class Row:
    number: int
    cells: list[str]
    phone: str = ""
    # The phone as the file writes it, shown beside a refused row.
    raw_phone: str = ""
    name: str = ""
    tags: list[str] = field(default_factory=list)
    custom: dict[str, str] = field(default_factory=dict)
    consent: bool | None = None
    consent_cell: str = ""
    consent_at: datetime | None = None
    evidence: str = ""
    problem: str = ""


def check(imp: ContactImport, number: int, cells: list[str]) -> Row:
    """A row as the mapping reads it, or with the reason it is refused in `problem`."""
    mapping = imp.mapping
    row = Row(number=number, cells=cells)

    def cell(name: str) -> str:
        index = mapping.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    if bad_encoding(cells):
        row.problem = BAD_ENCODING
        return row
    row.raw_phone, row.name = cell("phone"), cell("name")[: identity.NAME_LENGTH]
    row.phone = phones.normalize_phone(row.raw_phone, imp.region) if row.raw_phone else ""
    if not row.phone:
        row.problem = BAD_PHONE if row.raw_phone else NO_PHONE
        return row
    row.tags = list(dict.fromkeys(t.strip()[:TAG_LENGTH] for t in cell("tags").split(",")))
    row.tags = [t for t in row.tags if t]
    for key, index in mapping.get("custom", {}).items():
        if index < len(cells) and cells[index].strip():
            row.custom[key] = cells[index].strip()
    row.consent_cell = cell("consent")
    answer = row.consent_cell.lower().strip(" .!")
    if answer in YES or answer in NO:
        row.consent = answer in YES
    elif answer:
        row.problem = BAD_CONSENT
        return row
    if row.consent is not None and (when := cell("consent_date")):
        row.consent_at = parse_date(when)
        if row.consent_at is None:
            row.problem = BAD_DATE
            return row
    row.evidence = f"{imp.file_name}, row {number}: {row.consent_cell}"
    if extra := cell("consent_evidence"):
        row.evidence += f" ({extra})"
    return row


DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%d/%m/%Y %H:%M", "%d/%m/%Y")


@functools.lru_cache(maxsize=1024)  # a list's consent dates repeat: one parse per date
def parse_date(text: str) -> datetime | None:
    for form in DATE_FORMATS:
        try:
            parsed = datetime.strptime(text[:19], form)
        except ValueError:
            continue
        return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
    return None


def person(phone: str) -> str:
    """One key per person: a Brazilian mobile's two forms are one."""
    return min([phone, *phones.phone_variants(phone)])


def file_bytes(imp: ContactImport) -> bytes:
    with imp.file.open("rb") as stored:
        return stored.read()


@dataclass
class PreviewRow:
    row: Row
    refused: bool


def preview(imp: ContactImport, limit: int = PREVIEW_ROWS) -> list[PreviewRow]:
    """The first `limit` rows as the import would read them, with each one's problem; nothing
    is written."""
    seen: set[str] = set()
    shown = []
    rows = read_rows(file_bytes(imp), imp.kind)
    next(rows, None)
    for number, cells in rows:
        row = check(imp, number, cells)
        refused = bool(row.problem)
        if not refused:
            if person(row.phone) in seen:
                row.problem = DUPLICATE
            seen.add(person(row.phone))
        shown.append(PreviewRow(row=row, refused=refused))
        if len(shown) >= limit:
            break
    return shown


def start(imp: ContactImport, *, acting_member: Member) -> None:
    """Queue the import for a worker: from here it runs without the page."""
    if imp.status != ContactImport.Status.DRAFT:
        raise Refused(_("This import has already started."))
    if "phone" not in imp.mapping:
        raise Refused(_("Choose the column that holds the phone number."), field="mapping")
    imp.status = ContactImport.Status.QUEUED
    imp.save(update_fields=["status"])
    wakeup.notify()


# Running (in a worker)


def claim(worker_id: str) -> ContactImport | None:
    """Take one queued import, or a running one whose worker's lease ran out (it died)."""
    now = timezone.now()
    for imp in ContactImport.objects.filter(
        status__in=[ContactImport.Status.QUEUED, ContactImport.Status.RUNNING]
    ).order_by("created_at", "id")[:5]:
        if imp.claimed_until and imp.claimed_until > now and imp.claimed_by != worker_id:
            continue
        taken = ContactImport.objects.filter(
            pk=imp.pk, status=imp.status, claimed_until=imp.claimed_until
        ).update(
            status=ContactImport.Status.RUNNING,
            claimed_by=worker_id,
            claimed_until=now + timedelta(seconds=LEASE_SECONDS),
        )
        if taken:
            imp.refresh_from_db()
            return imp
    return None


def run_due(worker_id: str, seconds: float = SLICE_SECONDS) -> int:
    """One worker pass: claim an import and apply batches of it for about `seconds`. Returns
    how many rows it applied."""
    imp = claim(worker_id)
    if imp is None:
        return 0
    try:
        return run(imp, worker_id, seconds)
    except Exception as exc:
        log.exception("import %s failed", imp.pk)
        _open.pop(imp.pk, None)
        ContactImport.objects.filter(pk=imp.pk, claimed_by=worker_id).update(
            status=ContactImport.Status.FAILED, error=type(exc).__name__, finished_at=timezone.now()
        )
        return 1


class LostClaim(Exception):
    pass


def run(imp: ContactImport, worker_id: str, seconds: float = SLICE_SECONDS) -> int:
    """Apply batches from `rows_done` on until the file ends or `seconds` pass."""
    deadline = time.monotonic() + seconds
    applied = 0
    position, rows = _open.pop(imp.pk, (None, None))
    if position != imp.rows_done or rows is None:
        rows = read_rows(file_bytes(imp), imp.kind)
        next(rows, None)
        for _skip in range(imp.rows_done):
            next(rows, None)
    while True:
        batch = [item for _i, item in zip(range(BATCH), rows, strict=False)]
        if not batch:
            finish(imp, worker_id)
            return applied or 1
        try:
            apply_batch(imp, batch, worker_id)
        except LostClaim:
            return applied
        applied += len(batch)
        imp.rows_done += len(batch)
        if time.monotonic() >= deadline:
            _open[imp.pk] = (imp.rows_done, rows)
            return applied


def finish(imp: ContactImport, worker_id: str) -> None:
    ContactImport.objects.filter(pk=imp.pk, claimed_by=worker_id).update(
        status=ContactImport.Status.DONE,
        finished_at=timezone.now(),
        claimed_by="",
        claimed_until=None,
        rows_total=F("rows_done"),
    )


@transaction.atomic
def apply_batch(imp: ContactImport, batch: list[tuple[int, list[str]]], worker_id: str) -> None:
    """Write one batch's contacts, tags, fields, consents, the contacts it names
    (`ImportedContact`) and refused rows, and move the import's counts and `rows_done` on,
    all or nothing."""
    org_id = imp.organization_id
    checked = [check(imp, number, cells) for number, cells in batch]
    problems = [r for r in checked if r.problem]
    good: dict[str, list[Row]] = {}
    for row in checked:
        if not row.problem:
            good.setdefault(person(row.phone), []).append(row)
    people = contacts_of(imp.organization, good)
    created = sum(1 for known in people.values() if known.created)
    fill_fields(people, good)
    add_tags(org_id, people, good)
    grants = [
        consent.Grant(
            contact_id=people[key].pk,
            granted=row.consent,
            evidence=row.evidence,
            at=row.consent_at or timezone.now(),
            key=f"import:{imp.sha256[:40]}:{row.number}",
        )
        for key, rows in good.items()
        for row in rows
        if row.consent is not None
    ]
    recorded = consent.record_consents(
        org_id, grants, channel=Consent.Channel.IMPORT, source=imp, acting_member=imp.created_by
    )
    insert_rows(
        ImportedContact,
        [{"contact_id": pk} for pk in sorted({known.pk for known in people.values()})],
        fixed={"organization_id": org_id, "contact_import_id": imp.pk},
        conflict="ON CONFLICT DO NOTHING",
    )
    ContactImportProblem.objects.bulk_create(
        [
            ContactImportProblem(
                contact_import=imp,
                row_number=r.number,
                reason=r.problem,
                cells=[printable(c) for c in r.cells],
            )
            for r in problems
        ],
        ignore_conflicts=True,
    )
    moved = ContactImport.objects.filter(
        pk=imp.pk, claimed_by=worker_id, rows_done=imp.rows_done
    ).update(
        rows_done=F("rows_done") + len(batch),
        created_count=F("created_count") + created,
        updated_count=F("updated_count") + len(good) - created,
        merged_count=F("merged_count") + sum(len(rows) - 1 for rows in good.values()),
        refused_count=F("refused_count") + len(problems),
        consent_count=F("consent_count") + recorded,
        claimed_until=timezone.now() + timedelta(seconds=LEASE_SECONDS),
    )
    if not moved:
        # Another worker took the import over (this one stalled past its lease): undo.
        raise LostClaim


@dataclass
class Known:
    """A batch's person as the database holds them: their contact, its name and custom
    fields (what the file may fill), and whether this batch created it."""

    pk: int
    name: str
    fields: dict
    created: bool = False


def contacts_of(org: Organization, good: dict[str, list[Row]]) -> dict[str, Known]:
    """Person → their contact, as the identity code finds or creates one
    (`inbox.contacts.contacts_for_batch`), in a few statements for the whole batch:

    1. One query finds the contacts holding any form of the batch's numbers (their
       identities), and one more those stored with the phone but without its identity.
    2. The persons not found are inserted, with their name and custom fields already those of
       their rows, and then the identities of every form of their number and of the forms
       the found ones lack. A person whose forms point at two contacts (to merge), or whom
       another process created meanwhile, goes through `find_or_create_contact`; so does
       the whole batch when another process took one of its identities first.
    The numbers are normalized once, by `check`, and no model instance is built per row:
    at a hundred thousand rows that is most of what `contacts_for_batch` costs here."""
    forms = {
        key: [rows[0].phone, *phones.phone_variants(rows[0].phone)] for key, rows in good.items()
    }
    values = [value for forms_of in forms.values() for value in forms_of]
    owner = holders(org.pk, values)
    recorded = set(owner)
    owner |= holders(org.pk, [value for value in values if value not in recorded], by_phone=True)
    found: dict[str, Known] = {}
    missing, alone = [], []
    for key, forms_of in forms.items():
        owners = {owner[p].pk: owner[p] for p in forms_of if p in owner}
        if len(owners) == 1:
            found[key] = next(iter(owners.values()))
        else:
            (alone if owners else missing).append(key)
    try:
        with transaction.atomic():
            found |= create_contacts(org.pk, {key: good[key] for key in missing})
            insert_rows(
                ContactIdentity,
                [
                    {"contact_id": found[key].pk, "value": value}
                    for key in sorted(found, key=lambda k: forms[k][0])
                    for value in forms[key]
                    if value not in recorded
                ],
                fixed={"organization_id": org.pk, "kind": identity.PHONE},
            )
    except IntegrityError:
        found, alone = {}, list(forms)
    alone += [key for key in missing if key not in found]
    for key in alone:
        rows = good[key]
        contact, new = identity.find_or_create_contact(
            org, phone="+" + rows[0].phone, name=rows[0].name
        )
        found[key] = Known(contact.pk, contact.name, contact.custom_fields, new)
    return found


def holders(org_id: int, phones: list[str], *, by_phone: bool = False) -> dict[str, Known]:
    """Phone → the contact holding it as an identity, or with `by_phone` as its phone (a
    contact stored before identities).

    On PostgreSQL, one index lookup per number (a LATERAL join over the array): with
    `IN (…)` the planner, whose statistics lag behind a table the import itself is growing
    (a new organization's contacts look like a handful), reads every contact of the
    organization in each batch, and the import turns quadratic. SQLite's planner looks each
    one up; "phone <> ''" is the unique index's own condition, without which neither
    database uses that partial index."""
    if not phones:
        return {}
    if connection.vendor != "postgresql":
        if by_phone:
            found = (
                Contact.objects.filter(organization_id=org_id, phone__in=phones)
                .exclude(phone="")
                .values_list("phone", "pk", "name", "custom_fields")
            )
        else:
            found = ContactIdentity.objects.filter(
                organization_id=org_id, kind=identity.PHONE, value__in=phones
            ).values_list("value", "contact_id", "contact__name", "contact__custom_fields")
        return {phone: Known(pk, name, fields) for phone, pk, name, fields in found}
    quote = connection.ops.quote_name
    contacts = quote(Contact._meta.db_table)
    # Only quoted names from the models' meta are formatted in; every value is a parameter.
    if by_phone:
        lookup = (
            f"SELECT id FROM {contacts} WHERE organization_id = %s AND phone = v.phone"  # noqa: S608
            " AND NOT (phone = '')"
        )
    else:
        lookup = (
            f"SELECT contact_id AS id FROM {quote(ContactIdentity._meta.db_table)}"  # noqa: S608
            " WHERE organization_id = %s AND kind = %s AND value = v.phone"
        )
    sql = (
        f"SELECT v.phone, c.id, c.name, c.custom_fields FROM unnest(%s::text[]) AS v (phone) "  # noqa: S608
        f"CROSS JOIN LATERAL ({lookup} LIMIT 1) AS h JOIN {contacts} AS c ON c.id = h.id"
    )
    params = [phones, org_id] if by_phone else [phones, org_id, identity.PHONE]
    json_field = Contact._meta.get_field("custom_fields")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {
            phone: Known(pk, name, json_field.from_db_value(fields, None, connection))
            for phone, pk, name, fields in cursor.fetchall()
        }


def chunks(items: list, size: int) -> Iterator[list]:
    return (items[i : i + size] for i in range(0, len(items), size))


def create_contacts(org_id: int, good: dict[str, list[Row]]) -> dict[str, Known]:
    """Insert a contact for each person, named by their first row with a name and with
    their rows' custom fields (a later row's value wins); one another process created
    meanwhile (the same phone) is skipped and left out of the answer."""
    people = {}
    for key, rows in good.items():
        fields: dict[str, str] = {}
        for row in rows:
            fields.update(row.custom)
        name = next((r.name for r in rows if r.name), "")
        people[rows[0].phone] = (key, Known(0, name, fields, created=True))
    inserted = insert_rows(
        Contact,
        [
            {"phone": phone, "name": known.name, "custom_fields": known.fields}
            for phone, (_key, known) in sorted(people.items())
        ],
        fixed={"organization_id": org_id},
        conflict="ON CONFLICT (organization_id, phone) WHERE NOT (phone = '') DO NOTHING",
        returning="id, phone",
    )
    answer = {}
    for pk, phone in inserted:
        key, known = people[phone]
        known.pk = pk
        answer[key] = known
    return answer


# SQLite refuses a statement with more parameters than this (its default since 3.32).
SQLITE_PARAMETERS = 32766
PLAIN = {"CharField", "TextField", "BooleanField", "ForeignKey", "IntegerField", "BigIntegerField"}


def insert_rows(
    model: type[Model],
    rows: list[dict],
    *,
    fixed: dict,
    conflict: str = "",
    returning: str = "",
) -> list[tuple]:
    """Insert rows of `model` given as field attname → value, with the `fixed` values on
    every row and the model's defaults in the fields neither names; `conflict` is the
    statement's ON CONFLICT clause. Returns the `returning` columns of the rows inserted.

    Django's bulk_create builds a model instance and prepares every field of every row in
    Python, which costs more than the database spends on the insert; here only the varying
    values are prepared. PostgreSQL gets one array per column (UNNEST), a short statement
    whatever the row count; SQLite a VALUES list.
    """
    if not rows:
        return []
    meta = model._meta
    fields = {field.attname: field for field in meta.concrete_fields if not field.primary_key}
    varying = [fields[name] for name in rows[0]]
    template = model(**fixed)
    constant = [
        (field, field.get_db_prep_save(field.pre_save(template, True), connection))
        for field in fields.values()
        if field.attname not in rows[0]
    ]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in [*(f for f, _v in constant), *varying])
    select = ["%s"] * len(constant)
    head = [value for _field, value in constant]
    # Text, numbers, ids and booleans go as the caller gives them; other values (JSON, dates)
    # as Django prepares them for this database.
    prepare = [
        None if field.get_internal_type() in PLAIN else field.get_db_prep_save for field in varying
    ]
    prepared = [
        [
            row[field.attname] if how is None else how(row[field.attname], connection)
            for field, how in zip(varying, prepare, strict=True)
        ]
        for row in rows
    ]
    if connection.vendor == "postgresql":
        names = [f"c{i}" for i in range(len(varying))]
        arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in varying)
        source = f"UNNEST({arrays}) AS v ({', '.join(names)})"
        statements = [(source, head + [list(column) for column in zip(*prepared, strict=True)])]
    else:
        names = [f"column{i + 1}" for i in range(len(varying))]
        one = "(" + ", ".join(["%s"] * len(varying)) + ")"
        size = (SQLITE_PARAMETERS - len(head)) // len(varying)
        statements = [
            (
                f"(VALUES {', '.join([one] * len(chunk))}) AS v",
                head + [value for row in chunk for value in row],
            )
            for chunk in chunks(prepared, size)
        ]
    select += [f"v.{name}" for name in names]
    answer = []
    with connection.cursor() as cursor:
        for source, params in statements:
            # Only quoted names from the model's meta and the caller's clauses are formatted
            # in; every value is a parameter. "WHERE true": SQLite reads an ON CONFLICT after
            # a bare SELECT … FROM as a join's.
            sql = (
                f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
                f"SELECT {', '.join(select)} FROM {source} WHERE true {conflict}"
                + (f" RETURNING {returning}" if returning else "")
            )
            cursor.execute(sql, params)
            if returning:
                answer += cursor.fetchall()
    return answer


def add_tags(org_id: int, people: dict[str, Known], good: dict[str, list[Row]]) -> None:
    """The rows' tags on their contacts; a tag the organization lacks is created, spelled
    as the file first spells it (tags are one whatever their case)."""
    wanted: dict[str, str] = {}
    for rows in good.values():
        for row in rows:
            for name in row.tags:
                wanted.setdefault(name.lower(), name)
    if not wanted:
        return
    Tag.objects.bulk_create(
        [Tag(organization_id=org_id, name=name) for name in wanted.values()],
        ignore_conflicts=True,
    )
    tags = dict(
        Tag.objects.filter(organization_id=org_id)
        .annotate(lower=Lower("name"))
        .filter(lower__in=wanted)
        .values_list("lower", "pk")
    )
    links = {
        (people[key].pk, tags[name.lower()])
        for key, rows in good.items()
        for row in rows
        for name in row.tags
    }
    insert_rows(
        Contact.tags.through,
        [{"contact_id": contact, "tag_id": tag} for contact, tag in sorted(links)],
        fixed={},
        conflict="ON CONFLICT DO NOTHING",
    )


def fill_fields(people: dict[str, Known], good: dict[str, list[Row]]) -> None:
    """On the contacts the batch found, custom fields take the file's values (later rows of
    one person win), and a name fills an empty one; only contacts that change are written, a
    statement per column. (Those it created were inserted with both.)"""
    fields_of: dict[int, str] = {}
    names: dict[int, str] = {}
    for key, rows in good.items():
        known = people[key]
        if known.created:
            continue
        fields = dict(known.fields or {})
        for row in rows:
            fields.update(row.custom)
        if fields != known.fields:
            fields_of[known.pk] = json.dumps(fields, ensure_ascii=False)
        name = known.name or next((r.name for r in rows if r.name), "")
        if name != known.name:
            names[known.pk] = name
    set_column(Contact, "custom_fields", fields_of)
    set_column(Contact, "name", names)


def error_report(imp: ContactImport) -> str:
    """The refused rows as CSV: row number, reason, then the row's cells as in the file (one
    that starts like a formula shown as text)."""
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads a UTF-8 CSV as such only with its BOM
    writer = csv.writer(out)
    writer.writerow([_("Row"), _("Problem"), *map(safe_cell, imp.headers)])
    for problem in imp.problems.order_by("row_number"):
        writer.writerow([problem.row_number, _(problem.reason), *map(safe_cell, problem.cells)])
    return out.getvalue()
