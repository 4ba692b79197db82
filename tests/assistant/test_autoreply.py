"""The assistant answering customers on its own (invariant 13): its answers go through the Gate
and the engine once per customer message, a customer's quick messages get one answer, it hands
the conversation to the team (with a note saying why) when it should, and it stops for good once
a person has taken the conversation over, until a person turns it back on."""

from datetime import UTC

import pytest
from django.utils import timezone

from conversa.accounts.models import Member
from conversa.assistant import auto_reply_rules, autoreply, knowledge
from conversa.assistant.models import AssistantOutput, AssistantSession, AutoReply, Persona
from conversa.engine import services as engine
from conversa.engine.models import GateDecision, MessageIntent
from conversa.engine.worker import Worker
from conversa.errors import Conflict, Forbidden, NotFound, Refused
from conversa.inbox import ownership
from conversa.inbox.models import Message, Note, Queue
from tests.assistant.conftest import calls, script
from tests.conftest import make_org

State = AssistantSession.State
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FAQ = """P: Qual o horário de atendimento?
R: Atendemos de segunda a sexta, das 9h às 18h.

P: Vocês entregam em todo o Brasil?
R: Sim, em até 10 dias úteis.
"""


@pytest.fixture
def shop(model, live_server):
    org = make_org(webhook_base=live_server.url)
    persona = Persona.objects.create(
        organization=org.org, name="Lia", instructions="Seja cordial.", active=True
    )
    knowledge.save_source(org.org, acting_member=org.owner, title="Perguntas", kind="faq", body=FAQ)
    # The customer's mood is read by its own test: the others script the model's answers.
    rule = auto_reply_rules.save_auto_reply(
        org.org,
        acting_member=org.owner,
        persona=persona,
        number=org.number,
        wait_seconds=0,
        handoff_when_unhappy=False,
    )
    org.persona, org.rule, org.model = persona, rule, model
    return org


def due_now(conversation) -> None:
    """The customer's wait is over (the test does not sit through it)."""
    AssistantSession.objects.filter(conversation=conversation).update(due_at=timezone.now())


def assistant_intents(conversation):
    return MessageIntent.objects.filter(
        conversation=conversation, origin=MessageIntent.Origin.ASSISTANT
    )


def session_of(conversation) -> AssistantSession:
    return AssistantSession.objects.get(conversation=conversation)


def test_an_answer_goes_through_the_gate_and_the_engine_once(shop):
    script(shop.model, shop, replies=["Atendemos de segunda a sexta, das 9h às 18h."])
    message = shop.customer_writes(text="Qual o horário de atendimento?")
    conversation = message.conversation
    assert session_of(conversation).state == State.ACTIVE
    assert autoreply.run_due() == 1
    [intent] = assistant_intents(conversation)
    assert intent.idempotency_key == f"assistant:{conversation.pk}:{message.pk}"
    assert intent.decisions.get().verdict == GateDecision.Verdict.ALLOW
    assert intent.job.status == "pending"
    Worker().run_once()
    sent = Message.objects.get(conversation=conversation, direction=Message.Direction.OUTBOUND)
    assert sent.body == "Atendemos de segunda a sexta, das 9h às 18h."
    output = AssistantOutput.objects.get(conversation=conversation)
    assert (output.kind, output.outcome) == ("reply", "answered")
    assert output.question == "Qual o horário de atendimento?"
    assert "segunda a sexta" in output.passages[0]["text"]
    assert output.model_call_id is not None
    assert output.intent == intent
    # Nothing more is due; a worker that died after sending and took it again sends nothing new.
    assert autoreply.run_due() == 0
    AssistantSession.objects.filter(conversation=conversation).update(
        due_at=timezone.now(), answered_message_id=None
    )
    script(shop.model, shop, replies=["Atendemos de segunda a sexta, das 9h às 18h."])
    assert autoreply.run_due() == 1
    assert assistant_intents(conversation).count() == 1
    assert session_of(conversation).turns == 1


def test_quick_messages_get_one_answer(shop):
    AutoReply.objects.filter(pk=shop.rule.pk).update(wait_seconds=30)
    shop.customer_writes(text="Oi")
    assert autoreply.run_due() == 0  # waiting for the customer's next words
    last = shop.customer_writes(text="Vocês entregam em todo o Brasil?")
    due_now(last.conversation)
    script(shop.model, shop, replies=["Sim, em até 10 dias úteis."])
    assert autoreply.run_due() == 1
    [intent] = assistant_intents(last.conversation)
    assert intent.idempotency_key.endswith(f":{last.pk}")
    assert AssistantOutput.objects.get().question == "Oi\nVocês entregam em todo o Brasil?"


