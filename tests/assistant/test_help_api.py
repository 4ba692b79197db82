"""`/api/conversations/{id}/assistant/…` and `/api/assistant/outputs`: the helpers over the
API with the simulated model, bounds and refusals as JSON, the AI log's filters and who sees
what it was asked."""

import json

import pytest

from conversa.assistant.models import AssistantOutput
from conversa.inbox.models import Note, Tag
from tests.assistant.conftest import script


def call(client, method: str, path: str, token: str, body=None):
    return getattr(client, method)(
        path,
        data=json.dumps(body) if body is not None else None,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.fixture
def conversation(org):
    return org.customer_writes(text="The delivery is late, this is terrible").conversation


def base(conversation) -> str:
    return f"/api/conversations/{conversation.pk}/assistant"


def test_rewrite_translate_summary_and_classification(model, org, conversation, client):
    token = org.api_token()
    Tag.objects.create(organization=org.org, name="Delivery", colour="blue")
    answer = call(
        client, "post", f"{base(conversation)}/rewrite", token, {"text": "hi", "style": "shorter"}
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["text"] == "hi" and answer.json()["kind"] == "rewrite"
    message = conversation.messages.get()
    answer = call(
        client,
        "post",
        f"{base(conversation)}/translate",
        token,
        {"language": "pt-BR", "message_id": message.pk},
    )
    assert answer.json()["text"] == "[pt-BR] The delivery is late, this is terrible"
    answer = call(client, "post", f"{base(conversation)}/summary", token)
    assert (
        Note.objects.get(pk=answer.json()["note_id"]).assistant_output_id
        == (answer.json()["output"]["id"])
    )
    assert call(client, "get", f"{base(conversation)}/classification", token).status_code == 204
    answer = call(client, "post", f"{base(conversation)}/classification", token).json()
    assert (answer["sentiment"], answer["topic"], answer["tagged"]) == (
        "negative",
        "Delivery",
        False,
    )
    tagged = call(client, "post", f"{base(conversation)}/classification/tag", token).json()
    assert tagged["name"] == "Delivery"
    assert call(client, "get", f"{base(conversation)}/classification", token).json()["tagged"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("rewrite", {"text": "", "style": "shorter"}),
        ("rewrite", {"text": "x" * 4097, "style": "shorter"}),
        ("rewrite", {"text": "hi", "style": "louder"}),
        ("rewrite", {"text": "hi", "style": "shorter", "extra": 1}),
        ("translate", {"language": "fr", "text": "hi"}),
        ("translate", {"language": "es"}),
        ("translate", {"language": "es", "message_id": 0}),
    ],
)
def test_bad_input_is_a_422(model, org, conversation, client, path, body):
    answer = call(client, "post", f"{base(conversation)}/{path}", org.api_token(), body)
    assert answer.status_code == 422, answer.content
    assert not AssistantOutput.objects.exists()


def test_another_organizations_conversation_and_message_are_404(
    model, org, other_org, conversation, client
):
    elsewhere = other_org.customer_writes(text="Olá")
    token = org.api_token()
    path = f"/api/conversations/{elsewhere.conversation_id}/assistant/summary"
    assert call(client, "post", path, token).status_code == 404
    answer = call(
        client,
        "post",
        f"{base(conversation)}/translate",
        token,
        {"language": "es", "message_id": elsewhere.pk},
    )
    assert answer.status_code == 404


def test_a_model_failure_is_json_with_its_code(model, org, conversation, client):
    script(model, org, fail_next=10, fail_with=500)
    answer = call(client, "post", f"{base(conversation)}/summary", org.api_token())
    assert answer.status_code == 502
    assert answer.json()["error"] == "model_unavailable"
    assert "could not answer" in answer.json()["detail"]


def test_the_log_filters_rates_and_hides_questions_from_supervisors(
    model, org, conversation, client
):
    token = org.api_token()
    call(client, "post", f"{base(conversation)}/rewrite", token, {"text": "a", "style": "shorter"})
    call(client, "post", f"{base(conversation)}/summary", token)
    summary = AssistantOutput.objects.get(kind="summary")
    rated = call(
        client, "post", f"/api/assistant/outputs/{summary.pk}/rating", token, {"rating": "good"}
    )
    assert rated.json()["rating"] == "good"
    log = call(client, "get", "/api/assistant/outputs?kind=summary", token).json()
    assert log["count"] == 1 and log["items"][0]["question"].startswith("Customer: The delivery")
    assert call(client, "get", "/api/assistant/outputs?rating=none", token).json()["count"] == 1
    assert call(client, "get", "/api/assistant/outputs?kind=nope", token).status_code == 422
    assert call(client, "get", "/api/assistant/outputs?limit=1000", token).status_code == 422
    supervisor = org.member(role="supervisor")
    log = call(client, "get", "/api/assistant/outputs", org.api_token(supervisor)).json()
    assert log["count"] == 2 and all(item["question"] is None for item in log["items"])
    agent_token = org.api_token(org.member())
    assert call(client, "get", "/api/assistant/outputs", agent_token).status_code == 403
    accuracy = call(client, "get", "/api/assistant/accuracy", token).json()
    by_kind = {row["kind"]: row["periods"] for row in accuracy}
    assert by_kind["summary"][0] == {"days": 7, "rated": 1, "good": 1, "accuracy": 1.0}
    assert by_kind["rewrite"][1]["accuracy"] is None


def test_summary_settings(org, client):
    token = org.api_token()
    answer = call(
        client, "put", "/api/assistant/summaries", token, {"on_transfer": True, "on_resolve": False}
    )
    assert answer.json() == {"on_transfer": True, "on_resolve": False}
    assert call(client, "get", "/api/assistant/summaries", token).json()["on_transfer"]
    agent = org.api_token(org.member())
    assert (
        call(
            client,
            "put",
            "/api/assistant/summaries",
            agent,
            {"on_transfer": True, "on_resolve": True},
        ).status_code
        == 403
    )


def test_resolving_over_the_api_writes_the_summary_when_turned_on(model, org, conversation, client):
    token = org.api_token()
    path = f"/api/conversations/{conversation.pk}/resolve"
    assert call(client, "post", path, token, {"reason": ""}).status_code == 200
    assert not Note.objects.exists()
    conversation.refresh_from_db()
    call(client, "post", f"/api/conversations/{conversation.pk}/reopen", token, {"reason": ""})
    call(
        client, "put", "/api/assistant/summaries", token, {"on_transfer": False, "on_resolve": True}
    )
    assert call(client, "post", path, token, {"reason": ""}).status_code == 200
    note = Note.objects.get()
    assert note.body.startswith("Summary at resolve:") and note.assistant_output_id
