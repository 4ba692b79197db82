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
