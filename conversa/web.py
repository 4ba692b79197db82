"""Helpers every app's pages share: the signed-in operator's view, a refusal as a page's answer,
and reading numbers and JSON bodies from a request."""

import json
import re
from datetime import date, datetime, time, timedelta
from functools import wraps
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse

from conversa.errors import Refused

# Checks every operator page runs first, each returning an answer that replaces the page or None
# (registered by the apps that own them: accounts' "set up two-step verification first"). A
# list here, not an import, so that the pages' helpers stay below every app.
page_guards: list = []


def operator_view(view):
    """A page of a signed-in member of an organization (times are in its time zone: the
    organization middleware activates it). A `Refused` the view does not show beside its own
    form becomes the page's answer here, the one place pages turn refusals into HTTP."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.org is None:
            raise Http404("No organization")
        for guard in page_guards:
            if answer := guard(request):
                return answer
        try:
            return view(request, *args, **kwargs)
        except Refused as exc:
            return refused(request, exc)

    return wrapped


def admin_view(view):
    """A page of an owner or admin of the organization (settings, members, policies); another
    member gets the 403 page."""

    @operator_view
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.member.administers:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def refused(request, exc: Refused) -> HttpResponse:
    """A refusal as a page's answer. To htmx: its words as plain text, which the page shows in a
    toast (400 for invalid input or a clash, so htmx swaps nothing; else its own status). To a
    plain request: the usual 403 or 404 page, or the text."""
    status = 400 if exc.status in (409, 422) else exc.status
    if request.htmx or status not in (403, 404):
        return HttpResponse(str(exc), status=status, content_type="text/plain; charset=utf-8")
    if status == 403:
        raise PermissionDenied(str(exc))
    raise Http404(str(exc))


# The largest id a database row can have (a signed 64-bit key).
MAX_ID = 2**63 - 1
# ASCII digits only: str.isdigit() takes "²" and "٣", which int() then refuses or reads.
DIGITS = re.compile(r"[0-9]{1,19}")


def local_midnight(org, value: str | None, *, after: bool = False) -> datetime | None:
    """The start of a local day given as YYYY-MM-DD, in the organization's time zone (of the
    next day, `after`: the end of a window that includes the day); None for anything else,
    or a day the calendar cannot follow."""
    try:
        day = date.fromisoformat(value or "")
        if after:
            day += timedelta(days=1)
    except (ValueError, OverflowError):
        return None
    return datetime.combine(day, time(), ZoneInfo(org.time_zone))


def number(value: str | None, *, most: int = MAX_ID) -> int | None:
    """A whole number from 1 to `most` (an id's range by default) from a form or query
    parameter, in ASCII digits; None for anything else."""
    if not isinstance(value, str) or not DIGITS.fullmatch(value):
        return None
    parsed = int(value)
    return parsed if 1 <= parsed <= most else None


def whole(value: str | None, *, most: int = MAX_ID) -> int | None:
    """A whole number from 0 to `most` (a count, a delay, a capacity), in ASCII digits;
    None for anything else."""
    if not isinstance(value, str) or not DIGITS.fullmatch(value):
        return None
    parsed = int(value)
    return parsed if parsed <= most else None


def declared_length(request) -> int:
    """The request body's declared size in bytes (0 when none is declared); one that is not a
    number counts as too large for any limit."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    size = whole(declared)
    return MAX_ID if size is None else size


def json_body(request) -> dict:
    """The request's JSON object; {} when the body is empty, unreadable or not an object."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
