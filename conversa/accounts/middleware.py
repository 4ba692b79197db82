from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from structlog.contextvars import bind_contextvars

from conversa.accounts import audit, last_used, tenancy
from conversa.accounts.models import Member


class OrganizationMiddleware:
    """Attaches `request.member` and `request.org` for a signed-in user, and shows every page
    in the organization's time zone (the deployment's TIME_ZONE without one). A deactivated
    membership is no membership. After a sign-in it sets the member's chosen language as the
    language cookie, which LocaleMiddleware reads on the following requests. Also notes from
    where the request came, for the audit timeline entries it writes (`audit.origin`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.member = None
        request.org = None
        if request.user.is_authenticated:
            member = (
                Member.objects.select_related("organization")
                .filter(user=request.user, is_active=True)
                .order_by("id")
                .first()
            )
            if member:
                request.member = member
                request.org = member.organization
        # Here, once, rather than per view: a page that forgot it showed UTC beside ones that
        # did not. Aware datetimes keep their offset, so the API's ISO output is unchanged.
        zone = ZoneInfo(request.org.time_zone) if request.org else None
        # The database's backstop: from here a query that forgets its organization filter finds
        # nothing of another organization's (an API token's request narrows in its auth).
        if request.org:
            tenancy.narrow(request.org.id)
            bind_contextvars(organization_id=request.org.id, member_id=request.member.id)
        origin = audit.origin.set(audit.origin_of(request))
        try:
            with timezone.override(zone):
                response = self.get_response(request)
        finally:
            audit.origin.reset(origin)
            tenancy.widen()
        language = getattr(request, "chosen_language", None)
        if language:
            set_language_cookie(response, language)
        return response


def set_language_cookie(response, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE or 365 * 24 * 3600,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


class ApiAfterwordsMiddleware:
    """What an API request leaves behind once its answer exists: the `RateLimit-*` headers of
    the budget it was counted against (`api_auth`), and its token's "last used" time, handed to
    a background writer so that it is never part of the request's transaction and can never
    fail or slow the answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        verdict = getattr(request, "ratelimit", None)
        if verdict is not None:
            for name, value in verdict.headers.items():
                response[name] = value
        token = getattr(request, "api_token_used", None)
        if token is not None:
            last_used.touch(token)
        return response
