"""/api/assistant/auto-replies and /api/conversations/{id}/assistant: bounds, roles and scoping
(the behaviour itself is test_autoreply.py's)."""

import json

from django.test import Client

from conversa.assistant.models import AssistantSession, AutoReply, Persona
from conversa.inbox.models import Queue


def api(method: str, path: str, token: str, body=None):
    return getattr(Client(), method)(
        path,
        data=json.dumps(body) if body is not None else None,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_rules_through_the_api(org, other_org):
    persona = Persona.objects.create(organization=org.org, name="Lia", active=True)
    stranger = Persona.objects.create(organization=other_org.org, name="Zé", active=True)
    token = org.api_token()
    body = {"number_id": org.number.pk, "persona_id": persona.pk, "when": "nobody_online"}
    answer = api("put", "/api/assistant/auto-replies", token, body)
    assert answer.status_code == 200, answer.content
    rule = answer.json()
    assert (rule["when"], rule["wait_seconds"], rule["queue_id"]) == ("nobody_online", 8, None)
    assert rule["handoff_when_unhappy"] is True
    again = api(
        "put",
        "/api/assistant/auto-replies",
        token,
        {**body, "wait_seconds": 30, "handoff_when_unhappy": False},
    )
    assert again.json()["id"] == rule["id"] and again.json()["wait_seconds"] == 30
    assert again.json()["handoff_when_unhappy"] is False
    assert [r["id"] for r in api("get", "/api/assistant/auto-replies", token).json()] == [
        rule["id"]
    ]
    for bad in (
        {**body, "wait_seconds": 121},
        {**body, "wait_seconds": -1},
        {**body, "when": "sometimes"},
        {"persona_id": persona.pk},
        {**body, "queue_id": Queue.objects.create(organization=org.org, name="Vendas").pk},
        {**body, "number_id": 2**70},
    ):
        answer = api("put", "/api/assistant/auto-replies", token, bad)
        assert answer.status_code == 422, (bad, answer.content)
        assert answer.json()["errors"]
    answer = api("put", "/api/assistant/auto-replies", token, {**body, "persona_id": stranger.pk})
    assert answer.status_code == 404
    agent = org.api_token(org.member())
    assert api("get", "/api/assistant/auto-replies", agent).status_code == 403
    assert api("put", "/api/assistant/auto-replies", agent, body).status_code == 403
    other = other_org.api_token()
    assert api("delete", f"/api/assistant/auto-replies/{rule['id']}", other).status_code == 404
    assert api("delete", f"/api/assistant/auto-replies/{rule['id']}", token).status_code == 204
    assert not AutoReply.objects.exists()


def test_a_conversation_s_assistant_through_the_api(org, other_org):
    conversation = org.conversation()
    path = f"/api/conversations/{conversation.pk}/assistant"
    token = org.api_token()
    assert api("get", path, token).json() == {
        "state": "none",
        "reason": "",
        "turns": 0,
        "due_at": None,
        "available": False,
    }
    answer = api("post", f"{path}/resume", token)
    assert answer.status_code == 409 and "set it up first" in answer.json()["detail"]
    persona = Persona.objects.create(organization=org.org, name="Lia", active=True)
    AutoReply.objects.create(organization=org.org, number=org.number, persona=persona)
    answer = api("post", f"{path}/resume", token)
    assert answer.status_code == 200 and answer.json()["state"] == "active"
    answer = api("post", f"{path}/stop", token)
    assert answer.json()["state"] == "taken_over"
    assert AssistantSession.objects.get().stopped_by == org.owner
    assert api("get", path, other_org.api_token()).status_code == 404
