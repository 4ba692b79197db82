from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from conversa.accounts.models import Member, OrgOwned
from conversa.crypto import EncryptedField

# Bounds of a persona (the page, the API and the service agree).
MAX_PERSONAS = 50
MAX_PERSONA_NAME = 120
MAX_INSTRUCTIONS = 4000
MAX_FACTS = 4000
MAX_GREETING = 300
# Topics it must not handle and phrases that ask for a person: each a short phrase.
MAX_PHRASES = 40
MAX_PHRASE = 100
MAX_TURNS = 50
# What a customer writes, in any case and with or without accents, to ask for a person.
DEFAULT_HANDOFF_PHRASES = [
    "falar com atendente",
    "atendente",
    "atendimento humano",
    "humano",
    "falar com uma pessoa",
    "human",
    "agent",
    "talk to a person",
    "real person",
]


def default_handoff_phrases() -> list[str]:
    return list(DEFAULT_HANDOFF_PHRASES)


class Persona(OrgOwned):
    """How the assistant speaks for an organization when it drafts or sends replies: its
    instructions and tone, the language it answers in, its greeting for each part of the day
    (in the organization's time zone), what it may say of the business beyond the knowledge,
    the topics it leaves to people, and when it hands a conversation to a person
    (assistant.answers decides, before any call to the model)."""

    class Tone(models.TextChoices):
        FRIENDLY = "friendly", _("Friendly")
        PROFESSIONAL = "professional", _("Professional")
        CONCISE = "concise", _("Short and direct")

    class LanguagePolicy(models.TextChoices):
        CUSTOMER = "customer", _("The customer's language")
        FIXED = "fixed", _("Always one language")

    class Language(models.TextChoices):
        PORTUGUESE = "pt-BR", _("Portuguese (Brazil)")
        ENGLISH = "en", _("English")

    name = models.CharField(max_length=MAX_PERSONA_NAME)
    instructions = models.TextField(blank=True)
    active = models.BooleanField(default=False)
    tone = models.CharField(max_length=20, choices=Tone.choices, default=Tone.FRIENDLY)
    language_policy = models.CharField(
        max_length=10, choices=LanguagePolicy.choices, default=LanguagePolicy.CUSTOMER
    )
    # The language of every answer when the policy is FIXED; when it is CUSTOMER, the one it
    # falls back to when the customer's words do not tell.
    language = models.CharField(
        max_length=10, choices=Language.choices, default=Language.PORTUGUESE
    )
    # Said at the start of a conversation's first answer, by the local time of day ("" none).
    greeting_morning = models.CharField(max_length=MAX_GREETING, blank=True)
    greeting_afternoon = models.CharField(max_length=MAX_GREETING, blank=True)
    greeting_evening = models.CharField(max_length=MAX_GREETING, blank=True)
    # What it may tell customers about the business besides the knowledge (address, hours…).
    facts = models.TextField(blank=True)
    # Short phrases; a customer's message that holds one is left to a person.
    forbidden_topics = models.JSONField(default=list, blank=True)
    handoff_phrases = models.JSONField(default=default_handoff_phrases, blank=True)
    # Hand off when no passage of the knowledge answers the question (else say it does not know).
    handoff_when_unknown = models.BooleanField(default=True)
    # Hand off once it has answered this many times in a conversation (None: never for that).
    max_turns = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["organization", "name"], name="persona_name")]

    def __str__(self) -> str:
        return self.name


class KnowledgeSource(OrgOwned):
    """Something the assistant may say, as the organization wrote or uploaded it: a short text
    (Markdown headings allowed), a list of questions and answers, or a document's text. It is
    split into `KnowledgePassage`s when saved (assistant.knowledge); a disabled source keeps
    its passages but none of them is retrieved."""

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        FAQ = "faq", _("Questions and answers")
        DOCUMENT = "document", _("Document")

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The text as written; for a document, the text read from its file.
    body = models.TextField()
    file_name = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveIntegerField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["organization", "title"], name="knowledge_source_title")]

    def __str__(self) -> str:
        return self.title


class KnowledgePassage(OrgOwned):
    """One retrievable piece of a source: a section's paragraphs, or one question with its
    answer. `folded` is the heading and text in lower case without accents, what the search
    reads on both databases: on PostgreSQL two generated tsvector columns (`portuguese`,
    `english`) are generated from it, on SQLite an FTS5 table kept by triggers
    (migration 0004 of this app); neither is a model field."""

    source = models.ForeignKey(KnowledgeSource, on_delete=models.CASCADE, related_name="passages")
    position = models.PositiveIntegerField()
    heading = models.CharField(max_length=300, blank=True)
    text = models.TextField()
    folded = models.TextField()

    class Meta:
        ordering = ["source_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "position"], name="knowledge_passage_position"
            )
        ]


