"""Exports: conversations, messages, the Gate's decisions, the per-agent table or the audit log
of a period, with the Insights filters, as CSV or XLSX written in the background.

1. `request_export` checks the role, the period and the filters, records the request and
   audits it ("export.requested"); a worker is woken.
2. A worker pass (`run_due`) claims one export with a conditional update (two workers never
   write one export), and writes it for about SLICE_SECONDS: its rows are read CHUNK at a time
   by primary key (`keyset`), each chunk one query (the tags of a chunk's conversations one
   more), appended to a temporary file by the one spreadsheet writer (`conversa.spreadsheets`),
   and the progress (`rows_done`) is saved with the lease renewed. The open file waits in the
   process for the next pass. Memory holds one chunk, whatever the export's size.
3. The finished file goes to the default storage (never served publicly) with its expiry
   (EXPORT_KEEP_HOURS); `sweep` deletes expired files, and their link answers 410.

Keyset chunks rather than one `.iterator()`: the rows are read over several worker passes, and a
cursor held open between them would hold a transaction (and its snapshot) for minutes.

The file's headers and words are in the requester's language, its times in the organization's
time zone. Who sees an export: its requester, and the organization's owners and admins.
"""

import logging
import re
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import IO
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from conversa import spreadsheets
from conversa.accounts import audit, tenancy
from conversa.accounts.models import Member, OperationalEvent, Organization
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.accounts.services import record
from conversa.engine import wakeup, wording
from conversa.engine.models import GateDecision
from conversa.errors import Conflict, Forbidden, NotFound, Refused
from conversa.inbox.models import Conversation, Message
from conversa.insights import figures, periods
from conversa.insights.models import Export

log = logging.getLogger(__name__)

CHUNK = 2000
SLICE_SECONDS = 2.0
LEASE_SECONDS = 120
MAX_ATTEMPTS = 3
# Any period (ten years), bounded like every number from outside.
MAX_DAYS = 3660
# Exports a member may have waiting or being written at once: each holds a worker for a while.
MAX_UNFINISHED = 5
INSIGHTS_FILTERS = ("number_id", "queue_id", "agent_id", "tag_id")
AUDIT_FILTERS = ("member_id", "verb", "object_type")
VERB = re.compile(r"^[a-z_]{1,30}(\.[a-z_]{1,30}){0,2}$")
OBJECT_TYPE = re.compile(r"^[a-z_]{1,64}$")
VERDICTS = {
    GateDecision.Verdict.ALLOW: _("Allowed"),
    GateDecision.Verdict.DEFER: _("Deferred"),
    GateDecision.Verdict.BLOCK: _("Blocked"),
}
DIRECTIONS = {Message.Direction.INBOUND: _("In"), Message.Direction.OUTBOUND: _("Out")}


# What each kind holds


@dataclass
class Source:
    """An export's rows: the columns' titles, how many rows, and the rows a chunk at a time."""

    title: str
    columns: list[str]
    total: int
    chunks: Iterator[list[list]]


