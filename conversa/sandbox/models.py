"""The simulator's own records: what an Evolution server or Meta keeps for a number, and its
ledger of messages. Global (not an organization's): the simulator plays WhatsApp itself."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The connection states as the page says them (the stored ones are Evolution's own words).
STATE_LABELS = {
    "open": _("connected"),
    "connecting": _("waiting for a scan"),
    "close": _("not connected"),
}


class SandboxInstance(models.Model):
    """The simulator's own record of a number (what an Evolution server keeps). Global."""

    # The protocol this twin speaks: an Evolution API instance, or a Cloud API phone number
    # (then `name` is its phone number id and `token` its access token).
    protocol = models.CharField(max_length=16, default="evolution")
    name = models.CharField(max_length=120, unique=True)
    token = models.CharField(max_length=64)
    # Whose number it is, opaque to the simulator (Conversa: the organization's id; tenants.py).
    # Empty: created with the global key, the install's own; no member's page shows it.
    tenant = models.CharField(max_length=64, blank=True, db_index=True)
    # Cloud API: signs webhooks with X-Hub-Signature-256.
    app_secret = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=16, default="close")
    owner_phone = models.CharField(max_length=20, blank=True)
    # The QR on show while `connecting`, and how many were shown since the last scan.
    qr_code = models.CharField(max_length=200, blank=True)
    qr_count = models.PositiveIntegerField(default=0)
    # The webhook as Evolution keeps it (/webhook/set): empty `events` means every event.
    webhook_enabled = models.BooleanField(default=True)
    webhook_url = models.CharField(max_length=500, blank=True)
    webhook_headers = models.JSONField(default=dict, blank=True)
    webhook_events = models.JSONField(default=list, blank=True)
    webhook_by_events = models.BooleanField(default=False)
    webhook_base64 = models.BooleanField(default=False)
    # The fault injector: what goes wrong with this number's sends, on purpose.
    latency_ms = models.PositiveIntegerField(default=0)
    failure_rate = models.FloatField(default=0.0)  # answers 503, nothing accepted
    timeout_rate = models.FloatField(default=0.0)  # never answers, nothing accepted
    hang_rate = models.FloatField(default=0.0)  # accepts, then never answers (the ambiguous case)
    # Webhook disorder, on purpose: the share of webhooks sent twice, and the most extra
    # random delay a webhook gets (so later events can overtake earlier ones).
    duplicate_rate = models.FloatField(default=0.0)
    reorder_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # Its table from when the simulator lived in the providers app.
        db_table = "providers_sandboxinstance"

    def __str__(self) -> str:
        return self.name

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)


