"""Two-step verification: an authenticator app (TOTP, pyotp) and ten one-time recovery codes.

The factor belongs to the person (the user), not to one organization; what they do with it is
recorded in the audit timeline of every organization they are a member of.

1. Setting up: `start_enrollment` keeps a new secret (encrypted at rest) unconfirmed; the page
   shows it as a QR code and as text; `confirm_enrollment` takes a first code from the app and
   returns the recovery codes, shown once (only their SHA-256 is stored).
2. Signing in: once the password is right, `begin_sign_in` keeps the pending user in the session
   for PENDING_SECONDS; `/login/verify` takes a code or a recovery code (`check`), and only then
   logs in. MAX_FAILURES wrong codes send the person back to the password step.
3. Sensitive actions: `require_fresh_second_factor` (a view decorator) asks for a code again
   when the last one was given more than FRESH_SECONDS ago.
4. An organization may require it of its owners and admins (`must_enroll`): `operator_view`
   sends one without it to the security page before any other page. API tokens are not
   affected: a token is its own credential.

A code is accepted for the current 30-second step and one step either side (clock drift), and
only for a step later than the last accepted one: a code cannot be used twice.
"""

import hashlib
import secrets
import time
from functools import wraps
from urllib.parse import urlencode, urlsplit

import pyotp
import segno
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext

from conversa.accounts.models import Member, RecoveryCode, SecondFactor
from conversa.accounts.services import record
from conversa.errors import Conflict, Forbidden, Refused

ISSUER = "Conversa"
PENDING_SECONDS = 5 * 60
FRESH_SECONDS = 10 * 60
MAX_FAILURES = 5
RECOVERY_CODES = 10
# Crockford's base32 (no i, l, o, u): 12 characters are 60 random bits.
RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"

PENDING_KEY = "mfa_pending"
VERIFIED_KEY = "mfa_verified_at"
FAILURES_KEY = "mfa_failures"
# Pages a member who must set up two-step verification can still open.
ENROLLMENT_PAGES = frozenset({"settings-security", "mfa-reverify", "logout"})


def factor_of(user: AbstractBaseUser) -> SecondFactor | None:
    """The person's confirmed authenticator, if any."""
    if not user.is_authenticated:
        return None
    return SecondFactor.objects.filter(user=user, confirmed_at__isnull=False).first()


def is_enrolled(user: AbstractBaseUser) -> bool:
    return factor_of(user) is not None


def must_enroll(member: Member) -> bool:
    """Whether `member`'s organization requires two-step verification of them and they have not
    set it up."""
    required = member.organization.require_mfa_for_admins and member.administers
    return required and not is_enrolled(member.user)


def needs_second_factor(member: Member) -> bool:
    """Whether sensitive actions ask `member` for a fresh code."""
    if member.organization.require_mfa_for_admins and member.administers:
        return True
    return is_enrolled(member.user)


def record_for_person(user: AbstractBaseUser, verb: str, *, as_actor: bool = True, **data):
    """One timeline entry per organization `user` belongs to: a second factor is the person's,
    and each organization's audit log shows what happened to its member."""
    for member in Member.objects.filter(user=user):
        actor = member if as_actor else None
        label = "system" if as_actor else "sign-in"
        record(member.organization_id, verb, member, actor=actor, label=label, **data)


# Codes


