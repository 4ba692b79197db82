import hashlib

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from conversa import ratelimits


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
        "throttled": _("Too many attempts, try again in %(minutes)s."),
    }

    def clean_username(self):
        return self.cleaned_data["username"].strip().lower()

    def clean(self):
        budgets = self.budgets()
        verdict = ratelimits.peek(*budgets)
        if not verdict.allowed:
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
            raise

    def budgets(self) -> list[tuple[str, str]]:
        """(limit, key) of this attempt's account and client address. The account is keyed by
        a digest of the email: no address in the counter store."""
        email = self.cleaned_data.get("username") or self.data.get("username", "")
        account = hashlib.sha256(str(email).strip().lower().encode()).hexdigest()[:32]
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        return [
            (settings.LOGIN_RATE_LIMIT_ACCOUNT, f"login:account:{account}"),
            (settings.LOGIN_RATE_LIMIT_ADDRESS, f"login:address:{address}"),
        ]
