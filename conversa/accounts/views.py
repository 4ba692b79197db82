from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.translation import get_language

from conversa.accounts import members, mfa, organizations, tenancy
from conversa.accounts.forms import (
    AcceptForm,
    EmailLoginForm,
    EmailPasswordResetForm,
    OrganizationForm,
)
from conversa.accounts.models import Organization
from conversa.errors import Refused
from conversa.web import operator_view

BACKEND = "django.contrib.auth.backends.ModelBackend"


def home(request):
    """`/`: the inbox, or the first run's "Create your organization" on a fresh install."""
    if not Organization.objects.exists():
        return redirect("setup")
    return redirect("inbox")


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailLoginForm
    redirect_authenticated_user = True

    def dispatch(self, request, *args, **kwargs):
        # Nobody can sign in before the first organization exists: the first run comes first.
        if not Organization.objects.exists():
            return redirect("setup")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "signup_enabled": settings.SIGNUP_ENABLED}

    def form_valid(self, form):
        """The password was right. With two-step verification on, not signed in yet: the
        second step (/login/verify) signs in."""
        user = form.get_user()
        if mfa.is_enrolled(user):
            mfa.begin_sign_in(self.request, user, next_url=self.get_success_url())
            return redirect("login-verify")
        return super().form_valid(form)


@tenancy.beyond_the_organization
def setup(request):
    """Create an organization and its owner: the first run of a fresh install, or sign-up when
    the deployment allows it (`SIGNUP_ENABLED`). The owner is signed in and lands in the inbox."""
    if not organizations.signup_open():
        raise Http404("Sign-up is off")
    first_run = not Organization.objects.exists()
    form = OrganizationForm(request.POST or None, initial={"time_zone": "America/Sao_Paulo"})
    if request.method == "POST" and form.is_valid():
        try:
            owner = organizations.create_organization(
                name=form.cleaned_data["name"],
                time_zone=form.cleaned_data["time_zone"],
                owner_name=form.cleaned_data["owner_name"],
                owner_email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                language=get_language(),
            )
        except Refused as exc:
            form.refuse(exc)
        else:
            login(request, owner.user, backend=BACKEND)
            return redirect("inbox")
    status = 422 if form.errors else 200
    return render(
        request, "accounts/setup.html", {"form": form, "first_run": first_run}, status=status
    )


@tenancy.beyond_the_organization
def accept_invitation(request, token: str):
    """An invitation link. A new person sets their name and password and is signed in; one
    with an account signs in (the usual sign-in page) and joins with a click. Either way they
    land in the inbox of the organization they joined."""
    try:
        invitation = members.find_invitation(token)
    except Refused as exc:
        return render(request, "accounts/invitation.html", {"problem": str(exc)}, status=exc.status)
    has_account = members.account_exists(invitation.email)
    signed_in = request.user.is_authenticated
    context = {"invitation": invitation, "has_account": has_account}
    if signed_in and request.user.username.lower() != invitation.email:
        context["other_account"] = request.user.username
        return render(request, "accounts/invitation.html", context, status=403)
    if has_account and not signed_in:
        context["login_url"] = f"{reverse('login')}?next={request.path}"
        return render(request, "accounts/invitation.html", context)
    form = AcceptForm(request.POST or None) if not has_account else None
    if request.method == "POST":
        language = get_language() if get_language() in dict(settings.LANGUAGES) else ""
        try:
            if has_account:
                member = members.accept_invitation(raw=token, user=request.user, language=language)
            elif form.is_valid():
                member = members.accept_invitation(
                    raw=token,
                    name=form.cleaned_data["name"],
                    password=form.cleaned_data["password"],
                    language=language,
                )
            else:
                member = None
        except Refused as exc:
            if form is None:
                context["problem"] = str(exc)
                return render(request, "accounts/invitation.html", context, status=exc.status)
            form.refuse(exc)
            member = None
        if member is not None:
            if not signed_in:
                login(request, member.user, backend=BACKEND)
            # The one organization the middleware picks is the first joined; say which.
            return redirect("inbox")
    context["form"] = form
    status = 422 if form is not None and form.errors else 200
    return render(request, "accounts/invitation.html", context, status=status)


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    form_class = EmailPasswordResetForm
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")
    extra_email_context = {"public_url": settings.PUBLIC_URL}


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


@operator_view
def settings_home(request):
    """The settings pages' entry: the member's own profile, the first section."""
    return redirect("settings-profile")