def normalized(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()[:64]


def code_hash(code: str) -> str:
    return hashlib.sha256(normalized(code).encode()).hexdigest()


def new_recovery_codes(factor: SecondFactor) -> list[str]:
    """Ten new recovery codes for `factor`, replacing any it had; returned once, stored hashed."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    factor.codes.all().delete()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(factor=factor, code_hash=code_hash(code)) for code in codes
    )
    return codes


def totp_step(factor: SecondFactor, code: str) -> int | None:
    """The step `code` is right for (now, or one step either side), or None."""
    code = normalized(code)
    if len(code) != 6 or not code.isascii() or not code.isdecimal():
        return None
    totp = pyotp.TOTP(factor.secret)
    now = totp.timecode(timezone.now())
    for step in (now, now - 1, now + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def accept_totp(factor: SecondFactor, code: str) -> bool:
    """Whether `code` is right and not used before. A conditional update takes the step: of two
    requests with the same code, one moves `last_step` and the other finds it moved."""
    step = totp_step(factor, code)
    if step is None:
        return False
    taken = SecondFactor.objects.filter(pk=factor.pk, last_step__lt=step).update(last_step=step)
    return taken == 1


def accept_recovery_code(factor: SecondFactor, code: str) -> bool:
    """Whether `code` is one of `factor`'s unused recovery codes; it is used up if so."""
    used = RecoveryCode.objects.filter(
        factor=factor, code_hash=code_hash(code), used_at__isnull=True
    ).update(used_at=timezone.now())
    return used == 1


def check(user: AbstractBaseUser, code: str) -> str | None:
    """How `code` proves `user`'s second factor: "totp", "recovery" (used up now), or None."""
    factor = factor_of(user)
    if factor is None or not code:
        return None
    if accept_totp(factor, code):
        return "totp"
    if len(normalized(code)) == 12 and accept_recovery_code(factor, code):
        record_for_person(user, "member.signed_in_with_recovery_code")
        return "recovery"
    return None


def recovery_codes_left(factor: SecondFactor) -> int:
    return factor.codes.filter(used_at__isnull=True).count()


# Setting up, changing and turning off


def start_enrollment(*, acting_member: Member) -> SecondFactor:
    """An unconfirmed authenticator with a new secret, for the page to show. Starting again
    replaces the secret of one not yet confirmed."""
    user = acting_member.user
    factor = SecondFactor.objects.filter(user=user).first()
    if factor and factor.confirmed:
        raise Conflict(gettext("Two-step verification is already on."))
    if factor is None:
        return SecondFactor.objects.create(user=user, secret=pyotp.random_base32())
    factor.secret = pyotp.random_base32()
    factor.last_step = 0
    factor.save(update_fields=["secret", "last_step"])
    return factor


def pending_factor(user: AbstractBaseUser) -> SecondFactor | None:
    return SecondFactor.objects.filter(user=user, confirmed_at__isnull=True).first()


def provisioning_uri(factor: SecondFactor, *, account: str) -> str:
    return pyotp.TOTP(factor.secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The QR code an authenticator app scans, drawn here (segno, SVG): never sent elsewhere."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2, dark="#111", light="#fff")


@transaction.atomic
def confirm_enrollment(*, acting_member: Member, code: str) -> list[str]:
    """Turn two-step verification on with a first `code` from the app; returns the recovery
    codes, which are not stored in the clear and cannot be shown again."""
    factor = pending_factor(acting_member.user)
    if factor is None:
        raise Conflict(gettext("Start setting up two-step verification first."))
    if not accept_totp(factor, code):
        raise Refused(
            gettext("That code is not right. Check the app's clock and type the current code."),
            field="code",
        )
    factor.refresh_from_db()
    factor.confirmed_at = timezone.now()
    factor.save(update_fields=["confirmed_at"])
    codes = new_recovery_codes(factor)
    record_for_person(acting_member.user, "mfa.enrolled")
    return codes


@transaction.atomic
def regenerate_recovery_codes(*, acting_member: Member) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    factor = factor_of(acting_member.user)
    if factor is None:
        raise Conflict(gettext("Two-step verification is off."))
    codes = new_recovery_codes(factor)
    record_for_person(acting_member.user, "mfa.recovery_codes_regenerated")
    return codes


@transaction.atomic
def disable(*, acting_member: Member, code: str) -> None:
    """Turn two-step verification off, given a current code (or a recovery code). Refused
    when the member's organization requires it of them."""
    factor = factor_of(acting_member.user)
    if factor is None:
        raise Conflict(gettext("Two-step verification is off."))
    required_by = [
        m.organization.name
        for m in Member.objects.filter(user=acting_member.user).select_related("organization")
        if m.organization.require_mfa_for_admins and m.administers
    ]
    if required_by:
        raise Forbidden(
            gettext("%(org)s requires two-step verification of its owners and admins.")
            % {"org": required_by[0]}
        )
    if not (accept_totp(factor, code) or accept_recovery_code(factor, code)):
        raise Refused(gettext("That code is not right."), field="code")
    factor.delete()
    record_for_person(acting_member.user, "mfa.disabled")


@transaction.atomic
def set_requirement(*, acting_member: Member, required: bool) -> None:
    """Require (or stop requiring) two-step verification of the organization's owners and
    admins. Only they may change it, and only with it on themselves (so they cannot lock
    themselves out of their own settings)."""
    if not acting_member.administers:
        raise Forbidden(gettext("Only owners and admins change this."))
    org = acting_member.organization
    if required and not is_enrolled(acting_member.user):
        raise Conflict(gettext("Turn on two-step verification for yourself first."))
    if org.require_mfa_for_admins == required:
        return
    type(org).objects.filter(pk=org.pk).update(require_mfa_for_admins=required)
    org.require_mfa_for_admins = required
    record(org.id, "organization.mfa_requirement_changed", org, actor=acting_member, on=required)


# The session: the pending sign-in and the freshness of the last code


def begin_sign_in(request, user: AbstractBaseUser, *, next_url: str) -> None:
    """The password was right: keep who is signing in until the second step (not logged in)."""
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "backend": getattr(user, "backend", ""),
        "until": time.time() + PENDING_SECONDS,
        "next": next_url,
        "failures": 0,
    }


def pending_sign_in(request) -> dict | None:
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or pending.get("until", 0) < time.time():
        request.session.pop(PENDING_KEY, None)
        return None
    return pending


def end_sign_in(request) -> None:
    request.session.pop(PENDING_KEY, None)


def mark_verified(request) -> None:
    request.session[VERIFIED_KEY] = time.time()
    request.session.pop(FAILURES_KEY, None)


def is_fresh(request) -> bool:
    return request.session.get(VERIFIED_KEY, 0) >= time.time() - FRESH_SECONDS


def safe_next(request, url: str | None, default: str = "/") -> str:
    """`url` when it is a path on this site, else `default`."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return default


def back_to(request) -> str:
    """Where to return after verifying: the page itself for a GET; for a POST the page it was
    sent from, where the person repeats the action (a POST body is not kept)."""
    if request.method == "GET":
        return request.get_full_path()
    return safe_next(request, request.META.get("HTTP_REFERER"), default=reverse("settings"))


def htmx_aware_redirect(request, url: str) -> HttpResponse:
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def require_fresh_second_factor(view):
    """For a view under `operator_view` that does something sensitive (add a number, create an
    API token, the kill switch, change a role, export data): a member who has two-step
    verification (or whose organization requires it of them) must have given a code within
    FRESH_SECONDS, else they are sent to confirm one and brought back. After a POST they come
    back to the page they were on and repeat the action: the POST itself is not replayed.

        @operator_view
        @require_fresh_second_factor
        def add_number(request): ...
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        return fresh_factor_redirect(request) or view(request, *args, **kwargs)

    return wrapped


def fresh_factor_redirect(request) -> HttpResponse | None:
    """Where to send the request's member to give a fresh code first (see
    `require_fresh_second_factor`), or None when they need not."""
    member = request.member
    if member is None or not needs_second_factor(member) or is_fresh(request):
        return None
    if not is_enrolled(request.user):
        return htmx_aware_redirect(request, reverse("settings-security"))
    query = urlencode({"next": back_to(request)})
    return htmx_aware_redirect(request, f"{reverse('mfa-reverify')}?{query}")


def enrollment_redirect(request) -> HttpResponse | None:
    """For `operator_view`: a member who must set up two-step verification is sent to do it
    before any other page."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.url_name in ENROLLMENT_PAGES:
        return None
    if request.member is not None and must_enroll(request.member):
        return htmx_aware_redirect(request, reverse("settings-security"))
    return None


def refuse_without_fresh_factor(request) -> None:
    """The API's side of `require_fresh_second_factor`: a signed-in session whose member needs
    a fresh code for this act, and gave none lately, is refused (403) with where to give one. A
    token's request is not asked: creating the token was."""
    if getattr(request, "api_token_used", None) is not None:
        return
    if fresh_factor_redirect(request) is not None:
        raise Forbidden(
            gettext(
                "This needs a fresh code from your authenticator app: confirm one under "
                "Settings → Security, then try again."
            )
        )
