from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from conversa.accounts.models import COPIED, Member, Organization, OrgOwned
from conversa.inbox.models import Contact


class Segment(OrgOwned):
    """A saved filter over the organization's contacts (the Contacts page's search and
    filters): whoever matches it when a campaign reads it is in that campaign's audience."""

    name = models.CharField(max_length=120)
    # contact_listing.Filters without its sort: {"q", "consent", "opted_out", "blocked",
    # "wrote_within", "open_conversation", "stage"}.
    filters = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="segment_name_once")
        ]

    def __str__(self) -> str:
        return self.name


class Campaign(OrgOwned):
    """Outreach to an audience (segments, tags, imported lists), from chosen numbers, at a
    pace, within dayparts. Each person in it is one CampaignRecipient with at most one CAMPAIGN
    intent keyed (organization, campaign, contact); the Gate refuses anyone without a current
    marketing consent, opted out or blocked, at creation and again before each send."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        # Started, with a start time still ahead, or sending.
        RUNNING = "running", _("Sending")
        PAUSED = "paused", _("Paused")
        CANCELLED = "cancelled", _("Cancelled")
        FINISHED = "finished", _("Finished")

    name = models.CharField(max_length=200)
    # Free text, for contacts inside the 24-hour window (or any contact of a number that is not
    # a Cloud API number), with {{name}}-style variables (campaigns.messages).
    body = models.TextField(blank=True)
    # A pre-approved Cloud API template instead: {"name", "language", "variables": [text with
    # {{…}} variables, one per placeholder]}.
    template = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    numbers = models.ManyToManyField("instances.Number", related_name="+", blank=True)
    segments = models.ManyToManyField(Segment, related_name="campaigns", blank=True)
    tags = models.ManyToManyField("inbox.Tag", related_name="+", blank=True)
    imports = models.ManyToManyField("ContactImport", related_name="campaigns", blank=True)
    # None: as soon as it is started.
    start_at = models.DateTimeField(null=True, blank=True)
    # Allowed dayparts, as Organization.sending_hours ({"mon": [["09:00", "18:00"]], …}); {}:
    # the organization's own. The organization's quiet hours and sending hours hold too.
    sending_hours = models.JSONField(default=dict, blank=True)
    # Messages per minute from each number; 0: as fast as the numbers' quotas allow.
    pace_per_minute = models.PositiveIntegerField(default=20)
    # A recipient's message counts as answered when they write within this many hours of it.
    reply_window_hours = models.PositiveIntegerField(default=72)
    cloned_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"], name="campaign_status")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        """Started and not over: it may still add people and send."""
        return self.status in (self.Status.RUNNING, self.Status.PAUSED)


class CampaignRecipient(OrgOwned):
    """One person in one campaign: the CAMPAIGN intent made for them, or why none was (the
    skip reason), and when they answered. Unique per (campaign, contact): however many ways a
    person matches the audience, and however often the campaign is resumed or restarted, they
    are one recipient and one intent."""

    class Skip(models.TextChoices):
        NO_CONSENT = "no_consent", _("No marketing consent")
        OPTED_OUT = "opted_out", _("Opted out")
        BLOCKED = "blocked", _("Blocked")
        INVALID_NUMBER = "invalid_number", _("No valid WhatsApp number")
        BLANK_VARIABLE = "blank_variable", _("A variable came out blank")
        OUTSIDE_WINDOW = "outside_window", _("Outside the 24-hour window")
        DUPLICATE = "duplicate", _("Already sent this campaign")

    # No index of their own: recipient_once leads with the campaign, recipient_contact with the
    # contact (an index fewer to write for each of a start's 100,000 rows).
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="recipients", db_index=False
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+", db_index=False)
    # Copies of its campaign's organization and its intent's number (accounts.models.COPIED).
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", **COPIED
    )
    number = models.ForeignKey(
        "instances.Number",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        **COPIED,
    )
    intent = models.OneToOneField(
        "engine.MessageIntent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaign_recipient",
    )
    skip_reason = models.CharField(max_length=16, choices=Skip.choices, blank=True)
    added_at = models.DateTimeField(default=timezone.now)
    replied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="recipient_once")
        ]
        indexes = [
            models.Index(fields=["contact", "replied_at"], name="recipient_contact"),
            models.Index(fields=["campaign", "skip_reason"], name="recipient_skips"),
        ]


class Consent(OrgOwned):
    """One grant or withdrawal of a contact's consent to a purpose, with its evidence: the
    records are the truth (LGPD asks who agreed to what, when and how), and the contact's
    current state is the latest of them (`Contact.marketing_consent`, campaigns.consent).
    Records are never edited; erasing a contact marks its records erased and empties their
    evidence, the grant's date and channel kept as the law requires."""

    class Purpose(models.TextChoices):
        # Service messages (replies, follow-ups of an open matter) need no consent; marketing
        # (campaigns) does.
        MARKETING = "marketing", _("Marketing messages")

    class Channel(models.TextChoices):
        IMPORT = "import", _("Imported list")
        WEB_FORM = "web_form", _("Web form")
        KEYWORD = "keyword", _("WhatsApp keyword")
        AGENT = "agent", _("Recorded by a team member")
        API = "api", _("API")
        CLOUD_PREFERENCE = "cloud_preference", _("WhatsApp marketing preference")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.MARKETING)
    granted = models.BooleanField()
    channel = models.CharField(max_length=20, choices=Channel.choices)
    evidence = models.TextField(blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    erased = models.BooleanField(default=False)
    # What makes the record once only, when its source may be read again: an imported row's
    # is its file's hash and row number (none: every call is a new record).
    key = models.CharField(max_length=100, null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["contact", "purpose", "-recorded_at"], name="consent_latest")
        ]
        constraints = [
            # Unconditional (NULLs never clash), so INSERT … ON CONFLICT can name it.
            models.UniqueConstraint(fields=["organization", "key"], name="consent_key_once")
        ]

    def __str__(self) -> str:
        return f"{self.purpose}: {'granted' if self.granted else 'withdrawn'}"