class SandboxMessage(models.Model):
    """A message in the simulator's ledger: every send it accepted, every customer message."""

    instance = models.ForeignKey(SandboxInstance, on_delete=models.CASCADE, related_name="messages")
    chat_phone = models.CharField(max_length=20)
    customer_name = models.CharField(max_length=120, blank=True)
    # True when the business sent it (Evolution's fromMe).
    from_me = models.BooleanField()
    # text, or the media a customer sent (image, document, audio); `text` is then its caption.
    kind = models.CharField(max_length=16, default="text")
    message_id = models.CharField(max_length=64, unique=True)
    text = models.TextField()
    status = models.CharField(max_length=16, default="PENDING")
    reference = models.CharField(max_length=128, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The message as its protocol carries it. Evolution: {"key", "message", "messageType",
    # "pushName", "source", "contextInfo"?} as the server stores it (findMessages answers it).
    # Empty for rows written before the sandbox kept it.
    content = models.JSONField(default=dict, blank=True)
    # The customer's WhatsApp linked id when the chat is addressed by `@lid`.
    lid = models.CharField(max_length=40, blank=True)
    # Typed on the business's own phone (an echo with fromMe), not sent through the API.
    from_phone = models.BooleanField(default=False)
    # A reaction row points at the message it reacts to.
    target_id = models.CharField(max_length=64, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "providers_sandboxmessage"
        ordering = ["created_at", "id"]


class SandboxMedia(models.Model):
    """A file on the Graph side: uploaded by the business (POST /{phone id}/media), or sent by
    a customer. Served by id (GET /{media id}) and its URL, with the number's token."""

    # A file larger than WhatsApp's largest (a 100 MB document) is refused before it is kept.
    MAX_BYTES = 100 * 1024 * 1024

    instance = models.ForeignKey(SandboxInstance, on_delete=models.CASCADE, related_name="media")
    # Numeric, like Meta's: clients tell a media id from a URL or a path by its digits.
    media_id = models.CharField(max_length=20, unique=True)
    content = models.BinaryField()
    mime_type = models.CharField(max_length=100)
    file_name = models.CharField(max_length=240, blank=True)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    # The ledger message that carries it (a customer's media, or a business send by id/link);
    # what the customer page shows of a business's media send.
    message_id = models.CharField(max_length=64, blank=True, db_index=True)
    # A business send by `link`: the sandbox keeps the address, it never fetches it.
    link = models.URLField(max_length=1000, blank=True)
    # The fault injector for downloads: this many next lookups (GET /{media id}) answer 503.
    fail_next = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)


class SandboxTemplate(models.Model):
    """A message template approved for a Cloud number (beyond the ones every number knows,
    graph.DEFAULT_TEMPLATES): sending any other name or language is Meta's 132001."""

    instance = models.ForeignKey(
        SandboxInstance, on_delete=models.CASCADE, related_name="templates"
    )
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=16)
    # marketing, utility or authentication: what the status webhooks' pricing says.
    category = models.CharField(max_length=16, default="utility")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "name", "language"], name="sandbox_template_unique"
            )
        ]


class SandboxMessageMedia(models.Model):
    """Evolution's side: the bytes of a media message the sandbox carried (either way), kept so the customer
    page can show them and getBase64FromMediaMessage can answer. Bounded per number: the
    oldest files are forgotten first (evolution_api.MEDIA_KEPT_PER_NUMBER)."""

    message = models.OneToOneField(SandboxMessage, on_delete=models.CASCADE, related_name="media")
    data = models.BinaryField()
    mime_type = models.CharField(max_length=120)
    file_name = models.CharField(max_length=255, blank=True)
    size = models.PositiveIntegerField()
    # The fault injector for downloads: this many next getBase64FromMediaMessage answer 503.
    fail_next = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)


class SandboxModelScript(models.Model):
    """What the simulated model does next for one caller (a tenant's key, or "" for the global
    key): replies to give in order, and faults to answer with first. Global, like the rest of
    the simulator; a row is made on first use."""

    tenant = models.CharField(max_length=64, unique=True, blank=True)
    # The next `fail_next` calls answer `fail_with`: an HTTP status (429, 500, 503…) or 0 for
    # "never answers" (held SANDBOX_HANG_SECONDS, longer than a client waits).
    fail_next = models.PositiveIntegerField(default=0)
    fail_with = models.PositiveSmallIntegerField(default=503)
    # Seconds a 429 or 503 asks the client to wait (its Retry-After header); None: no header.
    retry_after = models.PositiveIntegerField(null=True, blank=True)
    # Replies given, one per call, before the model goes back to its own deterministic answer.
    replies = models.JSONField(default=list, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    # Calls answered (any outcome): tests see how many times the model was reached.
    calls = models.PositiveIntegerField(default=0)


class SandboxHookBin(models.Model):
    """The simulator's request bin: a customer system's receiver for Conversa's outbound
    webhooks, one per tenant, at an unguessable address. With the endpoint's secret pasted in,
    it verifies each delivery's signature as a receiver would."""

    tenant = models.CharField(max_length=64, unique=True, blank=True)
    key = models.CharField(max_length=64, unique=True)
    secret = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)


class SandboxHookRequest(models.Model):
    bin = models.ForeignKey(SandboxHookBin, on_delete=models.CASCADE, related_name="requests")
    received_at = models.DateTimeField(default=timezone.now)
    headers = models.JSONField(default=dict)
    body = models.TextField(blank=True)
    # None: no secret to check with; else whether a signature matched (and was fresh).
    verified = models.BooleanField(null=True)

    class Meta:
        indexes = [models.Index(fields=["bin", "-received_at"])]
