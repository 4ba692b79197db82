"""API authentication: the browser's session, or a per-organization bearer token."""

from datetime import timedelta

from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from conversa.accounts import tenancy
from conversa.accounts.models import ApiToken

LAST_USED_RESOLUTION = timedelta(minutes=1)


class MemberSession(SessionAuth):
    """Session auth (with Django's CSRF check on unsafe methods) for a member of an org."""

    def _get_key(self, request):
        # No session cookie: nothing to protect from CSRF, and the answer is a plain 401.
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        return user if user and getattr(request, "org", None) else None


class OrgToken(HttpBearer):
    def authenticate(self, request, token: str):
        if not token.startswith(ApiToken.PREFIX):
            return None
        tokens = ApiToken.objects.select_related("member", "organization")
        try:
            found = tokens.get(token_hash=ApiToken.hash(token))
        except ApiToken.DoesNotExist:
            return None
        if not found.member.is_active:
            return None  # a deactivated member's tokens stop working with them
        now = timezone.now()
        # "Last used" is shown to the minute: writing the token's row on every request would
        # make each read a write, and a busy client's requests queue on that row's lock.
        if found.last_used_at is None or now - found.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        request.org = found.organization
        request.member = found.member
        # Widened again by the organization middleware when the request ends.
        tenancy.narrow(found.organization_id)
        return found


api_auth = [OrgToken(), MemberSession()]
