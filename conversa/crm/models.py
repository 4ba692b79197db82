"""The CRM funnel: pipelines of ordered stages, leads moving through them, and the automations
that send follow-ups when a lead enters a stage.

State changes go through `conversa.crm.services` (moves, automations) and
`conversa.crm.followups` (scheduling, stop conditions, dispatch). A follow-up is sent by the
engine like every other message: each step is one MessageIntent (origin AUTOMATION).
"""

import re
from datetime import timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from conversa.accounts.models import Member, OrgOwned
from conversa.colours import ColourValidator
from conversa.inbox.models import Contact, Tag
from conversa.numbers.models import Number

# A custom field's key: what `{{lead.<key>}}` names in a template.
FIELD_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_CUSTOM_FIELDS = 50
MAX_FIELD_VALUE = 1000


class Pipeline(OrgOwned):
    name = models.CharField(max_length=120)
    # The keys of its leads' custom fields (["cpf", "plan"]): a lead may fill them, and a
    # template may name them as {{lead.cpf}}. Declared here so a typo in a template is refused.
    custom_fields = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Stage(OrgOwned):
    DEFAULT_COLOUR = "#64748b"
    VALID_COLOUR = ColourValidator()

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)
    colour = models.CharField(max_length=16, default=DEFAULT_COLOUR, validators=[VALID_COLOUR])
    is_won = models.BooleanField(default=False)
    is_lost = models.BooleanField(default=False)

    class Meta:
        ordering = ["pipeline", "position", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def safe_colour(self) -> str:
        """The colour pages print (in a style attribute): the default for a row saved before
        colours were checked."""
        return self.VALID_COLOUR.safe(self.colour, self.DEFAULT_COLOUR)


class Lead(OrgOwned):
    """A sales opportunity with one contact, in one stage of a pipeline. Its stage changes only
    through `services.move_lead`."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="leads")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="leads")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="leads")
    title = models.CharField(max_length=200)
    value = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    owner = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    notes = models.TextField(blank=True)
    # key → text, keys among the pipeline's `custom_fields`.
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # When it entered its current stage (the latest StageChange's time).
    stage_entered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["organization", "stage", "updated_at"])]

    def __str__(self) -> str:
        return self.title


class StageChange(OrgOwned):
    """A lead entering a stage. Its id is the stage-entry epoch that follow-up keys build on."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    moved_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]


class Automation(OrgOwned):
    """Trigger: a lead entered `stage` (of its pipeline), optionally only leads whose contact
    has `tag` and/or whose owner is `owner`. Its ordered steps become scheduled intents, sent
    from `number` (none: any number the Gate picks). A paused one fires nothing."""

    name = models.CharField(max_length=120)
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="automations")
    tag = models.ForeignKey(Tag, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    owner = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    number = models.ForeignKey(
        Number, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class AutomationStep(OrgOwned):
    """One message of an automation: sent `delay` `delay_unit` after the previous step's due
    time (the first step: after the lead entered the stage), or at the next business-hours
    slot from then when `business_hours` is set. `template` may name `VARIABLES` and the
    pipeline's custom fields ({{lead.<key>}})."""

    class Unit(models.TextChoices):
        MINUTES = "minutes", _("minutes")
        HOURS = "hours", _("hours")
        DAYS = "days", _("days")

    # Variable → what it reads from (lead, contact, organization). Rendered as plain text.
    VARIABLES = {
        "contact.name": lambda lead, contact, org: contact.name,
        "contact.first_name": lambda lead, contact, org: contact.name.split(" ")[0],
        "contact.phone": lambda lead, contact, org: contact.display_phone,
        "lead.title": lambda lead, contact, org: lead.title,
        "lead.value": lambda lead, contact, org: f"{lead.value:.2f}",
        "lead.stage": lambda lead, contact, org: lead.stage.name,
        "lead.pipeline": lambda lead, contact, org: lead.pipeline.name,
        "lead.owner": lambda lead, contact, org: lead.owner.display_name if lead.owner else "",
        "organization.name": lambda lead, contact, org: org.name,
    }
    PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
    MAX_LENGTH = 4096  # WhatsApp's limit for a text message
    MAX_DELAY = {Unit.MINUTES: 60 * 24 * 365, Unit.HOURS: 24 * 365, Unit.DAYS: 365}

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    delay = models.PositiveIntegerField(default=0)
    delay_unit = models.CharField(max_length=8, choices=Unit.choices, default=Unit.MINUTES)
    business_hours = models.BooleanField(default=False)
    template = models.TextField()

    class Meta:
        ordering = ["automation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["automation", "position"], name="step_unique_position")
        ]

    @property
    def wait(self) -> timedelta:
        return timedelta(**{self.delay_unit: self.delay})

    @classmethod
    def known_variables(cls, custom_fields: list[str]) -> list[str]:
        return [*cls.VARIABLES, *(f"lead.{key}" for key in custom_fields)]

    @classmethod
    def template_problems(cls, template: str, custom_fields: list[str]) -> list[str]:
        """What is wrong with a step's message, in words for whoever wrote it (empty: fine).
        A variable that is neither built in nor one of the pipeline's custom fields is refused
        here rather than sent to a customer as typed."""
        found = []
        if not template.strip():
            found.append(str(_("The message is empty.")))
        elif len(template) > cls.MAX_LENGTH:
            found.append(
                str(_("The message is longer than %(n)s characters.") % {"n": cls.MAX_LENGTH})
            )
        known = cls.known_variables(custom_fields)
        unknown = sorted(set(cls.PLACEHOLDER.findall(template)) - set(known))
        if unknown:
            found.append(
                str(
                    _("Unknown variable(s): %(unknown)s. Known: %(known)s.")
                    % {
                        "unknown": ", ".join(f"{{{{{name}}}}}" for name in unknown),
                        "known": ", ".join(f"{{{{{name}}}}}" for name in known),
                    }
                )
            )
        return found

    @classmethod
    def render(cls, template: str, lead: Lead) -> str:
        """The message with its variables filled in for `lead` (plain text). A custom field the
        lead has not filled renders empty; a variable unknown by now is left as typed."""
        contact, org = lead.contact, lead.organization

        def fill(match) -> str:
            name = match.group(1)
            read = cls.VARIABLES.get(name)
            if read:
                return str(read(lead, contact, org))
            if name.startswith("lead.") and name[5:] in (lead.pipeline.custom_fields or []):
                return str((lead.custom_fields or {}).get(name[5:], ""))
            return match.group(0)

        return cls.PLACEHOLDER.sub(fill, template)


class FollowUp(OrgOwned):
    """One scheduled step for one stage entry of a lead: the link between the CRM and the
    engine's intent that sends it.

    What became of it is read from the intent and its job (`state`): the engine, not this row,
    knows whether it was sent. This row records only what the CRM decides: that it was
    cancelled, when, and why.
    """

    class CancelReason(models.TextChoices):
        CONTACT_REPLIED = "contact_replied", _("contact replied")
        LEFT_STAGE = "left_stage", _("left stage")
        OPTED_OUT = "opted_out", _("opted out")
        AUTOMATION_PAUSED = "automation_paused", _("automation paused")
        AUTOMATION_DELETED = "automation_deleted", _("automation deleted")

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        DEFERRED = "deferred", _("Deferred")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        BLOCKED = "blocked", _("Blocked")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="follow_ups")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    stage_change = models.ForeignKey(
        StageChange, on_delete=models.CASCADE, related_name="follow_ups"
    )
    automation = models.ForeignKey(
        Automation, null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    step = models.ForeignKey(
        AutomationStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    position = models.PositiveIntegerField()
    intent = models.OneToOneField(
        "engine.MessageIntent", on_delete=models.CASCADE, related_name="follow_up"
    )
    due_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=24, choices=CancelReason.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["stage_change", "step"], name="followup_unique_step")
        ]
        indexes = [
            models.Index(fields=["organization", "due_at"]),
            models.Index(fields=["contact", "cancelled_at"]),
        ]

    @property
    def state(self) -> str:
        """scheduled / deferred / sending / sent / blocked / failed / cancelled, from the
        intent and its job (load them with select_related("intent__job"))."""
        if self.cancelled_at:
            return self.State.CANCELLED
        intent = self.intent
        job = getattr(intent, "job", None)
        status = intent.status
        if status == "sent":
            return self.State.SENT
        if status == "blocked":
            return self.State.BLOCKED
        if status == "failed":
            return self.State.FAILED
        if job is not None and job.status in ("claimed", "sending", "uncertain", "retry_wait"):
            return self.State.SENDING
        if status == "deferred":
            return self.State.DEFERRED
        return self.State.SCHEDULED