class ContactImport(OrgOwned):
    """A contact list uploaded from a CSV or XLSX file: mapped, previewed, then run by a worker
    in batches (campaigns.imports). `rows_done` moves with each batch's writes in one
    transaction, so a worker that dies mid-batch leaves the import to resume where it was."""

    class Status(models.TextChoices):
        # Uploaded; its columns are being mapped and previewed.
        DRAFT = "draft", _("Waiting for its columns")
        QUEUED = "queued", _("Waiting to start")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Finished")
        FAILED = "failed", _("Failed")

    class Kind(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    file = models.FileField(upload_to="imports/%Y/%m/")
    file_name = models.CharField(max_length=255)
    kind = models.CharField(max_length=4, choices=Kind.choices)
    # SHA-256 of the file's bytes: a row's consent record is keyed on it and the row number,
    # so importing the same file again records nothing twice.
    sha256 = models.CharField(max_length=64)
    # Where numbers typed without a country code are read (ISO 3166 code, as phonenumbers).
    region = models.CharField(max_length=2, default="BR")
    # Field → column index: {"phone": 0, "name": 1, "tags": 2, "consent": 3,
    # "consent_evidence": 4, "consent_date": 5, "custom": {"city": 6}}.
    mapping = models.JSONField(default=dict, blank=True)
    headers = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    merged_count = models.PositiveIntegerField(default=0)
    refused_count = models.PositiveIntegerField(default=0)
    consent_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "claimed_until"], name="import_due")]

    def __str__(self) -> str:
        return self.file_name

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.rows_done / self.rows_total) if self.rows_total else 0


class ImportedContact(OrgOwned):
    """A contact a row of an import named (created, updated or merged): the import as a
    campaign's audience is these contacts."""

    contact_import = models.ForeignKey(
        ContactImport, on_delete=models.CASCADE, related_name="members"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact_import", "contact"], name="imported_contact_once"
            )
        ]


class ContactImportProblem(models.Model):
    """A row the import refused, with the reason: the downloadable error report. One per row
    (a batch run again after a crash writes nothing twice)."""

    contact_import = models.ForeignKey(
        ContactImport, on_delete=models.CASCADE, related_name="problems"
    )
    row_number = models.PositiveIntegerField()
    reason = models.CharField(max_length=200)
    cells = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact_import", "row_number"], name="import_problem_once"
            )
        ]


# What the customer reads, in the business's voice, not the interface's language: both of the
# languages the default keywords are in, until the organization writes its own.
DEFAULT_OPT_OUT_REPLY = (
    "Pronto: você não receberá mais nossas mensagens automáticas e campanhas. "
    "Para voltar a recebê-las, envie VOLTAR.\n"
    "Done: you will no longer receive our automated and campaign messages. "
    "To receive them again, send START."
)
DEFAULT_OPT_IN_REPLY = (
    "Você voltará a receber nossas mensagens automáticas.\n"
    "You will receive our automated messages again."
)


def default_opt_out_keywords() -> list[str]:
    return ["SAIR", "PARAR", "CANCELAR", "DESCADASTRAR", "STOP", "UNSUBSCRIBE"]


def default_opt_in_keywords() -> list[str]:
    return ["VOLTAR", "START"]


class OptOutKeywords(OrgOwned):
    """The words with which a customer stops (or resumes) the organization's automated and
    campaign messages, and what is answered to each. An organization without a row uses the
    defaults (`campaigns.keywords.settings_for`); the first save makes its row."""

    class Match(models.TextChoices):
        # "Whole message only": the message, normalized, is the keyword ("Sair!", "sair").
        WHOLE = "whole", _("The whole message is the keyword")
        # "Anywhere": the keyword's words appear together in the message ("quero sair").
        ANYWHERE = "anywhere", _("The keyword appears anywhere in the message")

    opt_out = models.JSONField(default=default_opt_out_keywords)
    opt_in = models.JSONField(default=default_opt_in_keywords)
    match = models.CharField(max_length=16, choices=Match.choices, default=Match.WHOLE)
    # Blank: no confirmation is sent.
    opt_out_reply = models.TextField(blank=True, default=DEFAULT_OPT_OUT_REPLY)
    opt_in_reply = models.TextField(blank=True, default=DEFAULT_OPT_IN_REPLY)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="one_keywords_per_org")
        ]
