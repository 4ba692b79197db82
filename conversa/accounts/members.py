"""The team: invitations, roles, deactivation and each member's own profile.

The rules a team expects, in one place (tests/accounts/test_members.py has them as a table):
- owners and admins manage members; supervisors and agents do not;
- only owners make someone an owner, change an owner's role, or deactivate an owner;
- the last active owner cannot be demoted, deactivated, or leave;
- anyone may leave (deactivate themselves), except that last owner.
Every change is an OperationalEvent."""

import logging
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Invitation, Member, Organization
from conversa.accounts.organizations import check_password, clean_email, clean_name
from conversa.accounts.services import record, same_org
from conversa.errors import Conflict, Forbidden, NotFound, Refused

log = logging.getLogger(__name__)

# Sent inside the deactivation's transaction, with `member` and `acting_member`: the inbox
# returns the member's open conversations to their queues (accounts imports no other app).
member_deactivated = Signal()

ROLES = {choice.value for choice in Member.Role}


def must_administer(member: Member) -> None:
    if not member.is_active or not member.administers:
        raise Forbidden(gettext("Only owners and admins manage members."))


def check_role(role: str) -> str:
    if role not in ROLES:
        raise Refused(gettext("Choose a role from the list."), field="role")
    return role


def active_owners(org_id: int):
    return Member.objects.filter(organization_id=org_id, role=Member.Role.OWNER, is_active=True)


def is_last_owner(member: Member) -> bool:
    """Whether `member` is the organization's only active owner. Counted over the owners'
    rows locked for the transaction, so two owners demoting each other at once cannot leave
    the organization with none."""
    if member.role != Member.Role.OWNER or not member.is_active:
        return False
    owners = list(active_owners(member.organization_id).select_for_update().values_list("pk"))
    return len(owners) <= 1


def locked(member: Member) -> Member:
    return Member.objects.select_for_update().select_related("user").get(pk=member.pk)


# Invitations


def invitation_link(raw: str) -> str:
    return f"{settings.PUBLIC_URL}/invitations/{raw}/"


def send_invitation(invitation: Invitation, raw: str) -> bool:
    """Email the link. False when the mail server refused it (the page then offers the link to
    copy); the reason goes to the log without the address or the link."""
    org = Organization.objects.get(pk=invitation.organization_id)
    inviter = invitation.invited_by.display_name if invitation.invited_by else org.name
    context = {
        "org": org,
        "inviter": inviter,
        "link": invitation_link(raw),
        "expires_at": invitation.expires_at,
        "role": Member.Role(invitation.role).label,
    }
    try:
        send_mail(
            render_to_string("accounts/email/invitation_subject.txt", context).strip(),
            render_to_string("accounts/email/invitation.txt", context),
            settings.DEFAULT_FROM_EMAIL,
            [invitation.email],
        )
    except Exception as exc:  # noqa: BLE001 (any transport failure: SMTP, DNS, TLS)
        log.warning("invitation %s not sent: %s", invitation.pk, type(exc).__name__)
        return False
    return True


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def invite(*, acting_member: Member, email: str, role: str) -> tuple[Invitation, str, bool]:
    """Invite `email` to the acting member's organization with `role`. Returns the invitation,
    the link's secret (shown once, never stored) and whether the email left.

    Refused: by anyone but an owner or admin; an owner invited by an admin; an email that is
    a member already (active or deactivated: reactivate them instead); an email with an open
    invitation (resend it instead)."""
    must_administer(acting_member)
    email = clean_email(email)
    role = check_role(role)
    if role == Member.Role.OWNER and acting_member.role != Member.Role.OWNER:
        raise Forbidden(gettext("Only owners invite owners."))
    org_id = acting_member.organization_id
    if Member.objects.filter(organization_id=org_id, user__username=email).exists():
        raise Conflict(gettext("This person is a member already."), field="email")
    raw = new_secret()
    now = timezone.now()
    try:
        with transaction.atomic():
            # An expired invitation is no longer open: it makes way for the new one.
            Invitation.objects.filter(
                organization_id=org_id,
                email=email,
                accepted_at=None,
                revoked_at=None,
                expires_at__lte=now,
            ).update(revoked_at=now)
            invitation = Invitation.objects.create(
                organization_id=org_id,
                email=email,
                role=role,
                token_hash=Invitation.hash(raw),
                invited_by=acting_member,
                expires_at=now + Invitation.LIFETIME,
            )
            record(
                org_id, "member.invited", invitation, actor=acting_member, email=email, role=role
            )
    except IntegrityError as exc:
        raise Conflict(
            gettext("This email has an open invitation: resend it instead."), field="email"
        ) from exc
    return invitation, raw, send_invitation(invitation, raw)


