"""Settings pages of the team: the members page (owners and admins; supervisors and agents get
a 403 and no link) and each member's own profile. Each page shows the service's refusal on its
form or as a notice."""

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Value, When
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from conversa.accounts import members, mfa
from conversa.accounts.forms import InviteForm, ProfileForm
from conversa.accounts.middleware import set_language_cookie
from conversa.accounts.models import Invitation, Member
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.errors import Refused
from conversa.web import admin_view, operator_view

ROLE_ORDER = Case(
    *(When(role=role, then=Value(i)) for i, role in enumerate(Member.Role.values)),
    output_field=IntegerField(),
)


def members_context(request, **extra) -> dict:
    rows = (
        scoped(request.org, Member)
        .select_related("user")
        .order_by("-is_active", ROLE_ORDER, "display_name", "pk")
    )
    invitations = (
        scoped(request.org, Invitation)
        .filter(accepted_at=None, revoked_at=None)
        .select_related("invited_by")
        .order_by("-sent_at", "-pk")
    )
    me = request.member
    return {
        "section": "members",
        "members": rows,
        "invitations": invitations,
        "roles": Member.Role.choices,
        # Admins may not hand out or take away the owner role.
        "assignable_roles": [
            (value, label)
            for value, label in Member.Role.choices
            if value != Member.Role.OWNER or me.role == Member.Role.OWNER
        ],
        # The last active owner is offered neither "Leave" nor "Deactivate" (both refused).
        "sole_owner_id": sole_owner_id(request.org),
        "form": InviteForm(),
        "now": timezone.now(),
        **extra,
    }


def sole_owner_id(org) -> int | None:
    owners = list(
        scoped(org, Member)
        .filter(role=Member.Role.OWNER, is_active=True)
        .values_list("pk", flat=True)[:2]
    )
    return owners[0] if len(owners) == 1 else None


@admin_view
def members_page(request):
    """The organization's members (role, status, last sign-in) and open invitations, with a
    form to invite someone by email."""
    if request.method != "POST":
        return render(request, "settings/members.html", members_context(request))
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation, raw, sent = members.invite(
                acting_member=request.member,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except Refused as exc:
            form.refuse(exc)
        else:
            return invited(request, invitation, raw, sent)
    context = members_context(request, form=form)
    return render(request, "settings/members.html", context, status=422)


def invited(request, invitation: Invitation, raw: str, sent: bool):
    """The page again, with the link shown this once (it is not stored: only its hash is), for
    when the email does not arrive."""
    context = members_context(
        request, new_link=members.invitation_link(raw), new_invitation=invitation, sent=sent
    )
    return render(request, "settings/members.html", context)


@admin_view
@require_POST
def invitation_action(request, invitation_id: int, action: str):
    invitation = get_for_org_or_404(request.org, Invitation, pk=invitation_id)
    if action == "resend":
        raw, sent = members.resend_invitation(invitation, acting_member=request.member)
        return invited(request, invitation, raw, sent)
    if action == "revoke":
        members.revoke_invitation(invitation, acting_member=request.member)
        return redirect("settings-members")
    raise PermissionDenied


@admin_view
@require_POST
def member_action(request, member_id: int, action: str):
    """Change a member's role, deactivate or reactivate them; a refusal shows on the page."""
    member = get_for_org_or_404(request.org, Member, pk=member_id)
    if action == "role" and (refusal := mfa.fresh_factor_redirect(request)):
        return refusal
    try:
        if action == "role":
            members.change_role(
                member, role=request.POST.get("role", ""), acting_member=request.member
            )
        elif action == "deactivate":
            members.deactivate(member, acting_member=request.member)
        elif action == "reactivate":
            members.reactivate(member, acting_member=request.member)
        else:
            raise PermissionDenied
    except Refused as exc:
        context = members_context(request, problem=str(exc), problem_member=member.pk)
        return render(request, "settings/members.html", context, status=exc.status)
    if member.pk == request.member.pk and action == "deactivate":
        return redirect("logout")
    return redirect(f"{reverse('settings-members')}#member-{member.pk}")


@operator_view
def profile(request):
    """The member's own name, language and password."""
    me = request.member
    profile_form = ProfileForm(initial={"display_name": me.display_name, "language": me.language})
    password_form = PasswordChangeForm(request.user)
    saved = request.GET.get("saved")
    if request.method == "POST" and request.POST.get("form") == "profile":
        profile_form = ProfileForm(request.POST)
        if profile_form.is_valid():
            try:
                members.update_profile(me, acting_member=me, **profile_form.cleaned_data)
            except Refused as exc:
                profile_form.refuse(exc)
            else:
                response = redirect(f"{reverse('settings-profile')}?saved=profile")
                if me.language:
                    set_language_cookie(response, me.language)
                else:
                    response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
                return response
    elif request.method == "POST" and request.POST.get("form") == "password":
        password_form = PasswordChangeForm(request.user, request.POST)
        if password_form.is_valid():
            password_form.save()
            # This session stays signed in; the member's other sessions end.
            update_session_auth_hash(request, password_form.user)
            members.password_changed(me)
            return redirect(f"{reverse('settings-profile')}?saved=password")
    elif request.method == "POST":
        raise PermissionDenied
    for field in password_form.fields.values():
        field.widget.attrs.pop("autofocus", None)
    status = 422 if profile_form.errors or password_form.errors else 200
    context = {
        "section": "profile",
        "profile_form": profile_form,
        "password_form": password_form,
        "saved": saved if saved in ("profile", "password") else None,
        "email": request.user.username,
    }
    return render(request, "settings/profile.html", context, status=status)
