"""The simulator's model held to a real client: the official `openai` library (3.63) calls
/sandbox/v1 as it calls OpenAI, whole and streamed, reads its errors as the typed exceptions
it raises for OpenAI's, and lists its model. The shapes checked beside it are those of OpenAI's
API reference (Chat Completions: the chat completion object, the chunk object, errors)."""

import json

import httpx
import openai
import pytest

from conversa.sandbox import tenants

QUESTION = [
    {"role": "developer", "content": "Answer briefly."},
    {"role": "user", "content": "What time do you close?"},
]


@pytest.fixture
def base_url(live_server, transactional_db) -> str:
    return f"{live_server.url}/sandbox/v1"


@pytest.fixture
def key() -> str:
    return tenants.api_key_for("model-test")


@pytest.fixture
def client(base_url, key) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=10)


def faults(base_url: str, key: str, **body) -> dict:
    response = httpx.post(
        f"{base_url}/faults", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_the_openai_client_gets_an_answer_with_its_usage(client):
    completion = client.chat.completions.create(model="conversa-sandbox", messages=QUESTION)

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "conversa-sandbox"
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "You said: What time do you close?"
    assert choice.finish_reason == "stop"
    usage = completion.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert (usage.prompt_tokens, usage.completion_tokens) == ((4 + 4) + (4 + 6) + 3, 9)


def test_the_openai_client_assembles_a_stream_and_its_usage_chunk(client):
    chunks = list(
        client.chat.completions.create(
            model="conversa-sandbox",
            messages=QUESTION,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: What time do you close?"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    # The last chunk: no choices, the usage (OpenAI's `include_usage`).
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 9
    assert all(c.usage is None for c in chunks[:-1])


def test_max_completion_tokens_cuts_the_answer(client):
    completion = client.chat.completions.create(
        model="conversa-sandbox", messages=QUESTION, max_completion_tokens=2
    )
    assert completion.choices[0].message.content == "You said"
    assert completion.choices[0].finish_reason == "length"


def test_scripted_replies_come_in_order_then_the_models_own(client, base_url, key):
    faults(base_url, key, replies=["Primeira", "Segunda"])
    said = [
        client.chat.completions.create(model="m", messages=QUESTION).choices[0].message.content
        for _ in range(3)
    ]
    assert said == ["Primeira", "Segunda", "You said: What time do you close?"]


def test_injected_errors_are_what_the_client_raises_for_openais(client, base_url, key):
    faults(base_url, key, fail_next=1, fail_with=429, retry_after=7)
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="m", messages=QUESTION)
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.body["type"] == "rate_limit_exceeded"

    faults(base_url, key, fail_next=1, fail_with=500)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=QUESTION)

    assert client.chat.completions.create(model="m", messages=QUESTION).choices
    assert faults(base_url, key)["calls"] == 3


def test_the_client_retries_an_injected_503_on_its_own(base_url, key):
    faults(base_url, key, fail_next=2, fail_with=503, retry_after=0)
    patient = openai.OpenAI(base_url=base_url, api_key=key, max_retries=2, timeout=10)
    assert patient.chat.completions.create(model="m", messages=QUESTION).choices
    assert faults(base_url, key)["calls"] == 3


def test_an_injected_timeout_is_the_clients_timeout(base_url, key, settings):
    settings.SANDBOX_HANG_SECONDS = 3
    faults(base_url, key, fail_next=1, fail_with=0)
    hasty = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        hasty.chat.completions.create(model="m", messages=QUESTION)


def test_a_wrong_key_is_an_authentication_error(base_url):
    stranger = openai.OpenAI(base_url=base_url, api_key="sk-nobody", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        stranger.chat.completions.create(model="m", messages=QUESTION)
    assert raised.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        stranger.models.list()


def test_the_model_is_listed(client):
    assert [m.id for m in client.models.list()] == ["conversa-sandbox"]


def test_each_key_has_its_own_script(client, base_url, key):
    other = tenants.api_key_for("model-test-other")
    faults(base_url, other, fail_next=1, fail_with=500)
    assert client.chat.completions.create(model="m", messages=QUESTION).choices
    assert faults(base_url, other)["fail_next"] == 1


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"messages": QUESTION}, "model parameter"),
        ({"model": "m", "messages": []}, "'messages' must be a list"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": QUESTION, "max_tokens": 0}, "max_tokens"),
        ([1, 2], "JSON object"),
    ],
)
def test_a_malformed_request_is_a_400_in_openais_shape(base_url, key, body, words):
    response = httpx.post(
        f"{base_url}/chat/completions",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert words in error["message"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "body",
    [
        {"fail_next": -1},
        {"fail_next": 10_000},
        {"fail_with": 302},
        {"fail_with": True},
        {"retry_after": "soon"},
        {"latency_ms": 10**9},
        {"replies": "not a list"},
        {"replies": ["x" * 20_000]},
    ],
)
def test_a_script_out_of_bounds_is_refused(base_url, key, body):
    response = httpx.post(
        f"{base_url}/faults", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"]


PERSONA_PROMPT = """You are Ana, who answers customers of Loja on WhatsApp.

## Greeting
Bom dia!

## Facts
- Endereço: Rua das Flores, 100.

## Passages
[1] Vocês entregam aos sábados?
Sim, das 9h às 13h. Nas capitais, e também no interior. Frete grátis acima de R$ 100.
[2] Quais formas de pagamento vocês aceitam?
Aceitamos Pix e cartão."""


def test_a_persona_prompt_is_answered_from_the_passage_that_shares_most_words(client):
    def ask(question: str) -> str:
        answer = client.chat.completions.create(
            model="conversa-sandbox",
            messages=[
                {"role": "system", "content": PERSONA_PROMPT},
                {"role": "user", "content": question},
            ],
        )
        return answer.choices[0].message.content

    # The first sentences, until there is enough to say something.
    assert (
        ask("Entregam sábado?")
        == "Bom dia! Sim, das 9h às 13h. Nas capitais, e também no interior."
    )
    assert ask("Aceitam cartão?") == "Bom dia! Aceitamos Pix e cartão."
    assert ask("Qual o endereço?") == "Bom dia! Endereço: Rua das Flores, 100."
    # Nothing in common: the first passage (the knowledge's best for the question).
    assert ask("Olá") == "Bom dia! Sim, das 9h às 13h. Nas capitais, e também no interior."
