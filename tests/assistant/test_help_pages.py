"""The assistant's help on the conversation page (the composer's rewrite, translate and
summarize, classification and its tag, ratings) and Settings → Assistant → Activity, with
the simulated model over real HTTP."""

import pytest
from django.utils import translation

from conversa.assistant import helpers, outputs
from conversa.assistant.models import AssistantOutput
from conversa.engine import services as engine
from conversa.engine.models import MessageIntent
from conversa.inbox.models import Note, Queue, Tag
from tests.assistant.conftest import script

HX = {"HX-Request": "true"}


@pytest.fixture
def conversation(org):
    return org.customer_writes(text="My delivery is late and this is terrible").conversation


def url(conversation, action: str) -> str:
    return f"/inbox/c/{conversation.pk}/assistant/{action}"


def test_the_page_offers_the_helpers(model, org, conversation):
    page = org.client().get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert 'id="assist"' in page and 'data-assist="rewrite"' in page
    assert 'data-language="pt-BR"' in page and 'data-assist="summarize"' in page
    assert 'id="ai-insight"' in page and "Not classified yet." in page
    assert f"/inbox/c/{conversation.pk}/assistant/m/" in page  # translate a customer's message


def test_rewrite_and_translate_answer_the_new_draft(model, org, conversation):
    client = org.client()
    answer = client.post(
        url(conversation, "rewrite"), {"body": "we ship monday", "style": "friendlier"}
    )
    assert answer.status_code == 200
    data = answer.json()
    assert data["text"] == "Hi! We ship monday. Thank you so much!"
    assert f"/assistant/outputs/{data['output']}/rate" in data["rating"]
    answer = client.post(url(conversation, "translate"), {"body": "Olá", "language": "es"})
    assert answer.json()["text"] == "[es] Olá"


def test_bad_input_and_a_failing_model_are_said(model, org, conversation):
    client = org.client()
    answer = client.post(url(conversation, "rewrite"), {"body": "hi", "style": "louder"})
    assert answer.status_code == 422 and "friendlier" in answer.json()["error"]
    answer = client.post(url(conversation, "rewrite"), {"body": "  ", "style": "shorter"})
    assert answer.status_code == 422
    assert client.post(url(conversation, "nonsense")).status_code == 404
    script(model, org, fail_next=10, fail_with=503)
    answer = client.post(url(conversation, "summarize"))
    assert answer.status_code == 502
    assert answer.json()["code"] == "model_unavailable"
    assert "could not answer" in answer.json()["error"]
    assert not Note.objects.exists()


def test_summarize_writes_a_note_shown_as_the_assistants(model, org, conversation):
    client = org.client()
    assert client.post(url(conversation, "summarize")).status_code == 200
    note = Note.objects.get()
    assert note.assistant_output.kind == AssistantOutput.Kind.SUMMARY
    thread = client.get(f"/inbox/c/{conversation.pk}/thread").content.decode()
    assert "Summary by the assistant" in thread and "asked by" in thread
    assert f"/assistant/outputs/{note.assistant_output_id}/rate" in thread


def test_classify_then_take_the_topic_as_a_tag(model, org, conversation):
    Tag.objects.create(organization=org.org, name="delivery", colour="blue")
    client = org.client()
    panel = client.post(url(conversation, "classify"), headers=HX).content.decode()
    assert 'data-sentiment="negative"' in panel and 'data-topic="Delivery"' in panel
    assert "Tag “delivery”" in panel
    panel = client.post(url(conversation, "topic"), headers=HX).content.decode()
    assert conversation.tags.filter(name="delivery").exists()
    assert 'data-action="accept-topic"' not in panel


def test_a_failed_classification_is_shown_in_the_panel(model, org, conversation):
    script(model, org, replies=["no idea"])
    panel = org.client().post(url(conversation, "classify"), headers=HX)
    assert panel.status_code == 200
    assert "could not be read as a sentiment and topic" in panel.content.decode()


def test_a_customers_message_is_translated_under_it(model, org, conversation):
    message = conversation.messages.get()
    answer = org.client().post(
        f"/inbox/c/{conversation.pk}/assistant/m/{message.pk}/translate",
        {"language": "pt-BR"},
        headers=HX,
    )
    assert "[pt-BR] My delivery is late" in answer.content.decode()


def test_rating_presses_the_button_and_pressing_again_takes_it_back(model, org, conversation):
    output = helpers.rewrite(conversation, text="hi", style="shorter", acting_member=org.owner)
    client = org.client()
    fragment = client.post(f"/assistant/outputs/{output.pk}/rate", {"rating": "good"}, headers=HX)
    assert 'data-rating="good"' in fragment.content.decode()
    output.refresh_from_db()
    assert output.rating == "good" and output.rated_by == org.owner
    client.post(f"/assistant/outputs/{output.pk}/rate", {"rating": ""}, headers=HX)
    output.refresh_from_db()
    assert output.rating == ""
    bad = client.post(f"/assistant/outputs/{output.pk}/rate", {"rating": "great"}, headers=HX)
    assert bad.status_code == 422


