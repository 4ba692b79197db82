"""Personas: how the assistant speaks for an organization and when it hands a conversation to a
person. Owners and admins create, change, turn on and off and delete them (audited); every
field is bounded here, the one place the page and the API both go through.

Phrases (the topics a persona must not handle, the words that ask for a person) are compared
`normalized`: lower case, without accents, punctuation as spaces, so "Falar com ATENDENTE!"
holds "falar com atendente", and whole words only, so "agent" is not found in "agenda"."""

import re

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.scoping import scoped
from conversa.accounts.services import record, same_org
from conversa.assistant.knowledge import fold
from conversa.assistant.models import (
    MAX_FACTS,
    MAX_GREETING,
    MAX_INSTRUCTIONS,
    MAX_PERSONA_NAME,
    MAX_PERSONAS,
    MAX_PHRASE,
    MAX_PHRASES,
    MAX_TURNS,
    Persona,
    default_handoff_phrases,
)
from conversa.errors import Forbidden, Refused

NOT_WORD = re.compile(r"[^a-z0-9]+")

# The fields a persona's page and API set, in the order the audit lists changes.
FIELDS = (
    "name",
    "instructions",
    "tone",
    "language_policy",
    "language",
    "greeting_morning",
    "greeting_afternoon",
    "greeting_evening",
    "facts",
    "forbidden_topics",
    "handoff_phrases",
    "handoff_when_unknown",
    "max_turns",
)


def normalized(text: str) -> str:
    """`text` as phrases are compared: folded, words separated by one space."""
    return NOT_WORD.sub(" ", fold(text or "")).strip()


def phrase_in(phrase: str, text: str) -> bool:
    """Whether normalized `text` holds normalized `phrase` as whole words."""
    return bool(phrase) and f" {phrase} " in f" {text} "


def first_phrase_in(phrases: list[str], text: str) -> str | None:
    """The first of `phrases` that `text` holds (compared normalized), as it was written."""
    said = normalized(text)
    for phrase in phrases:
        if phrase_in(normalized(phrase), said):
            return phrase
    return None


def must_manage(member: Member) -> None:
    """Refuse (403) unless `member` is an active owner or admin."""
    if not member.is_active or not member.administers:
        raise Forbidden(gettext("Only owners and admins manage the assistant's personas."))


def clean_text(value, *, field: str, most: int, required: bool = False) -> str:
    # PostgreSQL stores no NUL character in text: one from outside is dropped, not a 500.
    text = (value or "").replace("\r\n", "\n").replace("\x00", "").strip()
    if required and not text:
        raise Refused(
            gettext("Give it a name of 1 to %(n)s characters.") % {"n": most}, field=field
        )
    if len(text) > most:
        raise Refused(gettext("At most %(n)s characters.") % {"n": most}, field=field)
    return text


def clean_phrases(values, *, field: str) -> list[str]:
    """Phrases trimmed, each once (compared normalized), none empty; refused when there are
    more than `MAX_PHRASES`, one is longer than `MAX_PHRASE` characters or has no letter or
    digit to compare."""
    if isinstance(values, str):
        values = values.splitlines()
    phrases: list[str] = []
    seen: set[str] = set()
    for value in values or ():
        phrase = " ".join(str(value).replace("\x00", "").split())
        if not phrase:
            continue
        if len(phrase) > MAX_PHRASE:
            raise Refused(
                gettext("A phrase has at most %(n)s characters: “%(phrase)s…”.")
                % {"n": MAX_PHRASE, "phrase": phrase[:40]},
                field=field,
            )
        key = normalized(phrase)
        if not key:
            raise Refused(
                gettext("“%(phrase)s” has no letter or digit to look for.") % {"phrase": phrase},
                field=field,
            )
        if key not in seen:
            seen.add(key)
            phrases.append(phrase)
    if len(phrases) > MAX_PHRASES:
        raise Refused(gettext("At most %(n)s phrases.") % {"n": MAX_PHRASES}, field=field)
    return phrases


def clean_choice(value, choices, *, field: str) -> str:
    if value not in choices.values:
        raise Refused(gettext("Choose one of the options."), field=field)
    return value


def clean_turns(value) -> int | None:
    if value is None or value == "":
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_TURNS:
        raise Refused(
            gettext("A whole number of answers from 1 to %(n)s, or empty for no limit.")
            % {"n": MAX_TURNS},
            field="max_turns",
        )
    return value


