import hashlib
from zoneinfo import available_timezones

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from conversa import ratelimits
from conversa.accounts import audit, metrics
from conversa.accounts.models import Member
from conversa.errors import Refused


class EmailLoginForm(AuthenticationForm):
    """Sign-in by email and password, throttled per account and per client address.

    Failed attempts are counted in fixed windows (`LOGIN_RATE_LIMIT_ACCOUNT`, `…_ADDRESS`:
    5 a minute then 20 an hour by default, so the wait grows). Past either budget every
    attempt is refused before the password is checked, the right one included, with the same
    words whether the account exists or not.
    """

    username = forms.EmailField(
        label=_("Email"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        # Django's own names the user model's field ("username"); people here type an email.
        "invalid_login": _("That email and password do not match. Check both and try again."),
        "throttled": _("Too many attempts, try again in %(minutes)s."),
    }

    def clean_username(self):
        return self.cleaned_data["username"].strip().lower()

    def clean(self):
        budgets = self.budgets()
        verdict = ratelimits.peek(*budgets)
        if not verdict.allowed:
            metrics.login_failures.labels("throttled").inc()
            minutes = ngettext("%(n)d minute", "%(n)d minutes", verdict.minutes) % {
                "n": verdict.minutes
            }
            raise forms.ValidationError(
                self.error_messages["throttled"], code="throttled", params={"minutes": minutes}
            )
        try:
            return super().clean()
        except forms.ValidationError:
            ratelimits.hit(*budgets)
            metrics.login_failures.labels("password").inc()
            raise

    def budgets(self) -> list[tuple[str, str]]:
        """(limit, key) of this attempt's account and client address. The account is keyed by
        a digest of the email: no address in the counter store."""
        email = self.cleaned_data.get("username") or self.data.get("username", "")
        account = hashlib.sha256(str(email).strip().lower().encode()).hexdigest()[:32]
        # The client's own address behind a trusted proxy (else every client would share the
        # proxy's budget), as the audit log records it.
        address = (audit.client_ip(self.request) or "") if self.request else ""
        return [
            (settings.LOGIN_RATE_LIMIT_ACCOUNT, f"login:account:{account}"),
            (settings.LOGIN_RATE_LIMIT_ADDRESS, f"login:address:{address}"),
        ]


class ServiceForm(forms.Form):
    """A form whose saving is a service call: the service's refusal shows on its field."""

    def refuse(self, exc: Refused) -> None:
        field = exc.field if exc.field in self.fields else None
        self.add_error(field, str(exc))


def time_zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone.replace("_", " ")) for zone in sorted(available_timezones())]


class OrganizationForm(ServiceForm):
    name = forms.CharField(label=_("Organization name"), max_length=200)
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=time_zone_choices)
    owner_name = forms.CharField(label=_("Your name"), max_length=120)
    email = forms.EmailField(
        label=_("Your email"),
        max_length=150,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class InviteForm(ServiceForm):
    email = forms.EmailField(label=_("Email"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=Member.Role.choices, initial="agent")


class AcceptForm(ServiceForm):
    name = forms.CharField(
        label=_("Your name"), max_length=120, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class ProfileForm(ServiceForm):
    display_name = forms.CharField(label=_("Your name"), max_length=120)
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("As the browser prefers"))] + list(settings.LANGUAGES),
    )


class EmailPasswordResetForm(PasswordResetForm):
    """Django's reset form for our accounts, whose username is their email (the email field
    may be empty on older accounts). Only active accounts with a password get a link; the
    page says the same whatever the address."""

    def get_users(self, email):
        email = (email or "").strip().lower()
        users = get_user_model()._default_manager.filter(username__iexact=email, is_active=True)
        return (u for u in users if u.has_usable_password())

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        user = context.get("user")
        # The account's address is its username; `email` may be blank on accounts made early.
        to_email = to_email or (user.username if user else to_email)
        super().send_mail(
            subject_template_name,
            email_template_name,
            context,
            from_email,
            to_email,
            html_email_template_name,
        )