def test_the_activity_page_filters_and_hides_questions_from_supervisors(model, org, conversation):
    helpers.summarize(conversation, acting_member=org.owner)
    output = helpers.rewrite(conversation, text="hi", style="shorter", acting_member=org.owner)
    outputs.rate_output(output, rating="bad", acting_member=org.owner)
    page = org.client().get("/settings/assistant/activity").content.decode()
    assert page.count('class="card ai-output"') == 2
    assert "What it was asked" in page and "simulator plays the model" in page
    assert (
        'data-kind="rewrite"><th scope="row">Rewrite</th><td class="num" data-days="7">0%' in page
    )
    page = org.client().get("/settings/assistant/activity?rating=bad").content.decode()
    assert page.count('class="card ai-output"') == 1 and 'data-kind="rewrite" data-outcome' in page
    page = org.client().get("/settings/assistant/activity?kind=translation").content.decode()
    assert "Nothing matches these filters." in page
    supervisor = org.member(role="supervisor")
    page = org.client(supervisor).get("/settings/assistant/activity").content.decode()
    assert page.count('class="card ai-output"') == 2 and "What it was asked" not in page
    assert org.client(org.member()).get("/settings/assistant/activity").status_code == 403


def test_the_activity_page_shows_the_messages_sent_the_cost_and_the_gate(
    model, org, conversation, settings
):
    settings.ASSISTANT_MODEL = "priced-model"
    settings.ASSISTANT_PRICES = "priced-model=1000:1000"
    output = helpers.rewrite(conversation, text="hi", style="shorter", acting_member=org.owner)
    intent, _ = engine.create_intent(
        org.org,
        contact=conversation.contact,
        conversation=conversation,
        body=output.text,
        origin=MessageIntent.Origin.ASSISTANT,
        idempotency_key="test:activity",
    )
    AssistantOutput.objects.filter(pk=output.pk).update(intent=intent)
    page = org.client().get("/settings/assistant/activity").content.decode()
    assert "2 messages sent to the model" in page
    assert "<strong>system</strong><pre>Task: rewrite" in page
    cost = f"{output.model_call.tokens * 1000 / 10**6:.6f}"
    assert f'<span data-field="cost">about US$ {cost}</span>' in page
    assert 'class="chip small verdict-allow" data-field="gate"' in page and "Gate: Allow" in page
    # The customers' words sent to the model are for owners and admins.
    supervisor = org.member(role="supervisor")
    page = org.client(supervisor).get("/settings/assistant/activity").content.decode()
    assert "sent to the model" not in page and "Gate: Allow" in page


def test_the_activity_page_pages_and_speaks_portuguese(org):
    conversation = org.conversation()
    for n in range(30):
        outputs.record_output(
            org.org, kind=AssistantOutput.Kind.REWRITE, text=f"n{n}", conversation=conversation
        )
    client = org.client()
    page = client.get("/settings/assistant/activity").content.decode()
    assert page.count('class="card ai-output"') == 25 and "Page 1 of 2" in page
    page = client.get("/settings/assistant/activity?page=2").content.decode()
    assert page.count('class="card ai-output"') == 5
    client.cookies["django_language"] = "pt-br"
    page = client.get("/settings/assistant/activity").content.decode()
    assert "Atividade do assistente" in page
    translation.activate("en")


def test_summaries_at_transfer_when_turned_on(model, org, conversation):
    client = org.client()
    answer = client.post("/settings/assistant/summaries", {"on_transfer": "1"})
    assert answer.status_code == 302
    queue = Queue.objects.create(organization=org.org, name="Vendas")
    client.post(f"/inbox/c/{conversation.pk}/do/transfer", {"target": f"q:{queue.pk}"}, headers=HX)
    note = Note.objects.get()
    assert note.body.startswith("Summary at transfer:\n1 message.")
    assert (
        org.client(org.member())
        .post("/settings/assistant/summaries", {"on_transfer": "1"})
        .status_code
        == 403
    )


def test_an_agent_outside_the_queue_gets_nothing(model, org, conversation):
    conversation.queue = Queue.objects.create(organization=org.org, name="Vendas")
    conversation.save(update_fields=["queue"])
    agent = org.client(org.member())
    assert agent.post(url(conversation, "summarize")).status_code == 404
    assert agent.post(url(conversation, "classify"), headers=HX).status_code == 404
