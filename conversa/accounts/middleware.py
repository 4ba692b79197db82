from zoneinfo import ZoneInfo

from django.utils import timezone

from conversa.accounts import audit
from conversa.accounts.models import Member


class OrganizationMiddleware:
    """Attaches `request.member` and `request.org` for a signed-in user, and shows every page
    in the organization's time zone (the deployment's TIME_ZONE without one). Also notes from
    where the request came, for the audit timeline entries it writes (`audit.origin`)."""

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
        token = audit.origin.set(audit.origin_of(request))
        try:
            with timezone.override(zone):
                return self.get_response(request)
        finally:
            audit.origin.reset(token)
