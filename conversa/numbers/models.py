import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from conversa.accounts.models import OrgOwned
from conversa.crypto import EncryptedField


def new_webhook_key() -> str:
    return secrets.token_urlsafe(12)


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


# What a business user reads about a connection the provider explained: a word for the chip,
# and the next step to take.
CONNECTION_REASONS = {
    "logged_out": (
        _("Logged out"),
        _("The WhatsApp session was ended on the phone. Scan a new QR code to connect again."),
    ),
    "banned": (
        _("Banned by WhatsApp"),
        _(
            "WhatsApp blocked this number. Contact WhatsApp support to ask for a review; "
            "nothing can be sent from it until then."
        ),
    ),
    "suspended": (
        _("Suspended by WhatsApp"),
        _(
            "WhatsApp suspended this number for a while. Wait until the suspension ends, "
            "then scan a new QR code."
        ),
    ),
    "refused": (
        _("Refused"),
        _(
            "WhatsApp refused the connection, or nobody scanned the QR code in time. "
            "Wait a few minutes, then scan again."
        ),
    ),
    "reconnecting": (
        _("Reconnecting"),
        _("The connection dropped for a moment and is coming back by itself. Please wait."),
    ),
}


class Number(OrgOwned):
    """One WhatsApp number connected through a provider."""

    class Provider(models.TextChoices):
        SANDBOX = "sandbox", _("Sandbox")
        EVOLUTION = "evolution", _("Evolution API")
        CLOUD = "cloud", _("WhatsApp Cloud API")

    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        CONNECTING = "connecting", _("Connecting")
        CONNECTED = "connected", _("Connected")
        DISCONNECTED = "disconnected", _("Disconnected")
        # Deleted by a person: gone from the provider, kept here for its conversations' history.
        REMOVED = "removed", _("Removed")

    name = models.CharField(max_length=120)
    provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.SANDBOX)
    # The number's name on the provider's side (Evolution's instanceName).
    provider_name = models.CharField(max_length=120)
    # The provider's per-number token (Evolution's `hash`); empty means the global key is used.
    provider_token = EncryptedField(blank=True)
    # Evolution: the server this number lives on and its global API key; empty means the
    # server configured in the environment (EVOLUTION_URL, EVOLUTION_API_KEY).
    base_url = models.URLField(blank=True)
    api_key = EncryptedField(blank=True)
    phone_number = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    # Why the connection is as it is when the provider said (CONNECTION_REASONS' keys).
    connection_reason = models.CharField(max_length=16, blank=True)
    paused = models.BooleanField(default=False)
    health_score = models.PositiveSmallIntegerField(default=100)
    cooldown_until = models.DateTimeField(null=True, blank=True)
    # Sends per clock hour and per day in the organization's time zone; 0 means unlimited.
    hourly_quota = models.PositiveIntegerField(default=200)
    daily_quota = models.PositiveIntegerField(default=1000)
    # Public part of the webhook URL (/webhooks/<provider>/<webhook_key>).
    webhook_key = models.CharField(max_length=32, unique=True, default=new_webhook_key)
    # The webhook URL last registered with the provider (empty: unknown, e.g. a Cloud API
    # number, whose webhook is set in Meta's dashboard).
    webhook_url = models.CharField(max_length=500, blank=True)
    # Sent back by the provider in a header and compared in constant time.
    webhook_secret = EncryptedField(default=new_webhook_secret)
    # Cloud API: the Meta app's secret that signs webhooks (X-Hub-Signature-256), and the token
    # Meta's subscription handshake must present. For Cloud numbers `provider_name` is the phone
    # number id and `provider_token` the access token.
    app_secret = EncryptedField(blank=True)
    verify_token = EncryptedField(blank=True, default=new_webhook_secret)
    # The latest QR the provider offered for pairing (its text; the page draws it).
    qr_code = models.TextField(blank=True)
    qr_updated_at = models.DateTimeField(null=True, blank=True)
    # The circuit breaker: consecutive failed sends, and until when sending is held off.
    breaker_failures = models.PositiveIntegerField(default=0)
    breaker_open_until = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # When a webhook last arrived for it, to within webhooks.HEARD_RESOLUTION
    # (`services.webhooks_arrived`): what the cards' silence warning reads.
    last_webhook_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_name"], name="number_unique_provider_name"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def status_label(self) -> str:
        """The connection in a word: the provider's reason when it gave one."""
        if self.status in (self.Status.CONNECTED, self.Status.REMOVED):
            return self.get_status_display()
        reason = CONNECTION_REASONS.get(self.connection_reason)
        return str(reason[0]) if reason else self.get_status_display()

    @property
    def next_step(self) -> str:
        """What to do about the connection, when the provider said why it is not open."""
        if self.status in (self.Status.CONNECTED, self.Status.REMOVED):
            return ""
        reason = CONNECTION_REASONS.get(self.connection_reason)
        return str(reason[1]) if reason else ""

    @property
    def breaker_state(self) -> str:
        """closed (sending), open (held off after repeated failures), or half_open (the hold
        has ended: the next send decides whether it closes or opens again)."""
        if self.breaker_open_until is None:
            return "closed"
        return "open" if self.breaker_open_until > timezone.now() else "half_open"
