"""`/api/assistant/personas`: the assistant's personas (owners and admins): list, create, read,
change (a field left out stays), turn on or off, delete; and `POST …/{id}/answer`, the test
chat: a question answered as the persona would, kept in the AI log as a test answer. Another
organization's persona is a 404; a value out of bounds a 422 naming its field."""

from datetime import datetime
from typing import Annotated, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema
from ninja.responses import Status
from pydantic import ConfigDict, StringConstraints

from conversa import cursors
from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.assistant import answers, personas
from conversa.assistant.knowledge import MAX_QUESTION
from conversa.assistant.models import (
    MAX_FACTS,
    MAX_GREETING,
    MAX_INSTRUCTIONS,
    MAX_PERSONA_NAME,
    MAX_PHRASE,
    MAX_PHRASES,
    MAX_TURNS,
    AssistantOutput,
    Persona,
)
from conversa.bounds import Id
from conversa.cursors import Cursor, Limit

router = Router(tags=["assistant personas"])

Phrase = Annotated[str, StringConstraints(max_length=MAX_PHRASE)]
Phrases = Annotated[list[Phrase], Field(max_length=MAX_PHRASES)]
Greeting = Annotated[str, StringConstraints(max_length=MAX_GREETING)]
Tone = Literal["friendly", "professional", "concise"]
Policy = Literal["customer", "fixed"]
Language = Literal["pt-BR", "en"]
Turns = Annotated[int, Field(ge=1, le=MAX_TURNS)]


class PersonaIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_PERSONA_NAME)
    instructions: str = Field("", max_length=MAX_INSTRUCTIONS)
    tone: Tone = "friendly"
    language_policy: Policy = Field(
        "customer", description="customer: the customer's language; fixed: always `language`"
    )
    language: Language = Field(
        "pt-BR", description="The fixed language, or the one used when the customer's is unclear"
    )
    greeting_morning: Greeting = ""
    greeting_afternoon: Greeting = ""
    greeting_evening: Greeting = ""
    facts: str = Field("", max_length=MAX_FACTS, description="One fact a line")
    forbidden_topics: Phrases = Field(
        default_factory=list, description="A question mentioning one is handed to a person"
    )
    handoff_phrases: Phrases | None = Field(
        None,
        description="Words that ask for a person, matched without case or accents; "
        "null: the defaults (pt-BR and English)",
    )
    handoff_when_unknown: bool = True
    max_turns: Turns | None = Field(None, description="Hand off after this many answers")
    active: bool = False


class PersonaChanges(Schema):
    """What to change; a field left out stays."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=MAX_PERSONA_NAME)
    instructions: str | None = Field(None, max_length=MAX_INSTRUCTIONS)
    tone: Tone | None = None
    language_policy: Policy | None = None
    language: Language | None = None
    greeting_morning: Greeting | None = None
    greeting_afternoon: Greeting | None = None
    greeting_evening: Greeting | None = None
    facts: str | None = Field(None, max_length=MAX_FACTS)
    forbidden_topics: Phrases | None = None
    handoff_phrases: Phrases | None = None
    handoff_when_unknown: bool | None = None
    # Null takes the limit away; left out, it stays.
    max_turns: Turns | None = None
    active: bool | None = None


class PersonaOut(Schema):
    id: int
    name: str
    instructions: str
    tone: str
    language_policy: str
    language: str
    greeting_morning: str
    greeting_afternoon: str
    greeting_evening: str
    facts: str
    forbidden_topics: list[str]
    handoff_phrases: list[str]
    handoff_when_unknown: bool
    max_turns: int | None
    active: bool
    created_at: datetime
    updated_at: datetime


class QuestionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION)


class PassageOut(Schema):
    passage: int
    source: int
    title: str
    heading: str
    text: str


class AnswerOut(Schema):
    id: int = Field(description="The AI log entry (rate it good or bad)")
    outcome: Literal["answered", "did_not_know", "handed_off", "failed"]
    text: str
    reason: str = Field(description="Why it handed off, did not know or failed, in words")
    passages: list[PassageOut]
    model_call: int | None


def persona_out(persona: Persona) -> dict:
    return {
        "id": persona.pk,
        **personas.fields_of(persona),
        "active": persona.active,
        "created_at": persona.created_at,
        "updated_at": persona.updated_at,
    }


@router.get("/assistant/personas", response=list[PersonaOut])
def list_personas(
    request: HttpRequest,
    response: HttpResponse,
    cursor: Cursor = None,
    limit: Limit = cursors.DEFAULT_LIMIT,
):
    """The organization's personas by name, a page at a time."""
    personas.must_manage(request.member)
    everyone = scoped(request.org, Persona)
    return [
        persona_out(p)
        for p in cursors.page(
            everyone, order=["name"], cursor=cursor, limit=limit, response=response
        )
    ]


@router.post("/assistant/personas", response={201: PersonaOut})
def create_persona(request: HttpRequest, payload: PersonaIn):
    """Make a persona (off unless `active`); audited."""
    fields = payload.model_dump(exclude={"active"})
    persona = personas.save_persona(request.org, acting_member=request.member, **fields)
    if payload.active:
        personas.set_active(persona, True, acting_member=request.member)
    return Status(201, persona_out(persona))


@router.get("/assistant/personas/{persona_id}", response=PersonaOut)
def get_persona(request: HttpRequest, persona_id: Id):
    personas.must_manage(request.member)
    return persona_out(get_for_org_or_404(request.org, Persona, pk=persona_id))


@router.patch("/assistant/personas/{persona_id}", response=PersonaOut)
def patch_persona(request: HttpRequest, persona_id: Id, payload: PersonaChanges):
    """Change some of a persona's fields, or turn it on or off; audited."""
    personas.must_manage(request.member)
    persona = get_for_org_or_404(request.org, Persona, pk=persona_id)
    given = payload.model_dump(exclude_unset=True)
    active = given.pop("active", None)
    if given:
        fields = personas.fields_of(persona) | given
        personas.save_persona(request.org, acting_member=request.member, persona=persona, **fields)
    if active is not None:
        personas.set_active(persona, active, acting_member=request.member)
    return persona_out(persona)


@router.delete("/assistant/personas/{persona_id}", response={204: None})
def delete_persona(request: HttpRequest, persona_id: Id):
    """Delete a persona; its answers stay in the AI log. Audited."""
    persona = get_for_org_or_404(request.org, Persona, pk=persona_id)
    personas.delete_persona(persona, acting_member=request.member)
    return Status(204, None)


@router.post("/assistant/personas/{persona_id}/answer", response=AnswerOut)
def test_answer(request: HttpRequest, persona_id: Id, payload: QuestionIn):
    """The test chat: `question` answered as the persona would (on or off), nothing sent to
    anyone; kept in the AI log as a test answer. A model that cannot answer gives `failed`
    with the reason, not an error."""
    personas.must_manage(request.member)
    persona = get_for_org_or_404(request.org, Persona, pk=persona_id)
    output = answers.answer(
        persona,
        [answers.Turn(answers.CUSTOMER, payload.question)],
        kind=AssistantOutput.Kind.TEST_CHAT,
        acting_member=request.member,
    )
    return {
        "id": output.pk,
        "outcome": output.outcome,
        "text": output.text,
        "reason": output.reason,
        "passages": output.passages,
        "model_call": output.model_call_id,
    }
