from zoneinfo import ZoneInfo

from django.utils import timezone

from conversa.accounts import last_used
from conversa.accounts.models import Member


class OrganizationMiddleware:
    """Attaches `request.member` and `request.org` for a signed-in user, and shows every page
    in the organization's time zone (the deployment's TIME_ZONE without one)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.member = None
        request.org = None
        if request.user.is_authenticated:
            member = (
                Member.objects.select_related("organization")
                .filter(user=request.user)
                .order_by("id")
                .first()
            )
            if member:
                request.member = member
                request.org = member.organization
        # Here, once, rather than per view: a page that forgot it showed UTC beside ones that
        # did not. Aware datetimes keep their offset, so the API's ISO output is unchanged.
        zone = ZoneInfo(request.org.time_zone) if request.org else None
        with timezone.override(zone):
            return self.get_response(request)


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