def cleaned(
    *,
    name,
    instructions,
    tone,
    language_policy,
    language,
    greeting_morning,
    greeting_afternoon,
    greeting_evening,
    facts,
    forbidden_topics,
    handoff_phrases,
    handoff_when_unknown,
    max_turns,
) -> dict:
    return {
        "name": clean_text(name, field="name", most=MAX_PERSONA_NAME, required=True),
        "instructions": clean_text(instructions, field="instructions", most=MAX_INSTRUCTIONS),
        "tone": clean_choice(tone, Persona.Tone, field="tone"),
        "language_policy": clean_choice(
            language_policy, Persona.LanguagePolicy, field="language_policy"
        ),
        "language": clean_choice(language, Persona.Language, field="language"),
        "greeting_morning": clean_text(
            greeting_morning, field="greeting_morning", most=MAX_GREETING
        ),
        "greeting_afternoon": clean_text(
            greeting_afternoon, field="greeting_afternoon", most=MAX_GREETING
        ),
        "greeting_evening": clean_text(
            greeting_evening, field="greeting_evening", most=MAX_GREETING
        ),
        "facts": clean_text(facts, field="facts", most=MAX_FACTS),
        "forbidden_topics": clean_phrases(forbidden_topics, field="forbidden_topics"),
        "handoff_phrases": clean_phrases(handoff_phrases, field="handoff_phrases"),
        "handoff_when_unknown": bool(handoff_when_unknown),
        "max_turns": clean_turns(max_turns),
    }


def fields_of(persona: Persona) -> dict:
    """A persona's settable fields, as `save_persona` takes them (to change a few of them)."""
    return {name: getattr(persona, name) for name in FIELDS}


def save_persona(
    org: Organization,
    *,
    acting_member: Member,
    persona: Persona | None = None,
    name: str,
    instructions: str = "",
    tone: str = Persona.Tone.FRIENDLY,
    language_policy: str = Persona.LanguagePolicy.CUSTOMER,
    language: str = Persona.Language.PORTUGUESE,
    greeting_morning: str = "",
    greeting_afternoon: str = "",
    greeting_evening: str = "",
    facts: str = "",
    forbidden_topics: list[str] | str = (),
    handoff_phrases: list[str] | str | None = None,
    handoff_when_unknown: bool = True,
    max_turns: int | None = None,
) -> Persona:
    """Create a persona (off until turned on) or change `persona`: every field is replaced.
    `handoff_phrases` None gives a new persona the default phrases (pt-BR and English) and
    keeps a changed one's. Refused, naming the field, for a value out of its bounds, and for
    an organization that has `MAX_PERSONAS` already. Audited: `persona.created`, or
    `persona.changed` with the names of the fields that changed."""
    must_manage(acting_member)
    same_org(acting_member, org.pk)
    if persona is not None:
        same_org(persona, org.pk)
    if handoff_phrases is None:
        handoff_phrases = persona.handoff_phrases if persona else default_handoff_phrases()
    values = cleaned(
        name=name,
        instructions=instructions,
        tone=tone,
        language_policy=language_policy,
        language=language,
        greeting_morning=greeting_morning,
        greeting_afternoon=greeting_afternoon,
        greeting_evening=greeting_evening,
        facts=facts,
        forbidden_topics=forbidden_topics,
        handoff_phrases=handoff_phrases,
        handoff_when_unknown=handoff_when_unknown,
        max_turns=max_turns,
    )
    with transaction.atomic():
        if persona is None:
            if scoped(org, Persona).count() >= MAX_PERSONAS:
                raise Refused(
                    gettext("An organization has at most %(n)s personas: delete one first.")
                    % {"n": MAX_PERSONAS}
                )
            persona = Persona.objects.create(organization=org, **values)
            record(org.pk, "persona.created", persona, actor=acting_member, name=persona.name)
            return persona
        changed = [name for name in FIELDS if getattr(persona, name) != values[name]]
        if not changed:
            return persona
        for field, value in values.items():
            setattr(persona, field, value)
        persona.updated_at = timezone.now()
        persona.save(update_fields=[*changed, "updated_at"])
        record(
            org.pk,
            "persona.changed",
            persona,
            actor=acting_member,
            name=persona.name,
            fields=changed,
        )
    return persona


def set_active(persona: Persona, active: bool, *, acting_member: Member) -> Persona:
    """Turn a persona on (the assistant may answer as it) or off; audited."""
    must_manage(acting_member)
    same_org(persona, acting_member.organization_id)
    if persona.active == active:
        return persona
    persona.active, persona.updated_at = active, timezone.now()
    persona.save(update_fields=["active", "updated_at"])
    verb = "persona.activated" if active else "persona.deactivated"
    record(persona.organization_id, verb, persona, actor=acting_member, name=persona.name)
    return persona


def delete_persona(persona: Persona, *, acting_member: Member) -> None:
    """Delete a persona; the answers it gave stay in the AI log, without it."""
    must_manage(acting_member)
    same_org(persona, acting_member.organization_id)
    with transaction.atomic():
        record(
            persona.organization_id,
            "persona.deleted",
            persona,
            actor=acting_member,
            name=persona.name,
        )
        persona.delete()
