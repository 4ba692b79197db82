"""The AI log: an output keeps the passages it was given as they read then, people who may see
its conversation rate it, and accuracy counts what was rated."""

import pytest

from conversa.accounts.models import Member
from conversa.assistant import knowledge, outputs
from conversa.assistant.models import AssistantOutput
from conversa.errors import Forbidden, NotFound, Refused
from conversa.inbox.models import Queue


@pytest.fixture
def passage(org):
    source = knowledge.save_source(
        org.org,
        acting_member=org.owner,
        title="Entrega",
        kind="text",
        body="Entregamos em todo o Brasil em até 10 dias úteis.",
    )
    return source.passages.get()


def test_an_output_keeps_its_passages_as_they_read_then(org, passage):
    output = outputs.record_output(
        org.org,
        kind=AssistantOutput.Kind.REPLY,
        question="Vocês entregam em Manaus?",
        text="Sim, em até 10 dias úteis.",
        passages=[passage],
        conversation=org.conversation(),
    )
    source = passage.source
    knowledge.save_source(
        org.org,
        acting_member=org.owner,
        source=source,
        title="Entrega",
        kind="text",
        body="Só entregamos em São Paulo.",
    )
    output.refresh_from_db()
    assert output.passages == [
        {
            "passage": passage.pk,
            "source": source.pk,
            "title": "Entrega",
            "heading": "",
            "text": "Entregamos em todo o Brasil em até 10 dias úteis.",
        }
    ]


def test_another_organizations_conversation_is_refused(org, other_org):
    with pytest.raises(NotFound):
        outputs.record_output(
            org.org,
            kind=AssistantOutput.Kind.SUMMARY,
            text="…",
            conversation=other_org.conversation(),
        )


def test_rating_and_accuracy(org):
    conversation = org.conversation()
    good, bad, unrated = (
        outputs.record_output(
            org.org, kind=AssistantOutput.Kind.SUGGESTION, text=text, conversation=conversation
        )
        for text in ("a", "b", "c")
    )
    agent = org.member()
    outputs.rate_output(good, rating="good", acting_member=agent)
    outputs.rate_output(bad, rating="good", acting_member=agent)
    outputs.rate_output(bad, rating="bad", acting_member=org.owner)  # the latest counts
    bad.refresh_from_db()
    assert (bad.rating, bad.rated_by) == ("bad", org.owner)
    assert outputs.accuracy(org.org) == outputs.Accuracy(rated=2, good=1)
    assert outputs.accuracy(org.org).share == 0.5
    assert outputs.accuracy(org.org, kind=AssistantOutput.Kind.SUMMARY).share is None
    outputs.rate_output(good, rating="", acting_member=agent)
    good.refresh_from_db()
    assert (good.rating, good.rated_by, good.rated_at) == ("", None, None)
    assert unrated.rating == ""
    with pytest.raises(Refused):
        outputs.rate_output(good, rating="great", acting_member=agent)


def test_who_may_rate(org, other_org):
    queue = Queue.objects.create(organization=org.org, name="Vendas")
    conversation = org.conversation()
    conversation.queue = queue
    conversation.save(update_fields=["queue"])
    output = outputs.record_output(
        org.org, kind=AssistantOutput.Kind.SUMMARY, text="…", conversation=conversation
    )
    outsider = org.member()
    with pytest.raises(Forbidden):
        outputs.rate_output(output, rating="good", acting_member=outsider)
    trial = outputs.record_output(org.org, kind=AssistantOutput.Kind.TEST_CHAT, text="Olá")
    with pytest.raises(Forbidden):
        outputs.rate_output(trial, rating="good", acting_member=outsider)
    outputs.rate_output(trial, rating="good", acting_member=org.owner)
    with pytest.raises(NotFound):
        outputs.rate_output(output, rating="good", acting_member=other_org.owner)
    outsider.is_active = False
    outsider.role = Member.Role.OWNER
    with pytest.raises(Forbidden):
        outputs.rate_output(trial, rating="bad", acting_member=outsider)
