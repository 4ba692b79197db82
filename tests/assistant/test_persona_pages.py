"""Settings → Assistant personas and /api/assistant/personas through HTTP: making, changing,
turning on and off and deleting personas, the test chat (streamed and not) with its ratings,
refusals as form errors (pages) and as the shared JSON shape (API), and other organizations'
personas as 404s."""

import json

import pytest
from asgiref.sync import async_to_sync

from conversa.accounts.models import Member
from conversa.assistant import knowledge, personas
from conversa.assistant.models import AssistantOutput, Persona
from tests.assistant.conftest import script
from tests.assistant.test_knowledge import FAQ
from tests.assistant.test_knowledge_pages import org_api

FORM = {
    "name": "Ana",
    "instructions": "Atenda os clientes da loja.",
    "tone": "friendly",
    "language_policy": "customer",
    "language": "pt-BR",
    "greeting_morning": "Bom dia!",
    "greeting_afternoon": "Boa tarde!",
    "greeting_evening": "Boa noite!",
    "facts": "Endereço: Rua das Flores, 100.",
    "forbidden_topics": "política\nfutebol",
    "handoff_phrases": "atendente\nhumano\nhuman",
    "handoff_when_unknown": "on",
    "max_turns": "",
}


def test_an_admin_makes_changes_and_turns_on_a_persona(org):
    client = org.client(org.member(Member.Role.ADMIN))
    empty = client.get("/settings/assistant/personas/").content.decode()
    assert "No persona yet" in empty
    form = client.get("/settings/assistant/personas/new").content.decode()
    assert "falar com atendente" in form  # the default phrases, to edit
    made = client.post("/settings/assistant/personas/new", FORM)
    persona = Persona.objects.get(organization=org.org)
    assert made.status_code == 302
    assert made["Location"] == f"/settings/assistant/personas/{persona.pk}"
    assert persona.forbidden_topics == ["política", "futebol"]
    assert persona.handoff_phrases == ["atendente", "humano", "human"]
    assert not persona.active
    page = client.get(made["Location"]).content.decode()
    assert "Test chat" in page and "No test answers yet." in page and "Bom dia!" in page
    changed = client.post(made["Location"], FORM | {"tone": "concise", "max_turns": "3"})
    assert changed.status_code == 302 and changed["Location"].endswith("?saved=1")
    persona.refresh_from_db()
    assert (persona.tone, persona.max_turns) == ("concise", 3)
    on = client.post(f"/settings/assistant/personas/{persona.pk}/active", {"active": "1"})
    assert on.status_code == 302 and on["Location"] == "/settings/assistant/personas/"
    persona.refresh_from_db()
    assert persona.active
    listing = client.get("/settings/assistant/personas/").content.decode()
    assert "Ana" in listing and 'data-state="on"' in listing
    gone = client.post(f"/settings/assistant/personas/{persona.pk}/delete")
    assert gone.status_code == 302 and not Persona.objects.exists()


def test_bad_input_is_a_form_error_not_a_500(org):
    client = org.client()
    cases = [
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"max_turns": "0"}, "max_turns"),
        ({"max_turns": "abc"}, "max_turns"),
        ({"tone": "rude"}, "tone"),
        ({"forbidden_topics": "x" * 101}, "forbidden_topics"),
        ({"handoff_phrases": "\n".join(f"p{n}" for n in range(41))}, "handoff_phrases"),
        ({"greeting_evening": "x" * 301}, "greeting_evening"),
    ]
    for change, field in cases:
        response = client.post("/settings/assistant/personas/new", FORM | change)
        assert response.status_code == 422, change
        assert 'aria-invalid="true"' in response.content.decode() or "field-error" in (
            response.content.decode()
        ), field
    assert not Persona.objects.exists()


def test_agents_and_other_organizations_get_no_persona_page(org, other_org):
    theirs = personas.save_persona(other_org.org, acting_member=other_org.owner, name="Deles")
    client = org.client()
    assert client.get(f"/settings/assistant/personas/{theirs.pk}").status_code == 404
    assert client.post(f"/settings/assistant/personas/{theirs.pk}/delete").status_code == 404
    chat = client.post(f"/settings/assistant/personas/{theirs.pk}/chat", {"question": "Oi"})
    assert chat.status_code == 404
    agent = org.client(org.member())
    assert agent.get("/settings/assistant/personas/").status_code == 403
    assert Persona.objects.filter(pk=theirs.pk).exists()


@pytest.fixture
def persona(org):
    knowledge.save_source(org.org, acting_member=org.owner, kind="faq", title="Perguntas", body=FAQ)
    return personas.save_persona(org.org, acting_member=org.owner, name="Ana")


def lines_of(response) -> list[dict]:
    """The JSON lines of a streamed answer (an asynchronous stream, as the ASGI server reads
    it; its synchronous work runs in this thread, with the test's database)."""

    async def read(content):
        return [part async for part in content]

    body = b"".join(async_to_sync(read)(response.streaming_content)).decode()
    return [json.loads(line) for line in body.splitlines() if line]


