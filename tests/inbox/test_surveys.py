"""The satisfaction survey (CSAT): one question per resolution, through the engine; the
customer's rating recorded against the member who resolved, the conversation left resolved;
anything else they write reopens it as always; figures per organization, number, queue and
member."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversa.accounts.models import OperationalEvent
from conversa.engine.models import GateDecision, MessageIntent
from conversa.errors import Refused
from conversa.inbound import consequences
from conversa.inbox import queues, states, surveys, thread
from conversa.inbox.models import DEFAULT_SURVEY_QUESTION, Conversation, Queue, Survey
from conversa.providers.base import InboundMessage
from conversa.sandbox import simulator
from conversa.surveys import services as survey_service
from tests.crm.helpers import run_worker

PHONE = "5511999990001"


@pytest.fixture(autouse=True)
def sandbox_in_process(settings):
    settings.SANDBOX_IN_PROCESS = True


def turn_on(org, **changes):
    values = {"enabled": True, "question": "", "open_hours": 24} | changes
    return surveys.update_settings(org.org, acting_member=org.owner, **values)


def writes(org, text: str, kind: str = "text"):
    return consequences.receive_message(
        org.number,
        InboundMessage(
            provider_message_id=simulator.new_message_id(),
            phone=PHONE,
            name="Cliente",
            kind=kind,
            body=text,
        ),
    )


def resolved(org) -> Conversation:
    """A conversation the customer started, resolved by the owner, the survey sent."""
    conversation = writes(org, "Oi, preciso de ajuda").conversation
    survey_service.resolve(conversation, acting_member=org.owner)
    run_worker()
    return conversation


def survey_intents(org):
    return MessageIntent.objects.for_org(org.org).filter(origin=MessageIntent.Origin.SURVEY)


def reopened(conversation) -> bool:
    return OperationalEvent.objects.filter(
        object_type="conversation", object_id=conversation.pk, verb="conversation.reopened"
    ).exists()


def test_off_by_default_nothing_is_asked(org):
    resolved(org)
    assert not survey_intents(org).exists()
    assert not Survey.objects.exists()


def test_resolving_asks_once_per_resolution(org):
    turn_on(org)
    conversation = resolved(org)
    [intent] = survey_intents(org)
    assert intent.body == DEFAULT_SURVEY_QUESTION
    assert intent.conversation_id == conversation.pk
    assert intent.job.message.status == "sent"
    survey_service.resolve(conversation, acting_member=org.owner)  # already resolved
    assert survey_intents(org).count() == 1
    states.reopen(conversation, acting_member=org.owner)
    survey_service.resolve(conversation, acting_member=org.owner)
    assert survey_intents(org).count() == 2
    assert Survey.objects.filter(conversation=conversation).count() == 2


@pytest.mark.parametrize("flag", ["opted_out", "blocked"])
def test_an_opted_out_or_blocked_contact_is_not_asked(org, flag):
    turn_on(org)
    conversation = writes(org, "Oi").conversation
    type(conversation.contact).objects.filter(pk=conversation.contact_id).update(**{flag: True})
    survey_service.resolve(conversation, acting_member=org.owner)
    assert not survey_intents(org).exists()
    assert not Survey.objects.exists()


def test_the_gate_refuses_the_survey_to_someone_who_opts_out_before_it_leaves(org):
    turn_on(org)
    conversation = writes(org, "Oi").conversation
    survey_service.resolve(conversation, acting_member=org.owner)
    conversation.contact.opted_out = True
    conversation.contact.save(update_fields=["opted_out"])
    run_worker()
    [intent] = survey_intents(org)
    assert intent.decisions.last().verdict == GateDecision.Verdict.BLOCK
    assert intent.decisions.last().reason_code == "contact_opted_out"


def test_a_rating_is_recorded_and_the_conversation_stays_resolved(org):
    queue = queues.create_queue(
        org.org,
        acting_member=org.owner,
        name="Suporte",
        member_ids=[org.owner.pk],
        number_ids=[org.number.pk],
        distribution=Queue.Distribution.ROUND_ROBIN,
        first_response_minutes=30,
        resolution_minutes=240,
    )
    turn_on(org)
    conversation = resolved(org)
    states_before = Conversation.objects.values(
        "assignee_id", "unread_count", "first_response_due_at", "resolution_due_at", "resolved_at"
    ).get(pk=conversation.pk)
    writes(org, "4")
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.RESOLVED
    assert not reopened(conversation)
    assert (
        Conversation.objects.values(
            "assignee_id",
            "unread_count",
            "first_response_due_at",
            "resolution_due_at",
            "resolved_at",
        ).get(pk=conversation.pk)
        == states_before
    )
    survey = Survey.objects.get(conversation=conversation)
    assert (survey.rating, survey.comment, survey.agent_id) == (4, "", org.owner.pk)
    assert survey.queue_id == queue.pk
    # No new conversation was started for it either.
    assert Conversation.objects.filter(contact=conversation.contact).count() == 1


def test_the_rest_of_the_reply_is_the_comment_and_a_second_message_too(org):
    turn_on(org)
    conversation = resolved(org)
    writes(org, "5 muito bom")
    survey = Survey.objects.get(conversation=conversation)
    assert (survey.rating, survey.comment) == (5, "muito bom")

    states.reopen(conversation, acting_member=org.owner)
    survey_service.resolve(conversation, acting_member=org.owner)
    run_worker()
    writes(org, "3")
    writes(org, "demorou um pouco")
    latest = Survey.objects.filter(conversation=conversation).order_by("-asked_at").first()
    assert (latest.rating, latest.comment) == (3, "demorou um pouco")
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.RESOLVED


def test_the_thread_shows_the_rating_escaped(org, client):
    turn_on(org)
    conversation = resolved(org)
    writes(org, "2 <b>ruim</b>")
    items = thread.history(conversation)
    [line] = [i for i in items if i.kind == "event" and i.obj.verb == "conversation.rated"]
    assert str(line.text) == "Rated 2/5 by the customer"
    assert line.detail == "<b>ruim</b>"
    client.force_login(org.owner.user)
    page = client.get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert "Rated 2/5 by the customer" in page
    assert "&lt;b&gt;ruim&lt;/b&gt;" in page
    assert "<b>ruim</b>" not in page


def test_anything_else_is_a_customer_writing_again(org):
    turn_on(org)
    conversation = resolved(org)
    writes(org, "Na verdade ainda tenho uma dúvida")
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN
    assert reopened(conversation)
    survey = Survey.objects.get(conversation=conversation)
    assert survey.rating is None
    # Once reopened, a number is an ordinary message too.
    writes(org, "5")
    survey.refresh_from_db()
    assert survey.rating is None


def test_an_expired_survey_is_ignored(org):
    turn_on(org, open_hours=1)
    conversation = resolved(org)
    Survey.objects.filter(conversation=conversation).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    writes(org, "5")
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN
    assert Survey.objects.get(conversation=conversation).rating is None


def test_a_rating_before_the_question_left_is_an_ordinary_message(org):
    turn_on(org)
    conversation = writes(org, "Oi").conversation
    survey_service.resolve(conversation, acting_member=org.owner)
    writes(org, "5")  # the worker has not sent the question yet
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN


def test_a_queue_overrides_the_organization(org):
    queue = queues.create_queue(
        org.org, acting_member=org.owner, name="Vendas", number_ids=[org.number.pk]
    )
    surveys.set_queue_survey(
        queue, acting_member=org.owner, survey=Queue.Survey.ON, question="Nota de 1 a 5?"
    )
    conversation = resolved(org)  # the organization's survey is off
    [intent] = survey_intents(org)
    assert intent.body == "Nota de 1 a 5?"
    turn_on(org)
    surveys.set_queue_survey(queue, acting_member=org.owner, survey=Queue.Survey.OFF, question="")
    states.reopen(conversation, acting_member=org.owner)
    survey_service.resolve(conversation, acting_member=org.owner)
    assert survey_intents(org).count() == 1


def test_settings_are_bounded(org):
    with pytest.raises(Refused):
        turn_on(org, open_hours=0)
    with pytest.raises(Refused):
        turn_on(org, open_hours=24 * 8)
    with pytest.raises(Refused):
        turn_on(org, question="x" * 1001)


@pytest.mark.parametrize(
    ("body", "parsed"),
    [
        ("4", (4, "")),
        (" 5 muito bom ", (5, "muito bom")),
        ("5/5", (5, "")),
        ("3 de 5, ok", (3, "ok")),
        ("1 - péssimo", (1, "péssimo")),
        ("10", None),
        ("0", None),
        ("6", None),
        ("nota 5", None),
        ("", None),
    ],
)
def test_parse(body, parsed):
    assert surveys.parse(body) == parsed


def test_csat_summary_figures_and_tenant_scoping(org, other_org):
    now = timezone.now()
    other_queue = queues.create_queue(org.org, acting_member=org.owner, name="Outra")

    made = iter(range(1, 100))

    def survey(target, rating, *, queue=None, at=None):
        n = next(made)
        conversation = writes_for(target, f"55119888{n:05d}").conversation
        return Survey.objects.create(
            organization=target.org,
            conversation=conversation,
            key=f"k{n}",
            agent=target.owner,
            queue=queue,
            number=target.number,
            expires_at=now + timedelta(days=1),
            rating=rating,
            answered_at=at or now,
        )

    for rating in (5, 5, 4, 3, 1):
        survey(org, rating)
    survey(org, 2, queue=other_queue)
    survey(org, 5, at=now - timedelta(days=40))  # outside the period
    survey(other_org, 1)  # another organization's
    start, end = now - timedelta(days=7), now + timedelta(seconds=1)
    summary = surveys.csat_summary(org.org, start, end)
    assert summary.count == 6
    assert summary.average == pytest.approx(20 / 6)
    assert summary.distribution == {1: 1, 2: 1, 3: 1, 4: 1, 5: 2}
    assert summary.percent_satisfied == pytest.approx(50.0)
    in_queue = surveys.csat_summary(org.org, start, end, queue=other_queue)
    assert (in_queue.count, in_queue.average, in_queue.percent_satisfied) == (1, 2.0, 0.0)
    mine = surveys.csat_summary(org.org, start, end, agent=org.owner, number=org.number)
    assert mine.count == 6
    none = surveys.csat_summary(org.org, start, end, agent=other_org.owner)
    assert (none.count, none.average, none.percent_satisfied) == (0, None, None)
    assert none.distribution == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}


def writes_for(target, phone: str):
    return consequences.receive_message(
        target.number,
        InboundMessage(
            provider_message_id=simulator.new_message_id(),
            phone=phone,
            name="Cliente",
            kind="text",
            body="Oi",
        ),
    )


def test_the_batch_path_records_the_rating_and_leaves_it_resolved(org):
    turn_on(org)
    conversation = resolved(org)
    event = InboundMessage(
        provider_message_id=simulator.new_message_id(),
        phone=PHONE,
        name="Cliente",
        kind="text",
        body="5 ótimo atendimento",
    )
    [message] = consequences.receive_messages([(org.number, event)])
    assert message.conversation_id == conversation.pk
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.RESOLVED
    assert not reopened(conversation)
    survey = Survey.objects.get(conversation=conversation)
    assert (survey.rating, survey.comment) == (5, "ótimo atendimento")


def test_the_settings_pages_save_the_survey(org, client):
    client.force_login(org.owner.user)
    assert client.get("/inbox/settings/survey").status_code == 200
    bad = client.post("/inbox/settings/survey", {"enabled": "1", "open_hours": "0"})
    assert bad.status_code == 422
    assert not surveys.settings_of(org.org.id).enabled
    saved = client.post(
        "/inbox/settings/survey", {"enabled": "1", "question": "Nota?", "open_hours": "12"}
    )
    assert saved.status_code == 302
    settings = surveys.settings_of(org.org.id)
    assert (settings.enabled, settings.question, settings.open_hours) == (True, "Nota?", 12)
    queue = queues.create_queue(org.org, acting_member=org.owner, name="Suporte")
    answer = client.post(
        f"/inbox/settings/queues/{queue.pk}",
        {"name": "Suporte", "distribution": "off", "survey": "off", "survey_question": ""},
    )
    assert answer.status_code == 302
    queue.refresh_from_db()
    assert queue.survey == Queue.Survey.OFF
    assert "Suporte" in client.get("/inbox/settings/survey").content.decode()


def test_another_organizations_queue_is_not_found(org, other_org, client):
    queue = queues.create_queue(other_org.org, acting_member=other_org.owner, name="Deles")
    client.force_login(org.owner.user)
    answer = client.post(
        f"/inbox/settings/queues/{queue.pk}", {"name": "x", "distribution": "off", "survey": "on"}
    )
    assert answer.status_code == 404
    queue.refresh_from_db()
    assert queue.survey == Queue.Survey.INHERIT
