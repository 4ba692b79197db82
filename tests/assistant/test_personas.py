"""Personas: owners and admins make and change them within bounds, audited; phrases are
compared normalized and as whole words."""

import pytest

from conversa.accounts.models import Member, OperationalEvent
from conversa.assistant import personas
from conversa.assistant.models import MAX_PERSONAS, MAX_PHRASES, Persona
from conversa.errors import Forbidden, NotFound, Refused


def make(org, **fields) -> Persona:
    return personas.save_persona(org.org, acting_member=org.owner, **{"name": "Ana", **fields})


def test_a_new_persona_is_off_with_the_default_handoff_phrases(org):
    persona = make(org, instructions="Atenda clientes da padaria.")
    assert not persona.active
    assert "falar com atendente" in persona.handoff_phrases
    assert "human" in persona.handoff_phrases
    assert persona.handoff_when_unknown and persona.max_turns is None
    assert OperationalEvent.objects.filter(organization=org.org, verb="persona.created").exists()


def test_changing_records_the_fields_that_changed_and_keeps_the_phrases(org):
    persona = make(org, handoff_phrases=["gerente"])
    fields = personas.fields_of(persona) | {"tone": "formal"}
    with pytest.raises(Refused) as refused:
        personas.save_persona(org.org, acting_member=org.owner, persona=persona, **fields)
    assert refused.value.field == "tone"
    fields = personas.fields_of(persona) | {
        "tone": Persona.Tone.CONCISE,
        "handoff_phrases": None,
        "max_turns": 3,
    }
    personas.save_persona(org.org, acting_member=org.owner, persona=persona, **fields)
    persona.refresh_from_db()
    assert (persona.tone, persona.handoff_phrases, persona.max_turns) == ("concise", ["gerente"], 3)
    event = OperationalEvent.objects.get(organization=org.org, verb="persona.changed")
    assert event.data["fields"] == ["tone", "max_turns"]
    # Saving the same values again changes and records nothing.
    personas.save_persona(
        org.org, acting_member=org.owner, persona=persona, **personas.fields_of(persona)
    )
    assert (
        OperationalEvent.objects.filter(organization=org.org, verb="persona.changed").count() == 1
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"instructions": "x" * 4001}, "instructions"),
        ({"facts": "x" * 4001}, "facts"),
        ({"greeting_morning": "x" * 301}, "greeting_morning"),
        ({"language": "fr"}, "language"),
        ({"language_policy": "any"}, "language_policy"),
        ({"max_turns": 0}, "max_turns"),
        ({"max_turns": 51}, "max_turns"),
        ({"max_turns": True}, "max_turns"),
        ({"forbidden_topics": ["x" * 101]}, "forbidden_topics"),
        ({"forbidden_topics": ["?!"]}, "forbidden_topics"),
        ({"handoff_phrases": [f"p{n}" for n in range(MAX_PHRASES + 1)]}, "handoff_phrases"),
    ],
)
def test_every_field_is_bounded(org, fields, field):
    with pytest.raises(Refused) as refused:
        make(org, **fields)
    assert refused.value.field == field
    assert not Persona.objects.filter(organization=org.org).exists()


def test_phrases_are_trimmed_and_kept_once(org):
    persona = make(
        org,
        forbidden_topics="  Preço de concorrentes \n\npreco DE concorrentes\nPolítica",
        name="\x00Bia ",
    )
    assert persona.forbidden_topics == ["Preço de concorrentes", "Política"]
    assert persona.name == "Bia"


def test_phrases_match_normalized_whole_words():
    phrases = ["falar com atendente", "agent"]
    assert personas.first_phrase_in(phrases, "Quero FALAR com   atendente!!") == phrases[0]
    assert personas.first_phrase_in(phrases, "Can I talk to an agent?") == "agent"
    assert personas.first_phrase_in(phrases, "Qual a agenda de entregas?") is None
    assert personas.first_phrase_in(["política"], "sobre politica") == "política"


def test_only_active_owners_and_admins_manage_personas(org, other_org):
    with pytest.raises(Forbidden):
        personas.save_persona(org.org, acting_member=org.member(), name="Ana")
    admin = org.member(Member.Role.ADMIN)
    persona = personas.save_persona(org.org, acting_member=admin, name="Ana")
    with pytest.raises(NotFound):
        personas.set_active(persona, True, acting_member=other_org.owner)
    with pytest.raises(NotFound):
        personas.save_persona(org.org, acting_member=other_org.owner, name="Ana")
    admin.is_active = False
    with pytest.raises(Forbidden):
        personas.delete_persona(persona, acting_member=admin)


def test_turning_on_and_off_and_deleting_are_audited(org):
    persona = make(org)
    personas.set_active(persona, True, acting_member=org.owner)
    personas.set_active(persona, True, acting_member=org.owner)  # already on: nothing
    personas.set_active(persona, False, acting_member=org.owner)
    personas.delete_persona(persona, acting_member=org.owner)
    verbs = list(
        OperationalEvent.objects.filter(organization=org.org, verb__startswith="persona.")
        .order_by("id")
        .values_list("verb", flat=True)
    )
    assert verbs == [
        "persona.created",
        "persona.activated",
        "persona.deactivated",
        "persona.deleted",
    ]
    assert not Persona.objects.filter(organization=org.org).exists()


def test_an_organization_has_a_bounded_number_of_personas(org):
    Persona.objects.bulk_create(
        Persona(organization=org.org, name=f"P{n}") for n in range(MAX_PERSONAS)
    )
    with pytest.raises(Refused):
        make(org)
