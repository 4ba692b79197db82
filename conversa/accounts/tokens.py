"""API tokens in the product: issued (the secret shown once), listed, revoked.

Every member manages their own tokens; owners and admins also see and revoke everyone's in the
organization. A token's scope never exceeds what its member's role allows: `manage` is for
owners and admins (an agent's or a supervisor's token reads, or reads and sends). A revoked
token is kept, with who revoked it and when, and refused at once.
"""

from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import ApiToken, Member
from conversa.accounts.services import create_api_token, record, same_org
from conversa.errors import Forbidden, Refused

# A token that outlives this is a token nobody remembers: "never" is the explicit choice.
MAX_LIFETIME = timedelta(days=2 * 366)
MAX_NAME = 120


def allowed_scopes(member: Member) -> list[str]:
    """The scopes `member` may give a token, narrowest first."""
    scopes = [ApiToken.Scope.READ, ApiToken.Scope.SEND]
    if member.administers:
        scopes.append(ApiToken.Scope.MANAGE)
    return scopes


def visible_tokens(member: Member) -> QuerySet[ApiToken]:
    """The tokens `member` sees: their own, or, for owners and admins, the organization's."""
    tokens = ApiToken.objects.for_org(member.organization).select_related("member", "revoked_by")
    if not member.administers:
        tokens = tokens.filter(member=member)
    return tokens.order_by("revoked_at", "-created_at", "-id")


def expiry_refusal() -> str:
    return gettext("Choose an expiry date within the next two years.")


def expiry_on(day: date | None) -> datetime | None:
    """The end of `day` in the current (the organization's) time zone, or None for a token
    that never expires: a token "until 3 May" works through 3 May. Refused (422) beyond the
    two years, before any arithmetic that could overflow."""
    if day is None:
        return None
    if day > timezone.localdate() + MAX_LIFETIME:
        raise Refused(expiry_refusal(), field="expires_at")
    start_next = datetime.combine(day + timedelta(days=1), time.min)
    return timezone.make_aware(start_next, timezone.get_current_timezone())


@transaction.atomic
def issue_token(
    *,
    acting_member: Member,
    name: str,
    scope: str,
    expires_at: datetime | None,
) -> tuple[ApiToken, str]:
    """A new token for `acting_member`: (the row, the secret). The secret is not stored (only
    its hash): show it once. Refused (422) for an empty or long name, a scope the member's
    role does not allow, or an expiry in the past or more than two years away; audited."""
    name = (name or "").strip()
    if not name:
        raise Refused(gettext("Give the token a name."), field="name")
    if len(name) > MAX_NAME:
        raise Refused(gettext("Keep the name under 120 characters."), field="name")
    if scope not in ApiToken.Scope.values:
        raise Refused(gettext("Choose read, send or manage."), field="scope")
    if scope not in allowed_scopes(acting_member):
        raise Forbidden(gettext("Only owners and admins can create a token that manages."))
    now = timezone.now()
    if expires_at is not None and not now < expires_at <= now + MAX_LIFETIME:
        raise Refused(expiry_refusal(), field="expires_at")
    secret = create_api_token(acting_member, name, scope=scope, expires_at=expires_at)
    token = ApiToken.objects.get(token_hash=ApiToken.hash(secret))
    record(
        acting_member.organization_id,
        "api_token.created",
        token,
        actor=acting_member,
        name=name,
        scope=scope,
        expires_at=expires_at.isoformat() if expires_at else None,
    )
    return token, secret


@transaction.atomic
def revoke_token(token: ApiToken, *, acting_member: Member) -> ApiToken:
    """Revoke `token` at once (its next request is refused); the row is kept for the record.
    A member revokes their own tokens; owners and admins anyone's in the organization.
    Revoking a revoked token changes nothing."""
    same_org(token, acting_member.organization_id)
    if token.member_id != acting_member.pk and not acting_member.administers:
        raise Forbidden(gettext("Only owners and admins revoke other members' tokens."))
    # Conditional: of two revocations at once, one writes and is audited.
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=acting_member
    )
    token.refresh_from_db()
    if revoked:
        record(
            acting_member.organization_id,
            "api_token.revoked",
            token,
            actor=acting_member,
            name=token.name,
            owner=token.member_id,
        )
    return token
