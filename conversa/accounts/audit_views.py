"""The audit log as a page (owners and admins): the organization's timeline, newest first, with
filters, pages by id (keyset: each page is an index range scan, however far back), and a CSV
export that is streamed, audited itself, and safe to open in a spreadsheet."""

import csv
import re
from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from conversa.accounts import audit, mfa
from conversa.accounts.models import Member, OperationalEvent
from conversa.accounts.scoping import scoped
from conversa.accounts.services import record
from conversa.web import operator_view

PAGE_SIZE = 50
MAX_ID = 2**63 - 1
ID = re.compile(r"^[0-9]{1,19}$")
VERB = re.compile(r"^[a-z_]{1,30}(\.[a-z_]{1,30}){0,2}$")
OBJECT_TYPE = re.compile(r"^[a-z_]{1,64}$")
EARLIEST = date(2000, 1, 1)


def whole_id(value: str) -> int | None:
    """An id from a query string: ASCII digits within 1…2⁶³−1, else None."""
    if not ID.match(value):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


class Filters:
    """The audit page's filters from its query string; `errors` says what was not understood
    (that filter is then not applied)."""

    def __init__(self, org, params):
        self.errors: list[str] = []
        self.actor = self.verb = self.object_type = self.since = self.until = None
        self.before = None
        self.values = {k: params.get(k, "")[:64] for k in ("who", "action", "object", "from", "to")}
        if who := self.values["who"]:
            self.actor = whole_id(who)
            if self.actor is None or not scoped(org, Member).filter(pk=self.actor).exists():
                self.actor = None
                self.errors.append(_("Unknown member."))
        if action := self.values["action"]:
            if VERB.match(action):
                self.verb = action
            else:
                self.errors.append(_("Unknown action."))
        if kind := self.values["object"]:
            if OBJECT_TYPE.match(kind):
                self.object_type = kind
            else:
                self.errors.append(_("Unknown kind of object."))
        self.since = self.day(self.values["from"])
        self.until = self.day(self.values["to"])
        if self.since and self.until and self.since > self.until:
            self.errors.append(_("The start date is after the end date."))
            self.since = self.until = None
        if before := params.get("before", ""):
            self.before = whole_id(before[:20])

    def day(self, value: str) -> date | None:
        if not value:
            return None
        try:
            day = date.fromisoformat(value)
        except ValueError:
            self.errors.append(_("Dates are written as YYYY-MM-DD."))
            return None
        if not EARLIEST <= day <= timezone.localdate() + timedelta(days=1):
            self.errors.append(_("Dates go from the year 2000 to today."))
            return None
        return day

    def apply(self, events):
        if self.actor:
            events = events.filter(actor_id=self.actor)
        if self.verb:
            events = events.filter(verb=self.verb)
        if self.object_type:
            events = events.filter(object_type=self.object_type)
        zone = timezone.get_current_timezone()
        if self.since:
            events = events.filter(created_at__gte=datetime.combine(self.since, time(), zone))
        if self.until:
            end = datetime.combine(self.until + timedelta(days=1), time(), zone)
            events = events.filter(created_at__lt=end)
        return events

    def query(self, **extra) -> str:
        from urllib.parse import urlencode

        return urlencode({**{k: v for k, v in self.values.items() if v}, **extra})


def administrator(request) -> None:
    if not request.member.administers:
        raise PermissionDenied


def timeline(request, filters: Filters):
    events = scoped(request.org, OperationalEvent).select_related("actor")
    return filters.apply(events).order_by("-id")


@operator_view
def audit_log(request):
    """The organization's audit timeline, newest first, PAGE_SIZE at a time."""
    administrator(request)
    filters = Filters(request.org, request.GET)
    events = timeline(request, filters)
    if filters.before:
        events = events.filter(id__lt=filters.before)
    rows = list(events[: PAGE_SIZE + 1])
    older = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    rows = rows[:PAGE_SIZE]
    for row in rows:
        row.sentence = audit.verb_text(row.verb)
        row.who = audit.actor_text(row)
        row.object_name = audit.object_text(row.object_type)
    verbs = sorted(((v, str(t)) for v, t in audit.VERBS.items()), key=lambda pair: pair[1])
    kinds = sorted(((k, str(t)) for k, t in audit.OBJECT_TYPES.items()), key=lambda pair: pair[1])
    context = {
        "section": "audit",
        "events": rows,
        "filters": filters,
        "members": scoped(request.org, Member).order_by("display_name"),
        "verbs": verbs,
        "kinds": kinds,
        "older": filters.query(before=older) if older else "",
        "newest": filters.query() if filters.before else None,
        "export": filters.query(),
        # The background export (insights' exports page) of the same filters, CSV or XLSX.
        "export_fields": [
            ("start", filters.values["from"]),
            ("end", filters.values["to"]),
            ("who", filters.values["who"]),
            ("action", filters.values["action"]),
            ("object", filters.values["object"]),
        ],
        "export_kinds": [("audit", _("Audit log"))],
    }
    status = 400 if filters.errors else 200
    return render(request, "settings/audit.html", context, status=status)


class Echo:
    def write(self, value):
        return value


CSV_HEADER = ["when", "who", "action", "verb", "object", "object_id", "ip_address", "browser"]


def csv_rows(events, zone):
    writer = csv.writer(Echo())
    yield writer.writerow(CSV_HEADER + ["details"])
    for fields in events.values_list(*audit.EXPORT_FIELDS).iterator(chunk_size=1000):
        cells = audit.export_cells(*fields)
        cells[0] = timezone.localtime(cells[0], zone).isoformat()
        yield writer.writerow([audit.safe_cell(cell) for cell in cells])


@operator_view
@mfa.require_fresh_second_factor
def audit_export(request):
    """The filtered timeline as CSV, streamed (oldest rows are not held in memory). The export
    is itself recorded, with its filters, before the first row leaves."""
    administrator(request)
    filters = Filters(request.org, request.GET)
    if filters.errors:
        return render(
            request, "settings/audit.html", {"section": "audit", "filters": filters}, status=400
        )
    events = timeline(request, filters)
    member = request.member
    record(request.org.id, "audit.exported", member, actor=member, filters=filters.values)
    response = StreamingHttpResponse(
        csv_rows(events, timezone.get_current_timezone()), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
