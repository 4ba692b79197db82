"""The Campaigns pages: the list, a draft's form with what each person would receive, and a
campaign's page with its live progress, its numbers' holds and its report. Every member sees
them; owners, admins and supervisors create, start, pause, resume, cancel and clone. The work
is campaigns.sending's and campaigns.progress'; a refusal shows beside its field."""

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.campaigns import audience, messages, progress, sending
from conversa.campaigns.models import Campaign, CampaignRecipient, ContactImport, Segment
from conversa.engine.models import ExecutionJob
from conversa.engine.policy_forms import WeeklyHours, whole
from conversa.errors import Refused
from conversa.inbox.models import Contact, Message, Tag
from conversa.numbers.models import Number
from conversa.web import number, operator_view

PER_PAGE = 50
# How many of the audience the preview shows at once, and offers to pick from.
PREVIEW_FIRST = 5
PREVIEW_CHOICES = 100
TEMPLATE_LANGUAGES = ["pt_BR", "en_US", "es"]
MAX_TEMPLATE_VALUES = 20
REACHED = [Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ]
# A service's field → the form's field it is shown beside.
FIELDS = {"template": "template_name", "sending_hours": "sending_mode"}
ACTIONS = {
    "start": sending.start,
    "pause": sending.pause,
    "resume": sending.resume,
    "cancel": sending.cancel,
}
ACTION_NAMES = [*ACTIONS, "clone"]


def supervisors_only(request) -> None:
    if not request.member.supervises:
        raise PermissionDenied(_("Only owners, admins and supervisors run campaigns."))


class Choices(forms.ModelMultipleChoiceField):
    """Checkboxes of the organization's objects; an id that is not one of them is a form
    error, not a 500."""

    def __init__(self, label, help_text=""):
        super().__init__(
            queryset=None,
            label=label,
            help_text=help_text,
            required=False,
            widget=forms.CheckboxSelectMultiple,
        )

    def clean(self, value):
        if value and len(value) > sending.MAX_SOURCES:
            raise forms.ValidationError(_("At most %(n)s at a time.") % {"n": sending.MAX_SOURCES})
        return super().clean(value)