def keyset(rows: QuerySet, fields: tuple[str, ...]) -> Iterator[list[tuple]]:
    """`rows` as (pk, *fields) tuples in primary-key order, CHUNK a query."""
    last, size = 0, CHUNK
    while True:
        chunk = list(rows.filter(pk__gt=last).order_by("pk").values_list("pk", *fields)[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1][0]


def words(choices: dict, value) -> str:
    return str(choices.get(value, value or ""))


def phone(value: str) -> str | None:
    return f"+{value}" if value else None


CONVERSATION_FIELDS = (
    "contact__name",
    "contact__phone",
    "number__name",
    "queue__name",
    "assignee__display_name",
    "status",
    "created_at",
    "first_response_at",
    "resolved_at",
)


def conversation_rows(rows: QuerySet) -> Iterator[list[list]]:
    statuses = dict(Conversation.Status.choices)
    for chunk in keyset(rows, CONVERSATION_FIELDS):
        tags: dict[int, list[str]] = {}
        links = Conversation.tags.through.objects.filter(
            conversation_id__in=[row[0] for row in chunk]
        ).order_by("tag__name")
        for conversation_id, name in links.values_list("conversation_id", "tag__name"):
            tags.setdefault(conversation_id, []).append(name)
        yield [
            [
                pk,
                name,
                phone(number),
                sent_from,
                queue,
                assignee,
                words(statuses, status),
                opened,
                first_response,
                resolved,
                ", ".join(tags.get(pk, [])),
            ]
            for pk, name, number, sent_from, queue, assignee, status, opened, first_response, resolved in chunk  # noqa: E501
        ]


MESSAGE_FIELDS = (
    "conversation_id",
    "direction",
    "number__name",
    "conversation__contact__name",
    "conversation__contact__phone",
    "sender__display_name",
    "status",
    "created_at",
    "body",
)


def message_rows(rows: QuerySet) -> Iterator[list[list]]:
    statuses = dict(Message.Status.choices)
    for chunk in keyset(rows, MESSAGE_FIELDS):
        yield [
            [
                pk,
                conversation,
                words(DIRECTIONS, direction),
                number,
                contact,
                phone(contact_phone),
                sender,
                words(statuses, status),
                created,
                body,
            ]
            for pk, conversation, direction, number, contact, contact_phone, sender, status, created, body in chunk  # noqa: E501
        ]


DECISION_FIELDS = (
    "created_at",
    "intent_id",
    "intent__origin",
    "intent__status",
    "intent__contact__name",
    "intent__contact__phone",
    "number__name",
    "verdict",
    "reason_code",
    "reason",
    "defer_until",
)


def decision_rows(rows: QuerySet) -> Iterator[list[list]]:
    for chunk in keyset(rows, DECISION_FIELDS):
        yield [
            [
                created,
                intent,
                words(wording.ORIGINS, origin),
                words(wording.STATES, status),
                contact,
                phone(contact_phone),
                number,
                words(VERDICTS, verdict),
                code,
                reason,
                until,
            ]
            for _pk, created, intent, origin, status, contact, contact_phone, number, verdict, code, reason, until in chunk  # noqa: E501
        ]


def audit_rows(rows: QuerySet) -> Iterator[list[list]]:
    for chunk in keyset(rows, audit.EXPORT_FIELDS):
        yield [audit.export_cells(*fields[1:]) for fields in chunk]


def seconds(value: float | None) -> int | None:
    return None if value is None else round(value)


def source(export: Export) -> Source:
    """What `export` holds, read now (in the language and zone active)."""
    org = export.organization
    period = periods.local_period(org, export.first_day, export.last_day)
    start, end = period.start, period.end
    kind = Export.Kind
    if export.kind == kind.AUDIT:
        events = audit_events(org, export.filters).filter(created_at__gte=start, created_at__lt=end)
        return Source(
            gettext("Audit log"),
            [str(title) for title in audit.EXPORT_COLUMNS.values()],
            events.count(),
            audit_rows(events),
        )
    if export.requested_by is None:
        raise Refused(gettext("The person who asked for this export has left the team."))
    chosen = insights_filters(org, export.requested_by, export.filters)
    if export.kind == kind.CONVERSATIONS:
        rows = figures.conversations(org, chosen).filter(created_at__gte=start, created_at__lt=end)
        columns = [
            _("Conversation"),
            _("Contact"),
            _("Phone"),
            _("Number"),
            _("Queue"),
            _("Assigned to"),
            _("Status"),
            _("Opened"),
            _("First response"),
            _("Resolved"),
            _("Tags"),
        ]
        return Source(gettext("Conversations"), columns, rows.count(), conversation_rows(rows))
    if export.kind == kind.MESSAGES:
        rows = figures.messages(org, start, end, chosen)
        columns = [
            _("Message"),
            _("Conversation"),
            _("Direction"),
            _("Number"),
            _("Contact"),
            _("Phone"),
            _("Sent by"),
            _("Status"),
            _("Time"),
            _("Text"),
        ]
        return Source(gettext("Messages"), columns, rows.count(), message_rows(rows))
    if export.kind == kind.INTENTS:
        rows = figures.decisions(org, start, end, chosen)
        columns = [
            _("Decided at"),
            _("Message to send"),
            _("Origin"),
            _("State now"),
            _("Contact"),
            _("Phone"),
            _("Number"),
            _("Decision"),
            _("Reason code"),
            _("Reason"),
            _("Deferred until"),
        ]
        return Source(gettext("Sending decisions"), columns, rows.count(), decision_rows(rows))
    table = figures.per_agent(org, start, end, chosen)
    columns = [
        _("Agent"),
        _("Handled"),
        _("First response, median (seconds)"),
        _("Resolution, median (seconds)"),
        _("Open now"),
    ]
    agents = [
        [
            row["name"],
            row["handled"],
            seconds(row["first_response_median"]),
            seconds(row["resolution_median"]),
            row["open"],
        ]
        for row in table
    ]
    return Source(gettext("Per agent"), columns, len(agents), iter([agents] if agents else []))


def insights_filters(org: Organization, member: Member, ids: dict) -> figures.Filters:
    try:
        return periods.filters_for(org, member, **{k: ids.get(k) for k in INSIGHTS_FILTERS})
    except Http404 as exc:
        raise NotFound(gettext("Choose a number, queue, member and tag from the lists.")) from exc


def audit_events(org: Organization, chosen: dict) -> QuerySet:
    events = OperationalEvent.objects.for_org(org)
    if chosen.get("member_id"):
        events = events.filter(actor_id=chosen["member_id"])
    if chosen.get("verb"):
        events = events.filter(verb=chosen["verb"])
    if chosen.get("object_type"):
        events = events.filter(object_type=chosen["object_type"])
    return events


# Asking for one


def may_export(member: Member, kind: str) -> bool:
    """Owners, admins and supervisors export the organization's rows; the audit log is for
    owners and admins, as its page. Agents export nothing: their figures are on their page."""
    return member.administers if kind == Export.Kind.AUDIT else member.supervises


def clean_filters(org: Organization, member: Member, kind: str, given: dict) -> dict:
    """The filters `kind` takes from `given`, each checked: ids of the organization's objects
    (another's is a 404), codes of the audit log's shape."""
    given = given or {}
    if kind == Export.Kind.AUDIT:
        unknown = set(given) - set(AUDIT_FILTERS)
    else:
        unknown = set(given) - set(INSIGHTS_FILTERS)
    if unknown:
        raise Refused(
            gettext("Unknown filter: %(names)s.") % {"names": ", ".join(sorted(unknown))},
            field="filters",
        )
    chosen = {}
    for name, value in given.items():
        if value in (None, ""):
            continue
        if name in ("verb", "object_type"):
            pattern = VERB if name == "verb" else OBJECT_TYPE
            if not isinstance(value, str) or not pattern.match(value):
                raise Refused(gettext("Unknown action or kind of object."), field="filters")
            chosen[name] = value
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
            raise Refused(gettext("Filters name objects by their ids."), field="filters")
        chosen[name] = value
    if kind == Export.Kind.AUDIT:
        if "member_id" in chosen:
            try:
                get_for_org_or_404(org, Member, pk=chosen["member_id"])
            except Http404 as exc:
                raise NotFound(gettext("Unknown member.")) from exc
    else:
        # Looked up now, so a wrong id is refused while the person is still there.
        narrowing = {k: chosen.get(k) for k in INSIGHTS_FILTERS}
        try:
            periods.filters_for(org, member, **narrowing)
        except Http404 as exc:
            raise NotFound(
                gettext("Choose a number, queue, member and tag from the lists.")
            ) from exc
    return chosen


def request_export(
    org: Organization,
    *,
    kind: str,
    fmt: str,
    first_day: date,
    last_day: date,
    filters: dict | None = None,
    language: str | None = None,
    acting_member: Member,
) -> Export:
    """Ask for an export of `kind` as `fmt` ("csv" or "xlsx") of the local days `first_day` to
    `last_day` with `filters`; a worker writes it. Recorded in the audit log: the file holds
    people's data."""
    if kind not in Export.Kind.values:
        raise Refused(gettext("Unknown kind of export."), field="kind")
    if fmt not in Export.Format.values:
        raise Refused(gettext("Exports are CSV or XLSX files."), field="format")
    if not may_export(acting_member, kind):
        raise Forbidden(gettext("Your role cannot export this."))
    periods.custom(org, first_day, last_day, max_days=MAX_DAYS)
    chosen = clean_filters(org, acting_member, kind, filters or {})
    unfinished = scoped(org, Export).filter(
        requested_by=acting_member, status__in=[Export.Status.QUEUED, Export.Status.RUNNING]
    )
    if unfinished.count() >= MAX_UNFINISHED:
        raise Conflict(
            gettext("You have %(n)d exports being written: ask again once one is ready.")
            % {"n": MAX_UNFINISHED}
        )
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    export = Export.objects.create(
        organization=org,
        requested_by=acting_member,
        kind=kind,
        format=fmt,
        first_day=first_day,
        last_day=last_day,
        filters=chosen,
        language=language,
    )
    record(
        org.id,
        "export.requested",
        export,
        actor=acting_member,
        kind=kind,
        format=fmt,
        first_day=first_day.isoformat(),
        last_day=last_day.isoformat(),
        filters=chosen,
    )
    transaction.on_commit(wakeup.notify)
    return export


def visible(org: Organization, member: Member) -> QuerySet:
    """The exports `member` sees: every one of the organization's for its owners and admins,
    their own for the others."""
    exports = scoped(org, Export)
    if not member.administers:
        exports = exports.filter(requested_by=member)
    return exports


def open_file(export: Export) -> IO[bytes] | None:
    """The export's file, open for reading; None when it is gone (expired meanwhile)."""
    try:
        return default_storage.open(export.file_path, "rb")
    except FileNotFoundError:
        return None


def file_name(export: Export) -> str:
    return f"{export.kind}-{export.first_day}-{export.last_day}.{export.format}"


# Writing (in a worker)


class LostClaim(Exception):
    """Another worker took the export over (this one's lease ran out)."""


# Exports this process is writing: id → (rows written, the steps left, the open file).
_open: dict[int, tuple[int, Iterator[int], IO[bytes]]] = {}


def claim(worker_id: str) -> Export | None:
    """Take one queued export, or a running one whose worker's lease ran out (it died)."""
    now = timezone.now()
    due = Export.objects.filter(status__in=[Export.Status.QUEUED, Export.Status.RUNNING])
    for export in due.order_by("created_at", "id")[:5]:
        if export.claimed_until and export.claimed_until > now and export.claimed_by != worker_id:
            continue
        taken = Export.objects.filter(
            pk=export.pk, status=export.status, claimed_until=export.claimed_until
        ).update(
            status=Export.Status.RUNNING,
            claimed_by=worker_id,
            claimed_until=now + timedelta(seconds=LEASE_SECONDS),
        )
        if taken:  # 0 rows: another worker got there first
            export.refresh_from_db()
            return export
    return None


def run_due(worker_id: str, seconds: float = SLICE_SECONDS) -> int:
    """One worker pass: claim an export and write it for about `seconds`. Returns how many rows
    it wrote (1 when it only finished or failed one)."""
    export = claim(worker_id)
    if export is None:
        return 0
    try:
        with tenancy.working_for(export.organization_id):
            return run(export, worker_id, seconds)
    except LostClaim:
        forget(export.pk)
        return 0
    except Exception as exc:
        forget(export.pk)
        refused = isinstance(exc, Refused)
        if not refused:
            log.exception("export %s failed", export.pk)
        attempts = export.attempts + 1
        retry = not refused and attempts < MAX_ATTEMPTS
        Export.objects.filter(pk=export.pk, claimed_by=worker_id).update(
            status=Export.Status.QUEUED if retry else Export.Status.FAILED,
            attempts=attempts,
            error=(str(exc) if refused else gettext("The file could not be written."))[:255],
            claimed_by="",
            claimed_until=None,
            finished_at=None if retry else timezone.now(),
        )
        return 1


def forget(export_id: int) -> None:
    _rows, steps, handle = _open.pop(export_id, (0, None, None))
    if handle is not None:
        handle.close()


def run(export: Export, worker_id: str, seconds: float = SLICE_SECONDS) -> int:
    """Write chunks of `export` until it is finished or `seconds` pass."""
    deadline = time.monotonic() + seconds
    rows, steps, handle = _open.pop(export.pk, (None, None, None))
    if rows != export.rows_done or steps is None:
        # A first pass, or another worker's export taken over: from the start.
        if handle is not None:
            handle.close()
        handle = tempfile.TemporaryFile()  # noqa: SIM115 (kept open between passes)
        steps = write(export, handle, worker_id)
        rows = 0
    zone = ZoneInfo(export.organization.time_zone)
    written = 0
    while True:
        with translation.override(export.language), timezone.override(zone):
            done = next(steps, None)
        if done is None:
            finish(export, handle, worker_id)
            return written or 1
        written += done - rows
        rows = done
        if time.monotonic() >= deadline:
            _open[export.pk] = (rows, steps, handle)
            return written


def write(export: Export, handle: IO[bytes], worker_id: str) -> Iterator[int]:
    """Write the export into `handle` a chunk at a time, yielding the rows written so far after
    each chunk, once its progress is saved."""
    rows = source(export)
    progress(export, worker_id, rows_done=0, rows_total=rows.total)
    zone = ZoneInfo(export.organization.time_zone)
    header = [str(column) for column in rows.columns]
    sheet = spreadsheets.Sheet(export.format, handle, header, zone, title=rows.title)
    done = 0
    for chunk in rows.chunks:
        sheet.append(chunk)
        done += len(chunk)
        progress(export, worker_id, rows_done=done)
        yield done
    sheet.close()


def progress(export: Export, worker_id: str, **counts) -> None:
    """Save how far the export is, renewing its lease; LostClaim if it is no longer ours."""
    saved = Export.objects.filter(pk=export.pk, claimed_by=worker_id).update(
        claimed_until=timezone.now() + timedelta(seconds=LEASE_SECONDS), **counts
    )
    if not saved:
        raise LostClaim
    export.rows_done = counts.get("rows_done", export.rows_done)


def finish(export: Export, handle: IO[bytes], worker_id: str) -> None:
    """Store the written file and mark the export ready until it expires."""
    handle.seek(0)
    name = f"exports/{export.organization_id}/{export.pk}-{secrets.token_hex(8)}.{export.format}"
    try:
        path = default_storage.save(name, File(handle, name=name))
        size = default_storage.size(path)
    finally:
        handle.close()
    now = timezone.now()
    saved = Export.objects.filter(pk=export.pk, claimed_by=worker_id).update(
        status=Export.Status.DONE,
        file_path=path,
        file_size=size,
        finished_at=now,
        expires_at=now + timedelta(hours=settings.EXPORT_KEEP_HOURS),
        claimed_by="",
        claimed_until=None,
    )
    if not saved:  # taken over meanwhile: the other worker's file is the one kept
        default_storage.delete(path)
        raise LostClaim


def sweep(now=None) -> int:
    """Delete the files of exports past their expiry; returns how many."""
    now = now or timezone.now()
    count = 0
    due = Export.objects.filter(status=Export.Status.DONE, expires_at__lte=now)
    for export_id, path in due.values_list("pk", "file_path")[:200]:
        if path:
            default_storage.delete(path)
        count += Export.objects.filter(pk=export_id, status=Export.Status.DONE).update(
            status=Export.Status.EXPIRED, file_path=""
        )
    return count
