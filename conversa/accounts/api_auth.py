"""API authentication: the browser's session, or a per-organization bearer token.

Here, once for every operation: a token's scope (by method and route), and the request budgets
per token (or signed-in member) and per organization. A request past its budget is a 429 with
`Retry-After`; every counted answer carries the `RateLimit-*` headers
(`middleware.ApiAfterwordsMiddleware` writes them, and the token's "last used", after the
answer).
"""

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth
from structlog.contextvars import bind_contextvars

from conversa import ratelimits
from conversa.accounts import audit, tenancy
from conversa.accounts.models import ApiToken

# Read-only methods: all a `read` token may use.
READING = frozenset({"GET", "HEAD", "OPTIONS"})
# What a `send` token may do besides reading: create intents and send messages, as
# (method, route under /api/). `manage` tokens do whatever their member's role allows.
SENDING = frozenset(
    {
        ("POST", "intents"),
        ("POST", "intents/location"),
        ("POST", "intents/contacts"),
        ("POST", "intents/media"),
        ("POST", "conversations/<conversation_id>/reply"),
    }
)


def scope_allows(scope: str, method: str, route: str) -> bool:
    """Whether a token of `scope` may call `method` on `route` (its pattern under /api/)."""
    if scope == ApiToken.Scope.MANAGE or method in READING:
        return True
    return scope == ApiToken.Scope.SEND and (method, route) in SENDING


def route_of(request) -> str:
    match = getattr(request, "resolver_match", None)
    route = match.route if match is not None else ""
    return route.removeprefix("api/")


class TooManyRequests(HttpError):
    def __init__(self, verdict: ratelimits.Verdict):
        super().__init__(429, f"Too many requests: try again in {max(verdict.reset, 1)} seconds")


def count_request(request, who: str) -> None:
    """Count the request against its caller's and its organization's budgets; 429 past
    either. The verdict stays on the request for the headers."""
    verdict = ratelimits.hit(
        (settings.API_RATE_LIMIT_TOKEN, f"api:{who}"),
        (settings.API_RATE_LIMIT_ORGANIZATION, f"api:org:{request.org.pk}"),
    )
    request.ratelimit = verdict
    if not verdict.allowed:
        raise TooManyRequests(verdict)


class MemberSession(SessionAuth):
    """Session auth (with Django's CSRF check on unsafe methods) for a member of an org."""

    def _get_key(self, request):
        # No session cookie: nothing to protect from CSRF, and the answer is a plain 401.
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        if not (user and getattr(request, "org", None)):
            return None
        count_request(request, f"member:{request.member.pk}")
        return user


class OrgToken(HttpBearer):
    def authenticate(self, request, token: str):
        if not token.startswith(ApiToken.PREFIX) or len(token) > 200:
            return None
        tokens = ApiToken.objects.select_related("member", "organization")
        found = tokens.filter(token_hash=ApiToken.hash(token)).first()
        # Revoked or expired: refused like an unknown token, at once.
        if found is None or not found.usable(timezone.now()):
            return None
        if not found.member.is_active:
            return None  # a deactivated member's tokens stop working with them
        request.org = found.organization
        request.member = found.member
        request.api_token_used = found
        audit.through_token(found.name)
        # Widened again by the organization middleware when the request ends.
        tenancy.narrow(found.organization_id)
        bind_contextvars(organization_id=found.organization_id, member_id=found.member_id)
        count_request(request, f"token:{found.pk}")
        if not scope_allows(found.scope, request.method, route_of(request)):
            raise HttpError(
                403,
                gettext("This token's scope (%(scope)s) does not allow this request.")
                % {"scope": found.scope},
            )
        return found


api_auth = [OrgToken(), MemberSession()]
