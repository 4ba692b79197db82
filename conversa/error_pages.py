"""The pages for 400, 403, 404 and 500: in the member's language, inside the app (the sidebar)
for a signed-in member and a plain branded page otherwise, each saying what happened and how to
get back. The API keeps answering in JSON, and htmx in plain text (the page shows it in a
toast, app.js)."""

import logging

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from conversa.accounts.models import Member

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
API_CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 500: "server_error"}


def titles() -> dict[int, tuple[str, str]]:
    """Each status's heading and sentence, translated when asked for (the request's language)."""
    return {
        400: (
            _("This request could not be read"),
            _("Something in the address or the form was not understood. Go back and try again."),
        ),
        403: (
            _("You do not have access to this page"),
            _("Your role in this organization does not include this page."),
        ),
        404: (
            _("Page not found"),
            _("The page you asked for does not exist, or it was moved or deleted."),
        ),
        500: (
            _("Something went wrong on our side"),
            _(
                "The problem was recorded. Try again in a moment; if it keeps happening, tell your administrator."
            ),
        ),
    }


def granters(member: Member | None) -> list[Member]:
    """Who can give `member` access to an owners' and admins' page: the organization's active
    owners and admins."""
    if member is None:
        return []
    roles = (Member.Role.OWNER, Member.Role.ADMIN)
    rows = Member.objects.filter(
        organization_id=member.organization_id, role__in=roles, is_active=True
    )
    return list(rows.exclude(pk=member.pk).order_by("role", "display_name")[:5])


def answer(request, status: int, *, reason: str = "", layout: bool = True) -> HttpResponse:
    title, sentence = titles()[status]
    if request.path.startswith(API_PREFIX):
        body = {"error": API_CODES[status], "detail": reason or title}
        return JsonResponse(body, status=status)
    if getattr(request, "htmx", False):
        return HttpResponse(
            reason or title, status=status, content_type="text/plain; charset=utf-8"
        )
    member = getattr(request, "member", None)
    context = {
        "status": status,
        "title": title,
        "sentence": sentence,
        "reason": reason,
        "layout": "base.html" if member and layout else "errors/plain.html",
        "signed_in": member is not None,
        "granters": granters(member) if status == 403 else [],
    }
    return render(request, "errors/page.html", context, status=status)


def bad_request(request, exception=None):
    return answer(request, 400)


def permission_denied(request, exception=None):
    # A PermissionDenied raised with words (conversa.web.refused, a page's own refusal) says
    # them; a bare one says only the generic sentence.
    return answer(request, 403, reason=str(exception or ""))


def page_not_found(request, exception=None):
    # Http404's own words are for developers ("No Number matches the given query"): not shown.
    return answer(request, 404)


def server_error(request):
    """Without the sidebar: whatever failed (the database, a template) may fail again while
    drawing it. Should even the plain page fail, a line of text still answers."""
    try:
        return answer(request, 500, layout=False)
    except Exception:
        logger.exception("the 500 page itself failed")
        return HttpResponse("Server error", status=500, content_type="text/plain; charset=utf-8")


class ApiMethodNotAllowedMiddleware:
    """A method an API path does not take: django-ninja answers it in plain text; said here in
    the API's one error shape, its `Allow` header kept."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or not request.path.startswith(API_PREFIX):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        allowed = response.get("Allow", "")
        detail = f"{request.method} is not allowed here; allowed: {allowed}"
        answer = JsonResponse({"error": "method_not_allowed", "detail": detail}, status=405)
        answer["Allow"] = allowed
        return answer
