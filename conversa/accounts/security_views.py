"""Two-step verification pages: the second sign-in step, confirming it is you before a
sensitive action, and the security settings page (set up, recovery codes, turn off, and the
organization's requirement). The rules are in `accounts.mfa`."""

from django.contrib import auth
from django.contrib.auth import get_user_model
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from conversa.accounts import metrics, mfa
from conversa.errors import Refused
from conversa.web import operator_view


@never_cache
def login_verify(request):
    """Sign-in, step 2: a code from the authenticator app or a recovery code."""
    pending = mfa.pending_sign_in(request)
    user = None
    if pending is not None:
        user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    if user is None:
        mfa.end_sign_in(request)
        status = 400 if request.method == "POST" else 200
        return render(request, "accounts/verify.html", {"expired": True}, status=status)
    error = ""
    if request.method == "POST":
        how = mfa.check(user, request.POST.get("code", ""))
        if how:
            mfa.end_sign_in(request)
            request.second_factor = how
            auth.login(request, user, backend=pending["backend"] or None)
            mfa.mark_verified(request)
            return redirect(pending["next"])
        metrics.login_failures.labels("second_factor").inc()
        mfa.record_for_person(user, "member.second_factor_failed", as_actor=False)
        pending["failures"] = pending.get("failures", 0) + 1
        if pending["failures"] >= mfa.MAX_FAILURES:
            mfa.end_sign_in(request)
            return render(request, "accounts/verify.html", {"too_many": True}, status=429)
        request.session[mfa.PENDING_KEY] = pending
        error = _("That code is not right. Type the current code from the app, or a recovery code.")
    status = 422 if error else 200
    return render(request, "accounts/verify.html", {"error": error}, status=status)


@operator_view
@never_cache
def reverify(request):
    """Confirm it is you (a fresh code) before a sensitive action, then back where you were."""
    default = reverse("settings")
    next_url = mfa.safe_next(request, request.POST.get("next") or request.GET.get("next"), default)
    if not mfa.is_enrolled(request.user):
        return redirect("settings-security")
    error = ""
    if request.method == "POST":
        if mfa.check(request.user, request.POST.get("code", "")):
            mfa.mark_verified(request)
            return redirect(next_url)
        mfa.record_for_person(request.user, "member.second_factor_failed", as_actor=False)
        failures = request.session.get(mfa.FAILURES_KEY, 0) + 1
        if failures >= mfa.MAX_FAILURES:
            auth.logout(request)
            return redirect("login")
        request.session[mfa.FAILURES_KEY] = failures
        error = _("That code is not right. Type the current code from the app, or a recovery code.")
    context = {"next": next_url, "error": error}
    return render(request, "accounts/reverify.html", context, status=422 if error else 200)


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def security_context(request, **extra) -> dict:
    user, member = request.user, request.member
    factor = mfa.factor_of(user)
    context = {
        "section": "security",
        "factor": factor,
        "codes_left": mfa.recovery_codes_left(factor) if factor else 0,
        "must_enroll": mfa.must_enroll(member),
        "org_requires": request.org.require_mfa_for_admins,
        **extra,
    }
    pending = None if factor else mfa.pending_factor(user)
    if pending is not None:
        uri = mfa.provisioning_uri(pending, account=user.get_username())
        context.update(pending=True, qr=mfa.qr_data_uri(uri), secret=grouped(pending.secret))
    return context


# The actions that need a code given within the last minutes (mfa.FRESH_SECONDS).
SENSITIVE = {"regenerate", "require"}


@operator_view
@never_cache
def security(request):
    """Two-step verification for the signed-in person, and for owners and admins the
    organization's requirement of it."""
    if request.method != "POST":
        return render(request, "settings/security.html", security_context(request))
    action, member = request.POST.get("action", ""), request.member
    if action in SENSITIVE and (answer := mfa.fresh_factor_redirect(request)):
        return answer
    try:
        if action == "start":
            mfa.start_enrollment(acting_member=member)
        elif action == "confirm":
            codes = mfa.confirm_enrollment(acting_member=member, code=request.POST.get("code", ""))
            mfa.mark_verified(request)
            context = security_context(request, new_codes=codes)
            return render(request, "settings/security.html", context)
        elif action == "regenerate":
            codes = mfa.regenerate_recovery_codes(acting_member=member)
            context = security_context(request, new_codes=codes)
            return render(request, "settings/security.html", context)
        elif action == "disable":
            mfa.disable(acting_member=member, code=request.POST.get("code", ""))
        elif action == "require":
            mfa.set_requirement(acting_member=member, required=request.POST.get("on") == "1")
        else:
            raise Refused(_("Unknown action."))
    except Refused as exc:
        context = security_context(request, error=str(exc), error_for=action)
        return render(request, "settings/security.html", context, status=exc.status)
    return redirect("settings-security")
