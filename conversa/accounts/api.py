"""The members API: the team (list), invitations (invite, list, resend, revoke), roles and
deactivation. Owners and admins only; refusals come from the services (accounts/members.py)
with the same rules as the members page."""

from datetime import datetime
from typing import Annotated, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Path, Router, Schema
from ninja.responses import Status

from conversa import cursors
from conversa.accounts import members, mfa
from conversa.accounts.models import Invitation, Member
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.cursors import Cursor, Limit

router = Router(tags=["members"])

MAX_ID = 2**63 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Role = Literal["owner", "admin", "supervisor", "agent"]


class MemberOut(Schema):
    id: int
    display_name: str
    email: str
    role: str
    status: Literal["active", "deactivated"]
    last_sign_in: datetime | None
    created_at: datetime


class InvitationOut(Schema):
    id: int
    email: str
    role: str
    status: str
    expires_at: datetime
    created_at: datetime


class InvitationCreated(InvitationOut):
    link: str = Field(description="The one-time link; shown only in this answer.")
    email_sent: bool


class InviteIn(Schema):
    email: str = Field(min_length=3, max_length=150)
    role: Role = "agent"


class RoleIn(Schema):
    role: Role


def member_out(member: Member) -> dict:
    return {
        "id": member.pk,
        "display_name": member.display_name,
        "email": member.user.username,
        "role": member.role,
        "status": "active" if member.is_active else "deactivated",
        "last_sign_in": member.user.last_login,
        "created_at": member.created_at,
    }


def invitation_out(invitation: Invitation) -> dict:
    return {
        "id": invitation.pk,
        "email": invitation.email,
        "role": invitation.role,
        "status": invitation.status,
        "expires_at": invitation.expires_at,
        "created_at": invitation.created_at,
    }


def admin(request: HttpRequest) -> Member:
    members.must_administer(request.member)
    return request.member


@router.get("/members", response=list[MemberOut])
def list_members(
    request: HttpRequest,
    response: HttpResponse,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """Everyone in the organization by name, deactivated members included (with their
    status), a page at a time."""
    admin(request)
    found = scoped(request.org, Member).select_related("user")
    return [
        member_out(m)
        for m in cursors.page(
            found, order=["display_name"], cursor=cursor, limit=limit, response=response
        )
    ]


@router.get("/members/invitations", response=list[InvitationOut])
def list_invitations(
    request: HttpRequest,
    response: HttpResponse,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """Invitations not yet accepted nor revoked (expired ones included, to resend), newest
    first, a page at a time."""
    admin(request)
    found = scoped(request.org, Invitation).filter(accepted_at=None, revoked_at=None)
    return [
        invitation_out(i)
        for i in cursors.page(
            found, order=["-sent_at"], cursor=cursor, limit=limit, response=response
        )
    ]


@router.post("/members/invitations", response={201: InvitationCreated})
def invite(request: HttpRequest, body: InviteIn):
    """Invite someone by email; the email carries a one-time link that works for 7 days."""
    invitation, raw, sent = members.invite(
        acting_member=admin(request), email=body.email, role=body.role
    )
    link = members.invitation_link(raw)
    return Status(201, {**invitation_out(invitation), "link": link, "email_sent": sent})


@router.post("/members/invitations/{invitation_id}/resend", response=InvitationCreated)
def resend(request: HttpRequest, invitation_id: Id):
    """A new link (the old one stops working), valid for another 7 days."""
    invitation = get_for_org_or_404(request.org, Invitation, pk=invitation_id)
    raw, sent = members.resend_invitation(invitation, acting_member=admin(request))
    invitation.refresh_from_db()
    link = members.invitation_link(raw)
    return {**invitation_out(invitation), "link": link, "email_sent": sent}


@router.delete("/members/invitations/{invitation_id}", response={204: None})
def revoke(request: HttpRequest, invitation_id: Id):
    invitation = get_for_org_or_404(request.org, Invitation, pk=invitation_id)
    members.revoke_invitation(invitation, acting_member=admin(request))
    return Status(204, None)


@router.patch("/members/{member_id}", response=MemberOut)
def change_role(request: HttpRequest, member_id: Id, body: RoleIn):
    """Only owners make or unmake owners; the last owner keeps the role."""
    member = get_for_org_or_404(request.org, Member, pk=member_id)
    mfa.refuse_without_fresh_factor(request)
    members.change_role(member, role=body.role, acting_member=admin(request))
    return member_out(scoped(request.org, Member).select_related("user").get(pk=member.pk))


@router.post("/members/{member_id}/deactivate", response=MemberOut)
def deactivate(request: HttpRequest, member_id: Id):
    """Signed out, API tokens refused, open conversations back to their queues; history kept."""
    member = get_for_org_or_404(request.org, Member, pk=member_id)
    if member.pk != request.member.pk:
        admin(request)
    members.deactivate(member, acting_member=request.member)
    return member_out(scoped(request.org, Member).select_related("user").get(pk=member.pk))


@router.post("/members/{member_id}/reactivate", response=MemberOut)
def reactivate(request: HttpRequest, member_id: Id):
    member = get_for_org_or_404(request.org, Member, pk=member_id)
    members.reactivate(member, acting_member=admin(request))
    return member_out(scoped(request.org, Member).select_related("user").get(pk=member.pk))


class ProfileIO(Schema):
    display_name: str = Field(min_length=1, max_length=120)
    language: Literal["", "en", "pt-br"] = Field("", description='"": as the browser prefers')


@router.put("/me", response=ProfileIO, tags=["profile"])
def update_profile(request: HttpRequest, payload: ProfileIO):
    """The caller's own name and language (the profile page's; a password is changed there,
    signed in, never with a token)."""
    me = request.member
    members.update_profile(
        me, display_name=payload.display_name, language=payload.language, acting_member=me
    )
    return {"display_name": me.display_name, "language": me.language}
