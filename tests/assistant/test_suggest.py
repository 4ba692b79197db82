"""An agent's suggested reply: written by the conversation's persona from the knowledge, kept in
the AI log; refused, saying why, when no persona is on or the persona would not answer."""

import pytest
from django.urls import reverse

from conversa.assistant import knowledge, suggestions
from conversa.assistant.models import AssistantOutput, AutoReply, Persona
from conversa.engine import services as engine
from conversa.errors import Conflict, Forbidden
from conversa.inbox.models import Queue


@pytest.fixture
def faq(org):
    knowledge.save_source(
        org.org,
        acting_member=org.owner,
        title="Perguntas",
        kind="faq",
        body="P: Vocês entregam em todo o Brasil?\nR: Sim, em até 10 dias úteis.",
    )


def test_a_suggestion_from_the_persona_and_the_knowledge(model, org, faq):
    conversation = org.customer_writes(text="Vocês entregam em todo o Brasil?").conversation
    with pytest.raises(Conflict, match="Turn a persona on first"):
        suggestions.suggest(conversation, acting_member=org.owner)
    Persona.objects.create(organization=org.org, name="Bia", active=True)
    lia = Persona.objects.create(organization=org.org, name="Lia", active=False)
    agent = org.member()
    output = suggestions.suggest(conversation, acting_member=agent)
    assert "10 dias úteis" in output.text
    assert (output.kind, output.created_by, output.persona.name) == ("suggestion", agent, "Bia")
    assert output.passages and output.passages[0]["title"] == "Perguntas"
    # The persona of the conversation's automatic replies speaks, even one turned off for them.
    Persona.objects.filter(pk=lia.pk).update(active=True)
    AutoReply.objects.create(organization=org.org, number=org.number, persona=lia)
    assert suggestions.suggest(conversation, acting_member=agent).persona == lia
    # Someone answered since: the suggestion still answers what the customer wrote last.
    engine.reply(conversation, "Um momento…", acting_member=agent)
    assert "10 dias úteis" in suggestions.suggest(conversation, acting_member=agent).text


def test_no_suggestion_where_the_persona_would_hand_over(model, org, faq):
    Persona.objects.create(organization=org.org, name="Bia", active=True)
    conversation = org.customer_writes(text="Quero falar com um atendente").conversation
    with pytest.raises(Conflict, match="No suggestion: The customer asked for a person"):
        suggestions.suggest(conversation, acting_member=org.owner)
    assert AssistantOutput.objects.get().outcome == "handed_off"


def test_who_may_ask_and_the_page_s_answer(model, org, other_org, faq):
    Persona.objects.create(organization=org.org, name="Bia", active=True)
    conversation = org.customer_writes(text="Vocês entregam em todo o Brasil?").conversation
    queue = Queue.objects.create(organization=org.org, name="Vendas")
    conversation.queue = queue
    conversation.save(update_fields=["queue"])
    with pytest.raises(Forbidden):
        suggestions.suggest(conversation, acting_member=org.member())
    url = reverse("assistant-assist", args=[conversation.pk, "suggest"])
    answer = org.client().post(url)
    assert answer.status_code == 200 and "10 dias úteis" in answer.json()["text"]
    assert 'name="rating"' in answer.json()["rating"]
    assert other_org.client().post(url).status_code == 404
