"""The opt-out keywords page (Settings → Opt-out keywords): the words that stop and resume
automated and campaign messages, how they are matched, and the answers sent. Owners and
admins; the service (campaigns.keywords) decides what is accepted."""

import re

from django import forms
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from conversa.campaigns import keywords
from conversa.campaigns.models import OptOutKeywords
from conversa.errors import Refused
from conversa.web import admin_view

SEPARATORS = re.compile(r"[\n,;]+")


def words(text: str) -> list[str]:
    """The keywords typed in a box: one per line (commas also separate)."""
    return [w.strip() for w in SEPARATORS.split(text or "") if w.strip()]


def box(label, help_text="", rows=4, max_length=None):
    return forms.CharField(
        label=label,
        required=False,
        help_text=help_text,
        max_length=max_length,
        strip=True,
        widget=forms.Textarea(attrs={"rows": rows}),
    )


class KeywordsForm(forms.Form):
    opt_out = box(
        _("Words that stop messages"),
        _("One per line. Capitals, accents and punctuation do not matter."),
        rows=6,
    )
    opt_in = box(_("Words that resume messages"), _("One per line."), rows=2)
    match = forms.ChoiceField(
        label=_("When does a message count"),
        choices=OptOutKeywords.Match.choices,
        widget=forms.RadioSelect,
    )
    opt_out_reply = box(
        _("Answer to someone who stops messages"),
        _("Sent at once, even to someone who stopped messages. Leave empty to send none."),
        max_length=keywords.MAX_REPLY_LENGTH,
    )
    opt_in_reply = box(
        _("Answer to someone who resumes messages"),
        _("Leave empty to send none."),
        max_length=keywords.MAX_REPLY_LENGTH,
    )

    @classmethod
    def of(cls, data, current: OptOutKeywords) -> "KeywordsForm":
        initial = {
            "opt_out": "\n".join(current.opt_out),
            "opt_in": "\n".join(current.opt_in),
            "match": current.match,
            "opt_out_reply": current.opt_out_reply,
            "opt_in_reply": current.opt_in_reply,
        }
        return cls(data, initial=initial)


@admin_view
def keywords_settings(request):
    """Show and change the organization's opt-out keywords and confirmations."""
    form = KeywordsForm.of(request.POST or None, keywords.settings_for(request.org.pk))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            keywords.update_settings(
                request.org,
                opt_out=words(data["opt_out"]),
                opt_in=words(data["opt_in"]),
                match=data["match"],
                opt_out_reply=data["opt_out_reply"],
                opt_in_reply=data["opt_in_reply"],
                acting_member=request.member,
            )
        except Refused as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            return redirect(f"{request.path}?saved=1")
    context = {"section": "keywords", "form": form, "saved": request.GET.get("saved")}
    status = 422 if form.errors else 200
    return render(request, "campaigns/keywords.html", context, status=status)