def open_invitation(invitation: Invitation, acting_member: Member) -> Invitation:
    must_administer(acting_member)
    same_org(invitation, acting_member.organization_id)
    current = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if current.accepted_at or current.revoked_at:
        raise Conflict(gettext("This invitation was already used or revoked."))
    if current.role == Member.Role.OWNER and acting_member.role != Member.Role.OWNER:
        raise Forbidden(gettext("Only owners invite owners."))
    return current


def resend_invitation(invitation: Invitation, *, acting_member: Member) -> tuple[str, bool]:
    """A new link for an open (or expired) invitation, valid for another week; the old link
    stops working. Returns the new secret and whether the email left."""
    with transaction.atomic():
        current = open_invitation(invitation, acting_member)
        raw = new_secret()
        now = timezone.now()
        current.token_hash = Invitation.hash(raw)
        current.sent_at = now
        current.expires_at = now + Invitation.LIFETIME
        current.save(update_fields=["token_hash", "sent_at", "expires_at"])
        record(current.organization_id, "member.invitation_resent", current, actor=acting_member)
    return raw, send_invitation(current, raw)


@transaction.atomic
def revoke_invitation(invitation: Invitation, *, acting_member: Member) -> None:
    """The link stops working; the invitation stays listed as revoked."""
    current = open_invitation(invitation, acting_member)
    current.revoked_at = timezone.now()
    current.save(update_fields=["revoked_at"])
    record(current.organization_id, "member.invitation_revoked", current, actor=acting_member)


def account_exists(email: str) -> bool:
    return get_user_model().objects.filter(username=email).exists()


def find_invitation(raw: str) -> Invitation:
    """The open invitation whose link this is. NotFound for a link that never was one, was
    used, revoked or replaced; Conflict for one that expired (the page says ask again)."""
    if not raw or len(raw) > 100:
        raise NotFound(gettext("This invitation link is not valid."))
    found = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(token_hash=Invitation.hash(raw), accepted_at=None, revoked_at=None)
        .first()
    )
    if found is None:
        raise NotFound(gettext("This invitation link is not valid any more."))
    if found.expires_at <= timezone.now():
        raise Conflict(gettext("This invitation has expired: ask for a new one."))
    return found


@transaction.atomic
def accept_invitation(
    *, raw: str, user=None, name: str = "", password: str = "", language: str = ""
) -> Member:
    """Join the organization through an invitation link; it works once.

    `user`: the signed-in account of the invited email (an existing Conversa user joins with
    it). Without one, a new account is made with `name` and `password` (Django's validators);
    an email that has an account already must sign in first (Conflict)."""
    found = find_invitation(raw)
    invitation = Invitation.objects.select_for_update().get(pk=found.pk)
    if invitation.accepted_at or invitation.revoked_at:
        raise NotFound(gettext("This invitation link is not valid any more."))
    users = get_user_model()
    if user is not None:
        if (user.username or "").lower() != invitation.email:
            raise Forbidden(gettext("This invitation is for another email address."))
        display_name = (user.get_full_name() or user.first_name or invitation.email).strip()
        display_name = display_name[:120]
    else:
        if users.objects.filter(username=invitation.email).exists():
            raise Conflict(gettext("You have an account already: sign in to join."))
        display_name = clean_name(name, "name", 120)
        user = users(username=invitation.email, email=invitation.email, first_name=display_name)
        check_password(password, user)
        user.set_password(password)
        user.save()
    if Member.objects.filter(organization_id=invitation.organization_id, user=user).exists():
        raise Conflict(gettext("You are a member of this organization already."))
    member = Member.objects.create(
        organization_id=invitation.organization_id,
        user=user,
        role=invitation.role,
        display_name=display_name,
        language=language if language in dict(settings.LANGUAGES) else "",
    )
    invitation.accepted_at = timezone.now()
    invitation.member = member
    invitation.save(update_fields=["accepted_at", "member"])
    if not user.is_active:
        # Deactivated in every other organization: this membership makes the account usable.
        users.objects.filter(pk=user.pk).update(is_active=True)
    record(member.organization_id, "member.joined", member, actor=member, role=member.role)
    return member


