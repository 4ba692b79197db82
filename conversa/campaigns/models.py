from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from conversa.accounts.models import Member, OrgOwned
from conversa.inbox.models import Contact


class Campaign(OrgOwned):
    """Outreach to an audience under a policy. Only consented contacts ever receive it."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        FINISHED = "finished", _("Finished")

    name = models.CharField(max_length=200)
    template = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


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

    class Meta:
        indexes = [
            models.Index(fields=["contact", "purpose", "-recorded_at"], name="consent_latest")
        ]

    def __str__(self) -> str:
        return f"{self.purpose}: {'granted' if self.granted else 'withdrawn'}"
