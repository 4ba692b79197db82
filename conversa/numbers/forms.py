import httpcore
from django import forms
from django.utils.translation import gettext_lazy as _

from conversa.numbers.models import Number
from conversa.numbers.services import NumberSettings
from conversa.providers import outbound

# Which fields each provider needs in step 1 of "Add number".
REQUIRED = {
    Number.Provider.SANDBOX: [],
    Number.Provider.EVOLUTION: ["base_url", "api_key"],
    Number.Provider.CLOUD: ["phone_number_id", "access_token", "app_secret"],
}
# Every field each provider has, required or not: the others' are hidden on the page.
OWN_FIELDS = {**REQUIRED, Number.Provider.CLOUD: [*REQUIRED[Number.Provider.CLOUD], "verify_token"]}
PROVIDER_FIELDS = {name for names in OWN_FIELDS.values() for name in names}


class NumberForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    provider = forms.ChoiceField(
        label=_("Provider"),
        choices=[(p.value, p.label) for p in REQUIRED],
        widget=forms.RadioSelect,
        initial=Number.Provider.SANDBOX,
    )
    base_url = forms.URLField(
        label=_("Evolution server URL"),
        required=False,
        assume_scheme="https",
        error_messages={
            "invalid": _("Type the server's full address, like https://evolution.example.com.")
        },
    )
    api_key = forms.CharField(label=_("Evolution API key"), required=False, max_length=200)
    phone_number_id = forms.RegexField(
        label=_("Phone number ID"),
        regex=r"^\d{5,32}$",
        required=False,
        error_messages={"invalid": _("The phone number ID is the digits Meta shows for it.")},
    )
    access_token = forms.CharField(label=_("Access token"), required=False, max_length=600)
    app_secret = forms.CharField(label=_("App secret"), required=False, max_length=200)
    verify_token = forms.CharField(
        label=_("Verify token"),
        required=False,
        max_length=200,
        help_text=_(
            "Any phrase; Meta presents it when it checks the webhook. Left empty, one is made."
        ),
    )

    def __init__(self, data=None, **kwargs):
        """The fields of a provider that is not chosen are hidden on the page: what they still
        hold (typed before switching provider) is dropped here, neither checked nor saved."""
        if data is not None:
            data = data.copy()
            own = OWN_FIELDS.get(data.get("provider"), [])
            for name in PROVIDER_FIELDS.difference(own):
                data.pop(name, None)
        super().__init__(data, **kwargs)

    def clean_name(self):
        return self.cleaned_data["name"].strip()

    def clean_base_url(self):
        """Said here, in words, what the call itself would refuse (providers/outbound.py): a
        server on a private or reserved address. The call checks again, and connects to the
        address it checked."""
        url = (self.cleaned_data.get("base_url") or "").strip()
        if url:
            if not url.lower().startswith(("http://", "https://")):
                raise forms.ValidationError(_("The address starts with https:// or http://."))
            try:
                outbound.check_url(url)
            except outbound.UnsafeAddress as exc:
                raise forms.ValidationError(
                    _(
                        "This address is on a private or reserved network. Conversa only "
                        "calls Evolution servers reachable on the internet."
                    )
                ) from exc
            except httpcore.ConnectError as exc:
                raise forms.ValidationError(_("No server answers to this name.")) from exc
        return url

    def clean(self):
        data = super().clean()
        for name in REQUIRED.get(data.get("provider"), []):
            # A field refused for what it holds says so once, not also "required".
            if name not in self.errors and not (data.get(name) or "").strip():
                self.add_error(name, _("Required for this provider."))
        return data

    def settings(self) -> NumberSettings:
        data = self.cleaned_data
        wanted = {name: (data.get(name) or "").strip() for name in REQUIRED[data["provider"]]}
        if data["provider"] == Number.Provider.CLOUD:
            wanted["verify_token"] = (data.get("verify_token") or "").strip()
        return NumberSettings(name=data["name"], provider=data["provider"], **wanted)


class TestMessageForm(forms.Form):
    phone = forms.CharField(label=_("To (number with country code)"), max_length=32)
    body = forms.CharField(
        label=_("Message"), max_length=4096, widget=forms.Textarea(attrs={"rows": 3})
    )
    # Made when the form is drawn: submitting the same form twice sends once.
    key = forms.UUIDField(widget=forms.HiddenInput)

    def clean_phone(self):
        # People paste numbers as they write them: +55 (11) 98888-7777.
        digits = "".join(ch for ch in self.cleaned_data["phone"] if ch.isdigit())
        if not 8 <= len(digits) <= 15:
            raise forms.ValidationError(
                _("8 to 15 digits, country code first, like 5511988887777.")
            )
        return digits