# Roles and deactivation


@transaction.atomic
def change_role(member: Member, *, role: str, acting_member: Member) -> Member:
    """Give `member` another role. Only owners make or unmake owners; the last active owner
    keeps the role."""
    must_administer(acting_member)
    same_org(member, acting_member.organization_id)
    role = check_role(role)
    current = locked(member)
    if current.role == role:
        return current
    if Member.Role.OWNER in (current.role, role) and acting_member.role != Member.Role.OWNER:
        raise Forbidden(gettext("Only owners make or change owners."))
    if is_last_owner(current):
        raise Conflict(gettext("The organization needs an owner: make someone else owner first."))
    previous = current.role
    current.role = role
    current.save(update_fields=["role"])
    record(
        current.organization_id,
        "member.role_changed",
        current,
        actor=acting_member,
        previous=previous,
        role=role,
    )
    return current


def sync_account(user_id: int) -> None:
    """An account signs in while it has an active membership somewhere, and only then: a
    deactivated person's sessions end at their next request (Django drops the user of an
    inactive account) and a password reset is never sent to them."""
    active = Member.objects.filter(user_id=user_id, is_active=True).exists()
    get_user_model().objects.filter(pk=user_id).update(is_active=active)


@transaction.atomic
def deactivate(member: Member, *, acting_member: Member) -> Member:
    """`member` can no longer sign in to this organization nor use its API tokens; their open
    conversations go back to their queues, unassigned; their history stays. A member may
    deactivate themselves (leave). Refused for the last active owner."""
    same_org(member, acting_member.organization_id)
    leaving = member.pk == acting_member.pk
    if not leaving:
        must_administer(acting_member)
    current = locked(member)
    if not current.is_active:
        return current
    if (
        current.role == Member.Role.OWNER
        and not leaving
        and acting_member.role != Member.Role.OWNER
    ):
        raise Forbidden(gettext("Only owners deactivate owners."))
    if is_last_owner(current):
        raise Conflict(gettext("The organization needs an owner: make someone else owner first."))
    current.is_active = False
    current.deactivated_at = timezone.now()
    current.availability = Member.Availability.OFFLINE
    current.save(update_fields=["is_active", "deactivated_at", "availability"])
    sync_account(current.user_id)
    member_deactivated.send(sender=Member, member=current, acting_member=acting_member)
    record(
        current.organization_id,
        "member.left" if leaving else "member.deactivated",
        current,
        actor=acting_member,
    )
    return current


@transaction.atomic
def reactivate(member: Member, *, acting_member: Member) -> Member:
    """A deactivated member may sign in again, with the role they had; they start offline."""
    must_administer(acting_member)
    same_org(member, acting_member.organization_id)
    current = locked(member)
    if current.is_active:
        return current
    if current.role == Member.Role.OWNER and acting_member.role != Member.Role.OWNER:
        raise Forbidden(gettext("Only owners reactivate owners."))
    current.is_active = True
    current.deactivated_at = None
    current.save(update_fields=["is_active", "deactivated_at"])
    sync_account(current.user_id)
    record(current.organization_id, "member.reactivated", current, actor=acting_member)
    return current


# The member's own profile


def update_profile(
    member: Member, *, display_name: str, language: str, acting_member: Member
) -> Member:
    """A member changes their own name and language (nobody else's)."""
    if member.pk != acting_member.pk:
        raise Forbidden(gettext("You can change only your own profile."))
    display_name = clean_name(display_name, "display_name", 120)
    if language not in ("", *dict(settings.LANGUAGES)):
        raise Refused(gettext("Choose a language from the list."), field="language")
    changed = {
        field: value
        for field, value in (("display_name", display_name), ("language", language))
        if getattr(member, field) != value
    }
    if not changed:
        return member
    Member.objects.filter(pk=member.pk).update(**changed)
    for field, value in changed.items():
        setattr(member, field, value)
    record(member.organization_id, "member.profile_changed", member, actor=member, **changed)
    return member


def password_changed(member: Member) -> None:
    """Audit a member's own password change (Django's form makes the change)."""
    record(member.organization_id, "member.password_changed", member, actor=member)


def language_of(user) -> str:
    """The language an account chose on its first active membership, or ""."""
    return (
        Member.objects.filter(user=user, is_active=True)
        .order_by("id")
        .values_list("language", flat=True)
        .first()
        or ""
    )
