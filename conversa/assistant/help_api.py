"""The assistant's help for agents in a conversation (`/api/conversations/{id}/assistant/…`:
rewrite, translate, summary, classification) and the AI log (`/api/assistant/outputs`, their
ratings and accuracy; the summaries setting). A model that cannot answer is a JSON refusal with
its code (502 model_unavailable, 429 budget_spent, 503 model_paused, 409 model_not_configured);
a conversation the member may not work on is a 404."""

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Field, Query, Router, Schema
from ninja.responses import Status
from pydantic import ConfigDict

from conversa.accounts.scoping import get_for_org_or_404
from conversa.assistant import activity, helpers, llm, outputs, suggestions
from conversa.assistant.models import AssistantOutput
from conversa.assistant.services import must_administer
from conversa.bounds import Id
from conversa.errors import Refused
from conversa.inbox.access import conversation_for
from conversa.inbox.models import Message

router = Router(tags=["assistant help"])

Style = Literal["friendlier", "shorter", "spelling"]
Language = Literal["pt-BR", "en", "es"]
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class OutputOut(Schema):
    id: int
    kind: str
    outcome: str
    text: str
    conversation_id: int | None
    created_at: datetime
    created_by_id: int | None
    rating: str
    model_call_id: int | None


class RewriteIn(Schema):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=helpers.MAX_TEXT)
    style: Style


class TranslateIn(Schema):
    """A draft (`text`) or one of the conversation's messages (`message_id`), not both."""

    model_config = ConfigDict(extra="forbid")

    language: Language
    text: str | None = Field(None, min_length=1, max_length=helpers.MAX_TEXT)
    message_id: Id | None = None


class SummaryOut(Schema):
    output: OutputOut
    note_id: int


class ClassificationOut(Schema):
    sentiment: Literal["positive", "neutral", "negative"]
    topic: str
    # The organization's tag named like the topic (any case), if there is one.
    tag_id: int | None
    # Whether the conversation has that tag already.
    tagged: bool
    output: OutputOut


class TopicTagOut(Schema):
    id: int
    name: str


def classification_out(found: helpers.Classification) -> dict:
    return {
        "sentiment": found.sentiment,
        "topic": found.topic,
        "tag_id": found.tag.pk if found.tag else None,
        "tagged": found.tagged,
        "output": found.output,
    }


@router.post("/conversations/{conversation_id}/assistant/rewrite", response=OutputOut)
def rewrite(request: HttpRequest, conversation_id: Id, payload: RewriteIn):
    """A draft rewritten friendlier, shorter or with its spelling fixed: the output's `text`."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    return helpers.rewrite(
        conversation, text=payload.text, style=payload.style, acting_member=request.member
    )


@router.post("/conversations/{conversation_id}/assistant/translate", response=OutputOut)
def translate(request: HttpRequest, conversation_id: Id, payload: TranslateIn):
    """A draft or a message of the conversation translated into pt-BR, en or es."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    message = None
    if payload.message_id is not None:
        message = get_for_org_or_404(
            request.org, Message, pk=payload.message_id, conversation=conversation
        )
    elif payload.text is None:
        raise Refused(gettext("Give a text or a message to translate."), field="text")
    return helpers.translate(
        conversation,
        language=payload.language,
        text=payload.text or "",
        message=message,
        acting_member=request.member,
    )


@router.post("/conversations/{conversation_id}/assistant/summary", response=SummaryOut)
def summarize(request: HttpRequest, conversation_id: Id):
    """A summary of the conversation's latest messages, kept as a private note."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    output, note = helpers.summarize(conversation, acting_member=request.member)
    return {"output": output, "note_id": note.pk}


@router.post("/conversations/{conversation_id}/assistant/suggestion", response=OutputOut)
def suggest(request: HttpRequest, conversation_id: Id):
    """A reply suggested from the persona and the knowledge, for the agent to edit and send:
    the output's `text` (nothing is sent)."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    return suggestions.suggest(conversation, acting_member=request.member)


@router.post(
    "/conversations/{conversation_id}/assistant/classification", response=ClassificationOut
)
def classify(request: HttpRequest, conversation_id: Id):
    """The conversation's sentiment and topic, from its latest messages."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    return classification_out(helpers.classify(conversation, acting_member=request.member))


@router.get(
    "/conversations/{conversation_id}/assistant/classification",
    response={200: ClassificationOut, 204: None},
)
def latest_classification(request: HttpRequest, conversation_id: Id):
    """The conversation's latest sentiment and topic; 204 when it was never classified."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    helpers.must_help(request.member, conversation)
    found = helpers.latest_classification(conversation)
    return classification_out(found) if found else Status(204, None)