def handed_off(conversation, reason_part: str) -> Note:
    session = session_of(conversation)
    assert session.state == State.HANDED_OFF
    assert reason_part in session.reason
    note = Note.objects.get(conversation=conversation)
    assert note.by_assistant and note.author is None
    assert reason_part in note.body
    return note


def test_asking_for_a_person_hands_over_with_a_summary(shop):
    queue = Queue.objects.create(
        organization=shop.org, name="Vendas", distribution=Queue.Distribution.ROUND_ROBIN
    )
    queue.numbers.add(shop.number)
    agent = shop.member()
    agent.availability = Member.Availability.ONLINE
    agent.save()
    queue.members.add(agent)
    before = calls(shop.model, shop)
    message = shop.customer_writes(text="Quero falar com um ATENDENTE, por favor")
    conversation = message.conversation
    # The team's distribution left it to the assistant…
    conversation.refresh_from_db()
    assert conversation.assignee_id is None
    assert autoreply.run_due() == 1
    note = handed_off(conversation, "asked for a person")
    assert "Quero falar com um ATENDENTE" in note.body
    # The model is asked for nothing but the team's summary, which the note carries.
    assert calls(shop.model, shop) == before + 1
    summary = AssistantOutput.objects.get(conversation=conversation, kind="summary")
    assert note.assistant_output == summary
    assert f"Summary: {summary.text}" in note.body
    assert "The customer last said: Quero falar com um ATENDENTE" in summary.text
    # …which told the customer, and handed it over: to the online operator of the queue.
    [intent] = assistant_intents(conversation)
    assert "person" in intent.body or "pessoa" in intent.body
    conversation.refresh_from_db()
    assert conversation.assignee_id == agent.pk
    # Handed over: the customer's next message is the team's.
    shop.customer_writes(text="Alô?")
    assert autoreply.run_due() == 0
    assert session_of(conversation).state == State.HANDED_OFF


def test_a_handoff_is_a_webhook_event_saying_why_and_to_whom(shop):
    import json

    from conversa.webhooks import services as webhooks
    from conversa.webhooks.models import Delivery

    webhooks.create_endpoint(
        acting_member=shop.owner,
        url="https://93.184.216.34/hooks",
        events=["conversation.handed_off"],
    )
    message = shop.customer_writes(text="Quero falar com um atendente")
    assert autoreply.run_due() == 1
    [delivery] = Delivery.objects.filter(event_type="conversation.handed_off")
    data = json.loads(delivery.body)["data"]["conversation"]
    assert data["id"] == message.conversation_id
    assert "asked for a person" in data["reason"]
    assert delivery.contact_id == message.conversation.contact_id


def test_no_knowledge_hands_over_or_says_it_does_not_know(shop):
    message = shop.customer_writes(text="Qual a cor do céu em Marte?")
    assert autoreply.run_due() == 1
    handed_off(message.conversation, "No passage")
    output = AssistantOutput.objects.get(kind="reply")
    assert output.outcome == "handed_off" and output.model_call_id is None

    Persona.objects.filter(pk=shop.persona.pk).update(handoff_when_unknown=False)
    other = shop.customer_writes(phone="5511999990002", text="Qual a cor do céu em Marte?")
    assert autoreply.run_due() == 1
    [intent] = assistant_intents(other.conversation)
    assert session_of(other.conversation).state == State.ACTIVE
    assert AssistantOutput.objects.get(intent=intent).outcome == "did_not_know"


def test_a_model_that_fails_hands_over(shop):
    script(shop.model, shop, fail_next=10, fail_with=503)
    message = shop.customer_writes(text="Vocês entregam em todo o Brasil?")
    assert autoreply.run_due() == 1
    handed_off(message.conversation, "could not answer")
    assert AssistantOutput.objects.get().outcome == "failed"
    assert not assistant_intents(message.conversation).exists()


def test_a_person_replying_stops_it_for_good_until_a_person_resumes_it(shop):
    first = shop.customer_writes(text="Qual o horário de atendimento?")
    conversation = first.conversation
    # An operator answers before the assistant's answer is written.
    engine.reply(conversation, "Oi! Das 9h às 18h.", acting_member=shop.owner)
    script(shop.model, shop, replies=["Atendemos das 9h às 18h."])
    assert autoreply.run_due() == 1
    assert not assistant_intents(conversation).exists()
    session = session_of(conversation)
    assert (session.state, session.reason) == (State.TAKEN_OVER, "A person replied.")
    shop.customer_writes(text="Vocês entregam em todo o Brasil?")
    assert autoreply.run_due() == 0
    assert session_of(conversation).state == State.TAKEN_OVER

    autoreply.resume(conversation, acting_member=shop.owner)
    assert autoreply.run_due() == 0  # what was written before is the team's
    later = shop.customer_writes(text="Vocês entregam em todo o Brasil?")
    script(shop.model, shop, replies=["Sim, em até 10 dias úteis."])
    assert autoreply.run_due() == 1
    [intent] = assistant_intents(conversation)
    assert intent.idempotency_key.endswith(f":{later.pk}")