def test_the_test_chat_streams_the_answer_then_its_passages_and_buttons(model, org, persona):
    client = org.client()
    response = client.post(
        f"/settings/assistant/personas/{persona.pk}/chat",
        {"question": "Vocês aceitam Pix?"},
        headers={"Accept": "application/x-ndjson"},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-ndjson")
    events = lines_of(response)
    pieces = [e["piece"] for e in events if "piece" in e]
    expected = "Aceitamos Pix, boleto e cartão de crédito em até 12 vezes sem juros."
    assert len(pieces) > 3 and "".join(pieces) == expected
    html = events[-1]["html"]
    output = AssistantOutput.objects.get(organization=org.org)
    assert events[-1]["done"] and f'id="answer-{output.pk}"' in html
    assert "Quais formas de pagamento vocês aceitam?" in html and "1 passage used" in html
    assert (output.kind, output.persona, output.created_by) == ("test_chat", persona, org.owner)

    rated = client.post(
        f"/settings/assistant/answers/{output.pk}/rating",
        {"rating": "good"},
        headers={"HX-Request": "true"},
    )
    output.refresh_from_db()
    assert rated.status_code == 200 and output.rating == "good"
    assert 'aria-pressed="true"' in rated.content.decode()
    page = client.get(f"/settings/assistant/personas/{persona.pk}").content.decode()
    assert expected in page and "No test answers yet." not in page


def test_the_test_chat_without_script_and_its_refusals(model, org, persona):
    client = org.client()
    url = f"/settings/assistant/personas/{persona.pk}/chat"
    plain = client.post(url, {"question": "Quero falar com atendente"})
    assert plain.status_code == 302 and plain["Location"].endswith("#test-chat")
    output = AssistantOutput.objects.get(organization=org.org)
    assert output.outcome == "handed_off"
    page = client.get(plain["Location"]).content.decode()
    assert "Handed to a person" in page and "asked for a person" in page
    empty = client.post(url, {"question": " "}, headers={"Accept": "application/x-ndjson"})
    assert empty.status_code == 400 and empty.json()["error"]
    too_long = client.post(url, {"question": "x" * 1001})
    assert too_long.status_code == 400 and "at most 1000 characters" in too_long.content.decode()
    bad = client.post(
        f"/settings/assistant/answers/{output.pk}/rating",
        {"rating": "great"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 400


def test_the_api_makes_changes_answers_and_deletes(model, org, persona):
    token = org.api_token()
    created = org_api(
        org,
        "post",
        "/api/assistant/personas",
        {"name": "Bia", "tone": "professional", "forbidden_topics": ["política"], "active": True},
        token=token,
    )
    assert created.status_code == 201, created.content
    bia = created.json()
    assert bia["active"] and "falar com atendente" in bia["handoff_phrases"]
    changed = org_api(
        org,
        "patch",
        f"/api/assistant/personas/{bia['id']}",
        {"max_turns": 4, "active": False, "greeting_morning": "Olá!"},
        token=token,
    ).json()
    assert (changed["max_turns"], changed["active"], changed["tone"]) == (4, False, "professional")
    assert changed["greeting_morning"] == "Olá!"
    names = [p["name"] for p in org_api(org, "get", "/api/assistant/personas", token=token).json()]
    assert names == ["Ana", "Bia"]
    answer = org_api(
        org,
        "post",
        f"/api/assistant/personas/{persona.pk}/answer",
        {"question": "Vocês entregam em todo o Brasil?"},
        token=token,
    ).json()
    assert answer["outcome"] == "answered" and "Entregamos nas capitais" in answer["text"]
    assert answer["passages"][0]["title"] == "Perguntas" and answer["model_call"]
    gone = org_api(org, "delete", f"/api/assistant/personas/{bia['id']}", token=token)
    assert gone.status_code == 204 and not Persona.objects.filter(pk=bia["id"]).exists()


def test_the_api_refuses_bad_input_in_the_shared_shape(org, other_org, persona):
    token = org.api_token()
    cases = [
        ("post", "/api/assistant/personas", {"name": ""}),
        ("post", "/api/assistant/personas", {"name": "A", "tone": "rude"}),
        ("post", "/api/assistant/personas", {"name": "A", "language": "fr"}),
        ("post", "/api/assistant/personas", {"name": "A", "max_turns": 51}),
        ("post", "/api/assistant/personas", {"name": "A", "forbidden_topics": ["x" * 101]}),
        ("post", "/api/assistant/personas", {"name": "A", "forbidden_topics": ["?!"]}),
        ("post", "/api/assistant/personas", {"name": "A", "handoff_phrases": ["a"] * 41}),
        ("post", "/api/assistant/personas", {"name": "A", "extra": 1}),
        ("patch", f"/api/assistant/personas/{persona.pk}", {"name": "x" * 121}),
        ("post", f"/api/assistant/personas/{persona.pk}/answer", {"question": ""}),
        ("post", f"/api/assistant/personas/{persona.pk}/answer", {"question": "x" * 1001}),
    ]
    for method, path, payload in cases:
        response = org_api(org, method, path, payload, token=token)
        assert response.status_code == 422, (payload, response.content)
        assert response.json()["error"] == "invalid" and response.json()["errors"]
    theirs = personas.save_persona(other_org.org, acting_member=other_org.owner, name="Deles")
    missing = org_api(org, "get", f"/api/assistant/personas/{theirs.pk}", token=token)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    agent_token = org.api_token(org.member(Member.Role.SUPERVISOR))
    listed = org_api(org, "get", "/api/assistant/personas", token=agent_token)
    assert listed.status_code == 403
    assert Persona.objects.filter(organization=org.org).count() == 1


def test_a_model_that_fails_ends_the_stream_with_the_reason(model, org, persona):
    script(model, org, fail_next=1, fail_with=401)
    response = org.client().post(
        f"/settings/assistant/personas/{persona.pk}/chat",
        {"question": "Vocês aceitam Pix?"},
        headers={"Accept": "application/x-ndjson"},
    )
    events = lines_of(response)
    assert [e for e in events if "piece" in e] == []
    output = AssistantOutput.objects.get(organization=org.org)
    assert output.outcome == "failed" and "refused the API key" in output.reason
    assert 'data-outcome="failed"' in events[-1]["html"]
    assert "refused the API key" in events[-1]["html"]