@router.post("/conversations/{conversation_id}/assistant/classification/tag", response=TopicTagOut)
def accept_topic(request: HttpRequest, conversation_id: Id):
    """Put the latest topic on the conversation as a tag (a new tag: supervisors and up)."""
    conversation = conversation_for(request.org, request.member, conversation_id)
    return helpers.accept_topic(conversation, acting_member=request.member)


class LoggedOutputOut(OutputOut):
    persona_id: int | None
    # What it was asked, customers' words included: owners and admins only (null otherwise).
    question: str | None
    passages: list[dict]
    reason: str
    rated_by_id: int | None
    rated_at: datetime | None
    tokens: int | None
    latency_ms: int | None


class OutputPage(Schema):
    count: int
    items: list[LoggedOutputOut]


class OutputFilters(Schema):
    kind: Literal[tuple(AssistantOutput.Kind.values)] | None = None  # type: ignore[valid-type]
    outcome: Literal[tuple(AssistantOutput.Outcome.values)] | None = None  # type: ignore[valid-type]
    rating: Literal["good", "bad", "none"] | None = None
    limit: int = Field(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(0, ge=0, le=1_000_000)


def logged(output: AssistantOutput, questions: bool) -> dict:
    call = output.model_call
    return {
        **{name: getattr(output, name) for name in OutputOut.model_fields},
        "persona_id": output.persona_id,
        "question": output.question if questions else None,
        "passages": output.passages,
        "reason": output.reason,
        "rated_by_id": output.rated_by_id,
        "rated_at": output.rated_at,
        "tokens": call.tokens if call else None,
        "latency_ms": call.latency_ms if call else None,
    }


@router.get("/assistant/outputs", response=OutputPage)
def list_outputs(request: HttpRequest, filters: Query[OutputFilters]):
    """The AI log, newest first (owners, admins, supervisors); `question` only for owners and
    admins."""
    rows = activity.outputs_for(
        request.org,
        request.member,
        kind=filters.kind or "",
        outcome=filters.outcome or "",
        rating=filters.rating or "",
    )
    questions = activity.may_read_questions(request.member)
    page = rows[filters.offset : filters.offset + filters.limit]
    return {"count": rows.count(), "items": [logged(output, questions) for output in page]}


class RatingIn(Schema):
    model_config = ConfigDict(extra="forbid")

    # "" takes the rating back.
    rating: Literal["good", "bad", ""]


@router.post("/assistant/outputs/{output_id}/rating", response=OutputOut)
def rate(request: HttpRequest, output_id: Id, payload: RatingIn):
    """Rate an output good or bad (anyone who may see its conversation)."""
    output = get_for_org_or_404(request.org, AssistantOutput, pk=output_id)
    return outputs.rate_output(output, rating=payload.rating, acting_member=request.member)


class PeriodOut(Schema):
    days: int
    rated: int
    good: int
    # Good among rated, 0–1; null when nothing was rated.
    accuracy: float | None


class KindAccuracyOut(Schema):
    # "" for all kinds together.
    kind: str
    periods: list[PeriodOut]


@router.get("/assistant/accuracy", response=list[KindAccuracyOut])
def accuracy(request: HttpRequest):
    """The share of rated outputs rated good, per kind, over the last 7 and 30 days."""
    return [
        {
            "kind": row.kind,
            "periods": [
                {"days": days, "rated": a.rated, "good": a.good, "accuracy": a.share}
                for days, a in row.periods
            ],
        }
        for row in activity.accuracy_by_kind(request.org, request.member)
    ]


class SummarySettings(Schema):
    model_config = ConfigDict(extra="forbid")

    on_transfer: bool
    on_resolve: bool


@router.get("/assistant/summaries", response=SummarySettings)
def get_summary_settings(request: HttpRequest):
    """Whether the assistant writes a summary note at transfer and at resolve (owners and
    admins)."""
    must_administer(request.member)
    row = llm.settings_row(request.org)
    return {"on_transfer": row.summarize_on_transfer, "on_resolve": row.summarize_on_resolve}


@router.put("/assistant/summaries", response=SummarySettings)
def put_summary_settings(request: HttpRequest, payload: SummarySettings):
    """Turn the summaries at transfer and at resolve on or off (owners and admins)."""
    row = helpers.update_summary_settings(
        request.org,
        on_transfer=payload.on_transfer,
        on_resolve=payload.on_resolve,
        acting_member=request.member,
    )
    return {"on_transfer": row.summarize_on_transfer, "on_resolve": row.summarize_on_resolve}