def test_a_claim_stops_it_even_after_a_release(shop):
    message = shop.customer_writes(text="Oi")
    conversation = message.conversation
    agent = shop.member()
    ownership.claim(conversation, acting_member=agent)
    ownership.release(conversation, acting_member=agent)
    assert autoreply.run_due() == 1
    assert session_of(conversation).state == State.TAKEN_OVER
    assert not assistant_intents(conversation).exists()
    ownership.claim(conversation, acting_member=agent)
    with pytest.raises(Conflict):
        autoreply.resume(conversation, acting_member=shop.owner)


def test_a_person_stops_it(shop):
    message = shop.customer_writes(text="Oi")
    autoreply.stop_here(message.conversation, acting_member=shop.owner)
    assert autoreply.run_due() == 0
    session = session_of(message.conversation)
    assert (session.state, session.stopped_by) == (State.TAKEN_OVER, shop.owner)


def test_the_gate_holds_the_assistant_to_the_rules(shop):
    message = shop.customer_writes(text="Vocês entregam em todo o Brasil?")
    contact = message.conversation.contact
    contact.blocked = True
    contact.save(update_fields=["blocked"])
    script(shop.model, shop, replies=["Sim."])
    assert autoreply.run_due() == 1
    [intent] = assistant_intents(message.conversation)
    assert intent.status == MessageIntent.Status.BLOCKED
    assert intent.decisions.get().reason_code == "contact_blocked"


def test_when_it_answers(shop):
    online = shop.member()
    online.availability = Member.Availability.ONLINE
    online.save()
    AutoReply.objects.filter(pk=shop.rule.pk).update(when=AutoReply.When.NOBODY_ONLINE)
    message = shop.customer_writes(text="Oi")
    assert not AssistantSession.objects.filter(conversation=message.conversation).exists()

    # Business hours every day, but not now: outside them, it answers.
    AutoReply.objects.filter(pk=shop.rule.pk).update(when=AutoReply.When.OUTSIDE_HOURS)
    hour = timezone.now().astimezone(UTC).hour
    span = [f"{hour + 1:02d}:00", f"{hour + 2:02d}:00"] if hour < 22 else ["01:00", "02:00"]
    shop.org.time_zone = "UTC"
    shop.org.business_hours = {day: [span] for day in WEEK}
    shop.org.save()
    closed = shop.customer_writes(phone="5511999990003", text="Oi")
    assert session_of(closed.conversation).state == State.ACTIVE
    shop.org.business_hours = {}  # none set: always open
    shop.org.save()
    open_now = shop.customer_writes(phone="5511999990004", text="Oi")
    assert not AssistantSession.objects.filter(conversation=open_now.conversation).exists()

    # The first message only: answered, then the team's.
    AutoReply.objects.filter(pk=shop.rule.pk).update(when=AutoReply.When.FIRST_MESSAGE)
    first = shop.customer_writes(phone="5511999990005", text="Qual o horário de atendimento?")
    script(shop.model, shop, replies=["Das 9h às 18h."])
    autoreply.stop_here(closed.conversation, acting_member=shop.owner)
    assert autoreply.run_due() == 1
    assert assistant_intents(first.conversation).count() == 1
    assert session_of(first.conversation).state == State.HANDED_OFF