# Bounds of what an organization may set (the page, the API and the service agree).
MAX_BASE_URL_LENGTH = 500
MAX_MODEL_LENGTH = 200
MAX_API_KEY_LENGTH = 1000
MAX_DAILY_TOKEN_BUDGET = 1_000_000_000


class ModelSettings(OrgOwned):
    """The organization's own model server for the assistant, where it chose one (empty
    fields: the environment's defaults, conversa/assistant/llm.py), its daily token budget,
    and its circuit breaker's state, shared by every process through this row."""

    base_url = models.CharField(max_length=MAX_BASE_URL_LENGTH, blank=True)
    model = models.CharField(max_length=MAX_MODEL_LENGTH, blank=True)
    # Write-only: pages and the API say whether one is set, never what it is.
    api_key = EncryptedField(blank=True)
    # None: ASSISTANT_DAILY_TOKEN_BUDGET.
    daily_token_budget = models.PositiveIntegerField(null=True, blank=True)
    # Failed calls in a row, and until when no call is made after too many (llm.Breaker).
    breaker_failures = models.PositiveIntegerField(default=0)
    breaker_open_until = models.DateTimeField(null=True, blank=True)
    # The assistant writes a summary as a private note when a conversation is transferred,
    # or resolved (each a model call: off unless the organization turns it on).
    summarize_on_transfer = models.BooleanField(default=False)
    summarize_on_resolve = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="one_model_settings_per_org")
        ]


# What a model call keeps of the messages it sent: the last ones, each cut (the AI log shows
# them to owners and admins).
MAX_KEPT_MESSAGES = 40
MAX_KEPT_MESSAGE_CHARS = 4000


class ModelCall(OrgOwned):
    """One call to the model (after its retries): what it was for, the tokens it used, counted
    against the organization's budget for `day`, what they cost, and the messages it sent (the
    system prompt and the customers' words: owners and admins only). Never logged."""

    created_at = models.DateTimeField(default=timezone.now)
    # The organization's local date when the call was made: the budget's day.
    day = models.DateField()
    # What asked for it: "connection_test", later "auto_reply", "suggestion", "summary"…
    purpose = models.CharField(max_length=40)
    model = models.CharField(max_length=MAX_MODEL_LENGTH)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    # The server reported no usage (some do not when streaming): the counts are estimated.
    estimated = models.BooleanField(default=False)
    streamed = models.BooleanField(default=False)
    latency_ms = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=1)
    # "" when it answered; else the error's code (model_unavailable, model_refused…).
    error = models.CharField(max_length=40, blank=True)
    # [{"role", "content"}] as sent, bounded (MAX_KEPT_MESSAGES, MAX_KEPT_MESSAGE_CHARS).
    messages = models.JSONField(default=list, blank=True)
    # US dollars, from ASSISTANT_PRICES when the call was made; None: the model has no price.
    cost = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "day"], name="modelcall_org_day")]

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


# The most text an output keeps of what it was asked, and of what it wrote.
MAX_OUTPUT_QUESTION = 4000
MAX_OUTPUT_TEXT = 8000


