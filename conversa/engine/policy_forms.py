"""The forms of the organization's settings page and of a number's settings: what a person
types, read into the services' `OrganizationPolicies` and `NumberPolicies`."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from conversa import business_hours as sla
from conversa.accounts.models import (
    MAX_DAILY_QUOTA,
    MAX_HOURLY_QUOTA,
    MAX_REOPEN_WINDOW_HOURS,
    time_zones,
)
from conversa.engine import policies
from conversa.money import CURRENCIES

WHOLE = re.compile(r"^[0-9]{1,12}$")

DAY_NAMES = {
    "mon": _("Monday"),
    "tue": _("Tuesday"),
    "wed": _("Wednesday"),
    "thu": _("Thursday"),
    "fri": _("Friday"),
    "sat": _("Saturday"),
    "sun": _("Sunday"),
}


class WholeNumberField(forms.IntegerField):
    """0…max_value from ASCII digits only: Python's int() would read "٣" as 3."""

    def to_python(self, value):
        value = "" if value is None else str(value).strip()
        if value in self.empty_values:
            return None
        if not WHOLE.match(value):
            raise forms.ValidationError(_("A whole number, like 200."), code="invalid")
        return int(value)


def whole(label, maximum: int, help_text=""):
    return WholeNumberField(
        label=label,
        min_value=0,
        max_value=maximum,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 0, "max": maximum}),
    )


def clock(label, required: bool = False):
    return forms.TimeField(
        label=label,
        required=required,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        input_formats=["%H:%M"],
    )


class WeeklyHours:
    """Allowed sending hours as a row per weekday (on, from, to), for a form whose
    `sending_mode` "week" means "only in these periods" (the organization's settings, a
    campaign's form): its initial values, fields, rows for the template and cleaning."""

    @staticmethod
    def hours_initial(hours: dict, default: tuple[str, str]) -> dict:
        initial = {}
        for day in sla.WEEKDAYS:
            spans = hours.get(day) or []
            initial[f"{day}_on"] = bool(spans) or not hours
            initial[f"{day}_start"], initial[f"{day}_end"] = spans[0] if spans else default
        return initial

    def add_hours_fields(self) -> None:
        for day in sla.WEEKDAYS:
            self.fields[f"{day}_on"] = forms.BooleanField(label=DAY_NAMES[day], required=False)
            self.fields[f"{day}_start"] = clock(_("From"))
            self.fields[f"{day}_end"] = clock(_("To"))

    def days(self) -> list[dict]:
        """The dayparts' rows, for the template."""
        return [
            {
                "name": DAY_NAMES[day],
                "on": self[f"{day}_on"],
                "start": self[f"{day}_start"],
                "end": self[f"{day}_end"],
            }
            for day in sla.WEEKDAYS
        ]

    def clean_hours(self, data: dict) -> dict:
        """{weekday: [[from, to]]} from the rows ({} unless "only in these periods")."""
        if data.get("sending_mode") != "week":
            return {}
        hours = {}
        for day in sla.WEEKDAYS:
            if not data.get(f"{day}_on"):
                continue
            start, end = data.get(f"{day}_start"), data.get(f"{day}_end")
            if start is None or end is None or start >= end:
                self.add_error(
                    f"{day}_end",
                    _("%(day)s: the period must end after it starts.") % {"day": DAY_NAMES[day]},
                )
                continue
            hours[day] = [[start.strftime("%H:%M"), end.strftime("%H:%M")]]
        if not hours and not self.errors:
            self.add_error("sending_mode", _("Allow at least one day, or allow any time."))
        return hours


class OrganizationForm(WeeklyHours, forms.Form):
    name = forms.CharField(label=_("Organization name"), max_length=policies.MAX_NAME)
    time_zone = forms.ChoiceField(label=_("Time zone"))
    # Not required: a form posted without it keeps the organization's currency.
    currency = forms.ChoiceField(
        label=_("Currency of deals"), choices=[(c, c) for c in CURRENCIES], required=False
    )
    quiet_hours_start = clock(_("Quiet hours start"))
    quiet_hours_end = clock(_("Quiet hours end"))
    sending_mode = forms.ChoiceField(
        label=_("Automated messages may be sent"),
        choices=[("any", _("At any time")), ("week", _("Only in these periods"))],
        widget=forms.RadioSelect,
    )
    reopen_window_hours = whole(
        _("Reopen window (hours)"),
        MAX_REOPEN_WINDOW_HOURS,
        _(
            "A customer's message within this many hours of a resolved conversation reopens "
            "it; a later one starts a new conversation. 0: never reopen."
        ),
    )
    default_hourly_quota = whole(_("Messages per hour"), MAX_HOURLY_QUOTA, _("0: unlimited."))
    default_daily_quota = whole(_("Messages per day"), MAX_DAILY_QUOTA, _("0: unlimited."))

    def __init__(self, *args, org, **kwargs):
        hours = org.sending_hours or {}
        initial = {
            **{f: getattr(org, f) for f in policies.OrganizationPolicies.__dataclass_fields__},
            "sending_mode": "week" if hours else "any",
        }
        initial |= self.hours_initial(hours, ("08:00", "20:00"))
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["time_zone"].choices = [(z, z) for z in sorted(time_zones())]
        self.add_hours_fields()

    def clean(self):
        data = super().clean()
        data["sending_hours"] = self.clean_hours(data)
        return data

    def clean_currency(self) -> str:
        return self.cleaned_data.get("currency") or self.initial["currency"]

    def policies(self) -> policies.OrganizationPolicies:
        data = self.cleaned_data
        return policies.OrganizationPolicies(
            **{f: data[f] for f in policies.OrganizationPolicies.__dataclass_fields__}
        )


class NumberSettingsForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=policies.MAX_NUMBER_NAME)
    hourly_quota = whole(_("Messages per hour"), MAX_HOURLY_QUOTA, _("0: unlimited."))
    daily_quota = whole(_("Messages per day"), MAX_DAILY_QUOTA, _("0: unlimited."))
    queue = forms.TypedChoiceField(
        label=_("New conversations go to"), coerce=int, required=False, empty_value=None
    )
    paused = forms.BooleanField(
        label=_("Paused: hold every message from this number"), required=False
    )

    def __init__(self, *args, number, queues, **kwargs):
        current = policies.number_policies(number)
        initial = {**current.__dict__, "queue": current.queue_id}
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["queue"].choices = [("", _("No queue"))] + [(q.pk, q.name) for q in queues]

    def policies(self) -> policies.NumberPolicies:
        data = self.cleaned_data
        return policies.NumberPolicies(
            name=data["name"],
            hourly_quota=data["hourly_quota"],
            daily_quota=data["daily_quota"],
            queue_id=data["queue"],
            paused=data["paused"],
        )