def test_a_handoff_made_as_business_hours_begin_gets_its_summary_from_a_worker(shop):
    AutoReply.objects.filter(pk=shop.rule.pk).update(when=AutoReply.When.OUTSIDE_HOURS)
    hour = timezone.now().astimezone(UTC).hour
    span = [f"{hour + 1:02d}:00", f"{hour + 2:02d}:00"] if hour < 22 else ["01:00", "02:00"]
    shop.org.time_zone = "UTC"
    shop.org.business_hours = {day: [span] for day in WEEK}
    shop.org.save()
    first = shop.customer_writes(text="Vocês entregam em todo o Brasil?")
    script(shop.model, shop, replies=["Sim, em até 10 dias úteis."])
    assert autoreply.run_due() == 1
    shop.org.business_hours = {}  # open now
    shop.org.save()
    shop.customer_writes(text="E o frete?")  # in the webhook: handed off, no model call
    session = session_of(first.conversation)
    assert session.state == State.HANDED_OFF and session.due_at is not None
    [handoff] = Note.objects.filter(conversation=first.conversation)
    assert "Business hours began" in handoff.body and "Summary" not in handoff.body

    script(shop.model, shop, replies=["O cliente quer saber do frete para todo o Brasil."])
    assert autoreply.run_due() == 1
    summary = Note.objects.filter(conversation=first.conversation).exclude(pk=handoff.pk).get()
    assert summary.body.startswith("Summary at handoff:")
    assert "frete para todo o Brasil" in summary.body
    assert summary.assistant_output.kind == AssistantOutput.Kind.SUMMARY
    assert session_of(first.conversation).due_at is None
    assert autoreply.run_due() == 0  # written once
    assert assistant_intents(first.conversation).count() == 1  # a note, never sent


def test_several_customers_are_answered_in_one_pass(shop):
    script(shop.model, shop, replies=["Das 9h às 18h."] * 3)
    asked = [
        shop.customer_writes(phone=f"551199999001{n}", text="Qual o horário de atendimento?")
        for n in range(3)
    ]
    assert autoreply.run_due(limit=4) == 3  # their model calls at once, then each written
    for message in asked:
        [intent] = assistant_intents(message.conversation)
        assert intent.idempotency_key == f"assistant:{message.conversation_id}:{message.pk}"
        assert session_of(message.conversation).due_at is None
    assert autoreply.run_due(limit=4) == 0


def test_keywords_are_not_answered(shop):
    message = shop.customer_writes(text="SAIR")
    assert not AssistantSession.objects.filter(conversation=message.conversation).exists()


def test_the_rules_bounds_and_who_sets_them(shop, other_org):
    with pytest.raises(Refused):
        auto_reply_rules.save_auto_reply(
            shop.org, acting_member=shop.owner, persona=shop.persona, wait_seconds=5
        )
    with pytest.raises(Refused):
        auto_reply_rules.save_auto_reply(
            shop.org,
            acting_member=shop.owner,
            persona=shop.persona,
            number=shop.number,
            wait_seconds=121,
        )
    with pytest.raises(Refused):
        auto_reply_rules.save_auto_reply(
            shop.org, acting_member=shop.owner, persona=shop.persona, number=shop.number, when="x"
        )
    with pytest.raises(Forbidden):
        auto_reply_rules.save_auto_reply(
            shop.org, acting_member=shop.member(), persona=shop.persona, number=shop.number
        )
    with pytest.raises(NotFound):
        auto_reply_rules.save_auto_reply(
            shop.org, acting_member=shop.owner, persona=shop.persona, number=other_org.number
        )
    changed = auto_reply_rules.save_auto_reply(
        shop.org,
        acting_member=shop.owner,
        persona=shop.persona,
        number=shop.number,
        when=AutoReply.When.NOBODY_ONLINE,
        wait_seconds=20,
    )
    assert changed.pk == shop.rule.pk and AutoReply.objects.count() == 1
    auto_reply_rules.delete_auto_reply(changed, acting_member=shop.owner)
    message = shop.customer_writes(text="Oi")
    assert not AssistantSession.objects.filter(conversation=message.conversation).exists()


def test_an_unhappy_customer_goes_to_a_person(shop):
    AutoReply.objects.filter(pk=shop.rule.pk).update(handoff_when_unhappy=True)
    calm = shop.customer_writes(text="Qual o horário de atendimento?")
    assert autoreply.run_due() == 1
    assert assistant_intents(calm.conversation).count() == 1
    assert session_of(calm.conversation).state == State.ACTIVE
    angry = shop.customer_writes(
        phone="5511999990006", text="Péssimo atendimento, meu pedido está atrasado!"
    )
    assert autoreply.run_due() == 1
    handed_off(angry.conversation, "seems unhappy")
    assert not assistant_intents(angry.conversation).exists()
    reading = AssistantOutput.objects.get(conversation=angry.conversation, kind="classification")
    assert reading.kind == "classification" and '"negative"' in reading.text
    # A mood it cannot read does not stop the answer.
    script(shop.model, shop, replies=["not json"])
    unread = shop.customer_writes(phone="5511999990007", text="Vocês entregam em todo o Brasil?")
    assert autoreply.run_due() == 1
    assert assistant_intents(unread.conversation).count() == 1