class AssistantOutput(OrgOwned):
    """One thing the assistant wrote, whatever it was for: the AI log. Each row says what it was
    asked, what it answered, the knowledge passages it was given (as they read then: a source
    edited later does not change what an answer was based on), the model call it cost, and how
    a person rated it; accuracy is the share of rated outputs rated good."""

    class Kind(models.TextChoices):
        REPLY = "reply", _("Reply to a customer")
        TEST_CHAT = "test_chat", _("Test chat")
        SUGGESTION = "suggestion", _("Suggested reply")
        REWRITE = "rewrite", _("Rewrite")
        TRANSLATION = "translation", _("Translation")
        SUMMARY = "summary", _("Summary")
        CLASSIFICATION = "classification", _("Sentiment and topic")

    class Outcome(models.TextChoices):
        ANSWERED = "answered", _("Answered")
        # No passage was relevant: the assistant said it does not know rather than invent.
        DID_NOT_KNOW = "did_not_know", _("Did not know")
        HANDED_OFF = "handed_off", _("Handed to a person")
        FAILED = "failed", _("Failed")

    class Rating(models.TextChoices):
        GOOD = "good", _("Good")
        BAD = "bad", _("Bad")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.ANSWERED)
    persona = models.ForeignKey(
        Persona, null=True, blank=True, on_delete=models.SET_NULL, related_name="outputs"
    )
    conversation = models.ForeignKey(
        "inbox.Conversation",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="assistant_outputs",
    )
    # What it was asked: the customer's messages, or the text an agent asked to rewrite.
    question = models.TextField(blank=True)
    text = models.TextField(blank=True)
    # [{"passage", "source", "title", "heading", "text"}], in the order they were given.
    passages = models.JSONField(default=list, blank=True)
    # Why it handed off or failed, in words (the private note says the same).
    reason = models.CharField(max_length=300, blank=True)
    model_call = models.ForeignKey(
        ModelCall, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What it sent: a reply's message to the customer, through the Gate and the engine.
    intent = models.ForeignKey(
        "engine.MessageIntent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The member who asked for it (None: the assistant acted on its own).
    created_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    rating = models.CharField(max_length=4, choices=Rating.choices, blank=True)
    rated_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rated_at = models.DateTimeField(null=True, blank=True)

    @property
    def gate_decision(self):
        """The Gate's latest decision on what it sent (None: nothing was sent)."""
        if self.intent_id is None:
            return None
        decisions = list(self.intent.decisions.all())
        return decisions[-1] if decisions else None

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="assistant_output_recent"),
            models.Index(fields=["conversation", "-created_at"], name="assistant_output_conv"),
        ]


# The longest a customer's quick messages are waited for before one answer to them all.
MAX_AUTO_REPLY_WAIT_SECONDS = 120


class AutoReply(OrgOwned):
    """When the assistant answers customers on its own, for one number or one queue (a queue's
    rule comes first for its conversations): as which persona, in which circumstances, and how
    long it waits for a customer's further quick messages before answering them together."""

    class When(models.TextChoices):
        ALWAYS = "always", _("Always")
        OUTSIDE_HOURS = "outside_hours", _("Outside business hours")
        NOBODY_ONLINE = "nobody_online", _("When nobody in the team is online")
        FIRST_MESSAGE = "first_message", _("Only the first message of a conversation")

    number = models.ForeignKey(
        "instances.Number", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    queue = models.ForeignKey(
        "inbox.Queue", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    persona = models.ForeignKey(Persona, on_delete=models.PROTECT, related_name="auto_replies")
    when = models.CharField(max_length=16, choices=When.choices, default=When.ALWAYS)
    wait_seconds = models.PositiveSmallIntegerField(default=8)
    # Before each answer the model reads the customer's mood (one more call): an unhappy
    # customer goes to a person instead.
    handoff_when_unhappy = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)
    updated_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(number__isnull=True, queue__isnull=False)
                | models.Q(number__isnull=False, queue__isnull=True),
                name="auto_reply_for_a_number_or_a_queue",
            ),
            models.UniqueConstraint(
                fields=["organization", "number"],
                condition=models.Q(number__isnull=False),
                name="one_auto_reply_per_number",
            ),
            models.UniqueConstraint(
                fields=["organization", "queue"],
                condition=models.Q(queue__isnull=False),
                name="one_auto_reply_per_queue",
            ),
        ]


class AssistantSession(OrgOwned):
    """The assistant in one conversation: answering (its next answer due at `due_at`, after the
    customer's quick messages), handed to the team, or stopped for good because a person took
    the conversation over; only a person turns it back on (`autoreply.resume`)."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Answering")
        HANDED_OFF = "handed_off", _("Handed to the team")
        TAKEN_OVER = "taken_over", _("Stopped: a person took over")

    conversation = models.OneToOneField(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="assistant_session"
    )
    auto_reply = models.ForeignKey(
        AutoReply, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.ACTIVE)
    # The customer wrote and no answer was given yet: when it is due.
    due_at = models.DateTimeField(null=True, blank=True)
    # A worker took the due answer until then; past it (the worker died), another takes it.
    claimed_until = models.DateTimeField(null=True, blank=True)
    # The newest customer message answered (or handed off): its answer's idempotency key.
    answered_message_id = models.BigIntegerField(null=True, blank=True)
    turns = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    # Why it stopped, in words (handed off: the reason the private note gives).
    reason = models.CharField(max_length=300, blank=True)
    stopped_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "due_at"], name="assistant_session_due")]
