"""State changes of organizations and their members."""

from datetime import datetime

from django.utils.translation import gettext

from conversa.accounts import audit
from conversa.accounts.models import ApiToken, Member, OperationalEvent
from conversa.errors import Forbidden, NotFound


def must_supervise(member: Member) -> None:
    """Refuse (403) unless `member` is an owner, admin or supervisor."""
    if not member.supervises:
        raise Forbidden(gettext("Only owners, admins and supervisors manage this."))


def same_org(obj, org_id: int) -> None:
    """Refuse (404) a row of another organization."""
    # The API looks everything up within the caller's organization already; this keeps the
    # services from linking two organizations' rows when called from anywhere else.
    if obj.organization_id != org_id:
        raise NotFound(gettext("Not found."))


def create_api_token(
    member: Member,
    name: str,
    *,
    scope: str = ApiToken.Scope.MANAGE,
    expires_at: datetime | None = None,
) -> str:
    """A new API token for `member`'s organization. Returns the secret; only its hash is
    stored. Unchecked: `tokens.issue_token` is the product's way in; this is the command
    line's and the tests'."""
    raw = ApiToken.new_secret()
    ApiToken.objects.create(
        organization_id=member.organization_id,
        member=member,
        name=name,
        token_hash=ApiToken.hash(raw),
        scope=scope,
        expires_at=expires_at,
    )
    return raw


def event(org_id: int, verb: str, obj, *, actor: Member | None = None, label="system", **data):
    """An unsaved timeline entry, for `record` or a batch's bulk insert. Within a request it
    carries the request's client address and browser (`audit.origin`)."""
    source = audit.origin.get()
    return OperationalEvent(
        ip_address=source.ip_address if source else None,
        user_agent=source.user_agent if source else "",
        organization_id=org_id,
        actor=actor,
        actor_label=actor.display_name if actor else label,
        verb=verb,
        object_type=obj._meta.model_name,
        object_id=obj.pk,
        data=data,
    )


def record(org_id: int, verb: str, obj, *, actor: Member | None = None, label="system", **data):
    """Write one entry of `org_id`'s audit timeline: `actor` (or `label` when no person acted)
    did `verb` to `obj`, with `data`."""
    event(org_id, verb, obj, actor=actor, label=label, **data).save()