class CampaignForm(WeeklyHours, forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    kind = forms.ChoiceField(
        label=gettext_lazy("Message"),
        choices=[
            ("text", gettext_lazy("Free text")),
            ("template", gettext_lazy("An approved WhatsApp template")),
        ],
        widget=forms.RadioSelect,
        initial="text",
    )
    body = forms.CharField(
        label=gettext_lazy("Text"),
        required=False,
        max_length=messages.MAX_LENGTH,
        strip=False,
        help_text=gettext_lazy(
            "Free text reaches only people who wrote to the sending number in the last 24 "
            "hours; for the others, use a template."
        ),
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    template_name = forms.CharField(
        label=gettext_lazy("Template name"),
        required=False,
        max_length=512,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    template_language = forms.ChoiceField(
        label=gettext_lazy("Template language"),
        choices=[(code, code) for code in TEMPLATE_LANGUAGES],
        required=False,
    )
    template_values = forms.CharField(
        label=gettext_lazy("Template values"),
        required=False,
        max_length=MAX_TEMPLATE_VALUES * 1025,
        help_text=gettext_lazy("One per line, in the order of the template's placeholders."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    segments = Choices(gettext_lazy("Segments"))
    tags = Choices(gettext_lazy("Contacts with these tags"))
    imports = Choices(gettext_lazy("Imported lists"))
    numbers = Choices(
        gettext_lazy("Send from"),
        gettext_lazy(
            "Each person gets it from the number they last wrote to, else the numbers take turns."
        ),
    )
    start_at = forms.DateTimeField(
        label=gettext_lazy("Start at"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    sending_mode = forms.ChoiceField(
        label=gettext_lazy("It may send"),
        choices=[
            ("org", gettext_lazy("Whenever the organization's sending hours allow")),
            ("week", gettext_lazy("Only in these periods")),
        ],
        widget=forms.RadioSelect,
        initial="org",
    )
    pace_per_minute = whole(
        gettext_lazy("Messages per minute from each number"),
        sending.MAX_PACE,
        gettext_lazy("0: as fast as the numbers' quotas allow."),
    )
    reply_window_hours = whole(
        gettext_lazy("Count replies within (hours)"),
        sending.MAX_REPLY_WINDOW_HOURS,
        gettext_lazy(
            "A person's message within this many hours of the campaign's counts as a reply."
        ),
    )

    def __init__(self, *args, org, campaign: Campaign | None = None, **kwargs):
        initial = {"pace_per_minute": 20, "reply_window_hours": 72}
        hours = {}
        if campaign is not None:
            hours = campaign.sending_hours or {}
            template = campaign.template or {}
            initial = {
                "name": campaign.name,
                "kind": "template" if template else "text",
                "body": campaign.body,
                "template_name": template.get("name", ""),
                "template_language": template.get("language", TEMPLATE_LANGUAGES[0]),
                "template_values": "\n".join(template.get("variables", [])),
                "segments": list(campaign.segments.values_list("pk", flat=True)),
                "tags": list(campaign.tags.values_list("pk", flat=True)),
                "imports": list(campaign.imports.values_list("pk", flat=True)),
                "numbers": list(campaign.numbers.values_list("pk", flat=True)),
                "start_at": campaign.start_at,
                "sending_mode": "week" if hours else "org",
                "pace_per_minute": campaign.pace_per_minute,
                "reply_window_hours": campaign.reply_window_hours,
            }
        initial |= self.hours_initial(hours, ("09:00", "18:00"))
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["segments"].queryset = scoped(org, Segment).order_by("name", "pk")
        self.fields["tags"].queryset = scoped(org, Tag).order_by("name", "pk")
        self.fields["imports"].queryset = (
            scoped(org, ContactImport)
            .filter(
                Q(status=ContactImport.Status.DONE) | Q(campaigns=campaign)
                if campaign
                else Q(status=ContactImport.Status.DONE)
            )
            .distinct()
            .order_by("-created_at", "-pk")
        )
        self.fields["numbers"].queryset = (
            scoped(org, Number).exclude(status=Number.Status.REMOVED).order_by("name", "pk")
        )
        self.fields["start_at"].help_text = _(
            "In the organization's time zone (%(zone)s). Empty: as soon as you start it."
        ) % {"zone": org.time_zone}
        self.add_hours_fields()

    def clean_template_values(self) -> list[str]:
        values = [line.strip() for line in self.cleaned_data["template_values"].splitlines()]
        values = [value for value in values if value]
        if len(values) > MAX_TEMPLATE_VALUES or any(len(v) > 1024 for v in values):
            raise forms.ValidationError(_("At most 20 values, each up to 1024 characters."))
        return values

    def clean(self):
        data = super().clean()
        data["sending_hours"] = self.clean_hours(data)
        return data

    def draft(self) -> sending.Draft:
        data = self.cleaned_data
        template = None
        if data["kind"] == "template":
            template = {
                "name": data["template_name"].strip(),
                "language": data["template_language"] or TEMPLATE_LANGUAGES[0],
                "variables": data["template_values"],
            }

        def ids(name: str) -> tuple[int, ...]:
            return tuple(item.pk for item in data[name])

        return sending.Draft(
            name=data["name"],
            body=data["body"] if not template else "",
            template=template,
            number_ids=ids("numbers"),
            segment_ids=ids("segments"),
            tag_ids=ids("tags"),
            import_ids=ids("imports"),
            start_at=data["start_at"],
            sending_hours=data["sending_hours"],
            pace_per_minute=data["pace_per_minute"],
            reply_window_hours=data["reply_window_hours"],
        )


def figures(org, campaigns: list[Campaign]) -> None:
    """Each row's audience, sent and replied, in one grouped query for the page (a draft's
    audience is who it would take now)."""
    counts = {
        row["campaign_id"]: row
        for row in scoped(org, CampaignRecipient)
        .filter(campaign__in=campaigns)
        .values("campaign_id")
        .annotate(
            audience=Count("pk"),
            sent=Count(
                "pk",
                filter=Q(intent__job__status=ExecutionJob.Status.SENT)
                | Q(intent__job__message__status__in=REACHED),
            ),
            replied=Count("pk", filter=Q(replied_at__isnull=False)),
        )
    }
    for campaign in campaigns:
        found = counts.get(campaign.pk, {})
        if campaign.status == Campaign.Status.DRAFT:
            campaign.audience = len(audience.contact_ids(campaign))
        else:
            campaign.audience = found.get("audience", 0)
        campaign.sent = found.get("sent", 0)
        campaign.replied = found.get("replied", 0)


@operator_view
def campaign_list(request):
    everything = (
        scoped(request.org, Campaign).select_related("organization").order_by("-created_at", "-pk")
    )
    page = Paginator(everything, PER_PAGE).get_page(number(request.GET.get("page")) or 1)
    rows = list(page.object_list)
    figures(request.org, rows)
    return render(request, "campaigns/list.html", {"page": page, "campaigns": rows})


def variables(org) -> list[str]:
    """The variables a message may use, this organization's custom fields included."""
    keys = set()
    for fields in (
        scoped(org, Contact).exclude(custom_fields={}).values_list("custom_fields", flat=True)[:200]
    ):
        keys.update(key for key in (fields or {}) if messages.valid_custom(f"contact.{key}"))
    return [*messages.BUILT_IN, *(f"contact.{key}" for key in sorted(keys)[:20])]


def form_page(request, form: CampaignForm, campaign: Campaign | None, status: int = 200):
    context = {
        "form": form,
        "campaign": campaign,
        "variables": variables(request.org),
        "preview": preview(request, campaign) if campaign else None,
    }
    return render(request, "campaigns/form.html", context, status=status)


def save(request, campaign: Campaign | None):
    form = CampaignForm(request.POST or None, org=request.org, campaign=campaign)
    if request.method == "POST" and form.is_valid():
        try:
            saved = sending.save_campaign(
                request.org, form.draft(), acting_member=request.member, campaign=campaign
            )
        except Refused as exc:
            field = FIELDS.get(exc.field, exc.field)
            form.add_error(field if field in form.fields else None, str(exc))
        else:
            return redirect("campaign", campaign_id=saved.pk)
    return form_page(request, form, campaign, status=422 if form.errors else 200)


@operator_view
def campaign_new(request):
    supervisors_only(request)
    return save(request, None)


def campaign_of(request, campaign_id: int) -> Campaign:
    """The organization's campaign (another's is a 404), with the organization its time zone
    and messages read."""
    campaign = get_for_org_or_404(request.org, Campaign, pk=campaign_id)
    campaign.organization = request.org
    return campaign


@operator_view
def campaign_edit(request, campaign_id: int):
    supervisors_only(request)
    campaign = campaign_of(request, campaign_id)
    if campaign.status != Campaign.Status.DRAFT:
        return redirect("campaign", campaign_id=campaign.pk)
    return save(request, campaign)


def preview(request, campaign: Campaign) -> dict:
    """What the first few of the audience (or the one picked) would receive, and who would be
    skipped and why: the message is rendered for each as the start would."""
    ids = sorted(audience.contact_ids(campaign))
    people = scoped(request.org, Contact)
    choices = list(people.filter(pk__in=ids).order_by("name", "pk")[:PREVIEW_CHOICES])
    picked = number(request.GET.get("contact"))
    shown_ids = [picked] if picked in set(ids) else ids[:PREVIEW_FIRST]
    contacts = list(people.filter(pk__in=shown_ids).order_by("pk"))
    numbers = list(campaign.numbers.exclude(status=Number.Status.REMOVED))
    free_text = not campaign.template
    wrote = (
        sending.latest_inbound([c.pk for c in contacts], numbers, timezone.now() - sending.WINDOW)
        if free_text
        else {}
    )
    labels = dict(CampaignRecipient.Skip.choices)
    rows = []
    for contact in contacts:
        contact.organization = request.org
        rendered = messages.render(campaign, contact)
        reason = sending.skip_reason(contact, rendered)
        if not reason and free_text and contact.pk not in wrote:
            reason = CampaignRecipient.Skip.OUTSIDE_WINDOW
        rows.append(
            {
                "contact": contact,
                "message": rendered.body,
                "skipped": labels.get(reason, "") if reason else "",
                "blank": [f"{{{{{name}}}}}" for name in dict.fromkeys(rendered.blank)],
            }
        )
    return {"size": len(ids), "rows": rows, "choices": choices, "picked": picked}


def live_context(campaign: Campaign) -> dict:
    context = {"campaign": campaign, "now": timezone.now()}
    if campaign.status != Campaign.Status.DRAFT:
        found = progress.progress(campaign)
        series = progress.over_time(campaign)
        top = max([max(row["sent"], row["replied"]) for row in series] or [0]) or 1
        for row in series:
            row["sent_width"] = round(100 * row["sent"] / top)
            row["replied_width"] = round(100 * row["replied"] / top)
        context |= {
            "progress": found,
            "shares": progress.number_shares(campaign),
            "series": series,
        }
    return context


def page_context(request, campaign: Campaign, **extra) -> dict:
    context = {
        **live_context(campaign),
        "segments": list(campaign.segments.all()),
        "tags": list(campaign.tags.all()),
        "imports": list(campaign.imports.all()),
        "numbers": list(campaign.numbers.order_by("name", "pk")),
        **extra,
    }
    if campaign.status == Campaign.Status.DRAFT:
        context["preview"] = preview(request, campaign)
    return context


@operator_view
def campaign_page(request, campaign_id: int):
    campaign = campaign_of(request, campaign_id)
    return render(request, "campaigns/campaign.html", page_context(request, campaign))


@operator_view
def campaign_live(request, campaign_id: int):
    """The status, actions, counts, numbers and report, which the page asks for every 2 s
    while the campaign is sending or paused."""
    campaign = campaign_of(request, campaign_id)
    return render(request, "campaigns/_campaign_live.html", live_context(campaign))


@require_POST
@operator_view
def campaign_action(request, campaign_id: int, action: str):
    """Start, pause, resume, cancel or clone; a refusal shows on the campaign's page."""
    supervisors_only(request)
    campaign = campaign_of(request, campaign_id)
    try:
        if action == "clone":
            copy = sending.clone(campaign, acting_member=request.member)
            return redirect("campaign-edit", campaign_id=copy.pk)
        ACTIONS[action](campaign, acting_member=request.member)
    except Refused as exc:
        campaign.refresh_from_db()
        context = page_context(request, campaign, error=str(exc))
        return render(request, "campaigns/campaign.html", context, status=400)
    return redirect("campaign", campaign_id=campaign.pk)
