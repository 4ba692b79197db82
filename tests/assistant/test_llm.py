"""The model client against the simulator's model over real HTTP: answers and usage, retries,
Retry-After, the circuit breaker, the daily budget, streaming, timeouts and address safety."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone, translation

from conversa.assistant import llm
from conversa.assistant.models import ModelCall, ModelSettings
from tests.assistant.conftest import calls, key_of, script

HELLO = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Do you open on Sundays?"},
]


def row_of(org) -> ModelSettings:
    return llm.settings_row(org.org)


def test_an_answer_comes_over_http_and_its_usage_is_recorded(model, org):
    answer = llm.complete(org.org, HELLO, purpose="test")

    assert answer.text == "You said: Do you open on Sundays?"
    assert answer.finish_reason == "stop"
    assert answer.model == llm.SIMULATOR_MODEL
    call = ModelCall.objects.for_org(org.org).get()
    # The server's own counts (the simulator's: four characters a token, as it reports them).
    assert (call.prompt_tokens, call.completion_tokens) == (answer.prompt_tokens, 9)
    assert call.prompt_tokens == (4 + 7) + (4 + 6) + 3
    assert not call.estimated and not call.streamed and call.error == ""
    assert call.day == llm.local_day(org.org) and call.purpose == "test"
    assert llm.tokens_used(org.org, call.day) == call.tokens


def test_a_call_keeps_the_messages_it_sent_and_its_cost(model, org, settings):
    settings.ASSISTANT_MODEL = "priced-model"  # the simulator answers any model's name
    settings.ASSISTANT_PRICES = "other=1:1; priced-model=1000:500"
    long = [{"role": "user", "content": "x" * 5000}] * 50
    llm.complete(org.org, [*HELLO, *long], purpose="test", max_tokens=1)
    call = ModelCall.objects.for_org(org.org).get()
    assert len(call.messages) == 40 and call.messages[-1]["role"] == "user"
    assert {len(m["content"]) for m in call.messages} == {4000}
    assert call.cost == Decimal(call.prompt_tokens * 1000 + call.completion_tokens * 500) / 10**6
    llm.complete(org.org, HELLO, purpose="test")
    assert ModelCall.objects.for_org(org.org).latest("pk").messages == HELLO


def test_prices_are_bounded_and_a_bad_entry_is_left_out(caplog):
    found = llm.prices("a=0.15:0.6 openai/gpt-4o=2.5:10;llama3:8b=0:0 b=1 c=x:1 d=1001:1 e=-1:1")
    assert found == {
        "a": (Decimal("0.15"), Decimal("0.6")),
        "openai/gpt-4o": (Decimal("2.5"), Decimal("10")),
        "llama3:8b": (Decimal(0), Decimal(0)),
    }
    assert caplog.text.count("left out") == 4
    assert llm.prices("nan=NaN:1 inf=Infinity:1") == {}
    assert llm.cost_of(llm.SIMULATOR_MODEL, 10**6, 10**6) == 0
    assert llm.cost_of("unpriced", 10, 10) is None


def test_a_scripted_reply_is_given_and_max_tokens_cuts_it(model, org):
    script(model, org, replies=["One two three four five six seven eight"])
    answer = llm.complete(org.org, HELLO, purpose="test", max_tokens=2)
    assert answer.text == "One two "
    assert answer.finish_reason == "length"


def test_transient_failures_are_tried_again_until_an_answer(model, org):
    script(model, org, fail_next=2, fail_with=503)

    answer = llm.complete(org.org, HELLO, purpose="test")

    assert answer.text.startswith("You said:")
    assert answer.attempts == 3
    assert calls(model, org) == 3
    assert ModelCall.objects.for_org(org.org).get().attempts == 3
    assert row_of(org).breaker_failures == 0


def test_retry_after_is_honoured(model, org, monkeypatch):
    waits = []
    monkeypatch.setattr(llm, "pause", waits.append)
    script(model, org, fail_next=1, fail_with=429, retry_after=2)

    llm.complete(org.org, HELLO, purpose="test")

    assert waits == [2.0]


def test_a_retry_after_beyond_the_bound_fails_at_once(model, org, monkeypatch, settings):
    settings.ASSISTANT_RETRY_MAX_WAIT_SECONDS = 10
    monkeypatch.setattr(llm, "pause", lambda s: pytest.fail("waited"))
    script(model, org, fail_next=1, fail_with=429, retry_after=3600)

    with pytest.raises(llm.ModelError) as raised:
        llm.complete(org.org, HELLO, purpose="test")

    assert "too many requests" in str(raised.value)
    assert calls(model, org) == 1


def test_spent_retries_are_a_model_error_recorded(model, org, settings):
    settings.ASSISTANT_RETRIES = 2
    script(model, org, fail_next=5, fail_with=500)

    with pytest.raises(llm.ModelError) as raised:
        llm.complete(org.org, HELLO, purpose="test")

    assert raised.value.code == "model_unavailable"
    assert "HTTP 500" in str(raised.value)
    assert calls(model, org) == 3
    call = ModelCall.objects.for_org(org.org).get()
    assert call.error == "model_unavailable" and call.tokens == 0 and call.attempts == 3


def test_a_refused_key_is_not_tried_again_nor_opens_the_breaker(model, org, caplog):
    # The simulator as the organization's own server, with a key it does not know.
    row = row_of(org)
    row.base_url, row.model, row.api_key = model, "gpt-4o-mini", "sk-wrong"
    row.save()

    with pytest.raises(llm.ModelRefused) as raised:
        llm.complete(org.org, HELLO, purpose="test")

    assert "refused the API key (HTTP 401)" in str(raised.value)
    assert "HTTP 401" in caplog.text and "sk-wrong" not in caplog.text  # the key is not logged
    assert ModelCall.objects.for_org(org.org).get().attempts == 1
    assert row_of(org).breaker_failures == 0


def test_the_breaker_opens_after_failures_then_a_trial_closes_it(model, org, settings):
    settings.ASSISTANT_RETRIES = 0
    settings.ASSISTANT_BREAKER_FAILURES = 2
    script(model, org, fail_next=2, fail_with=503)
    for _ in range(2):
        with pytest.raises(llm.ModelError):
            llm.complete(org.org, HELLO, purpose="test")
    assert row_of(org).breaker_open_until > timezone.now()

    with pytest.raises(llm.ModelPaused) as raised:
        llm.complete(org.org, HELLO, purpose="test")
    assert raised.value.status == 503 and "failed 2 times in a row" in str(raised.value)
    assert calls(model, org) == 2  # refused without calling

    # The hold ends: one call tries the model (half-open) and its answer closes the breaker.
    ModelSettings.objects.filter(pk=row_of(org).pk).update(
        breaker_open_until=timezone.now() - timedelta(seconds=1)
    )
    assert llm.complete(org.org, HELLO, purpose="test").text
    row = row_of(org)
    assert (row.breaker_failures, row.breaker_open_until) == (0, None)
    assert calls(model, org) == 3


def test_a_failed_trial_opens_the_breaker_again(model, org, settings):
    settings.ASSISTANT_RETRIES = 0
    settings.ASSISTANT_BREAKER_FAILURES = 1
    script(model, org, fail_next=2, fail_with=502)
    with pytest.raises(llm.ModelError):
        llm.complete(org.org, HELLO, purpose="test")
    ModelSettings.objects.filter(pk=row_of(org).pk).update(
        breaker_open_until=timezone.now() - timedelta(seconds=1)
    )

    with pytest.raises(llm.ModelError):
        llm.complete(org.org, HELLO, purpose="test")  # the trial, failing

    assert row_of(org).breaker_open_until > timezone.now()
    with pytest.raises(llm.ModelPaused):
        llm.complete(org.org, HELLO, purpose="test")
    assert calls(model, org) == 2


def test_only_one_call_tries_a_half_open_breaker(model, org):
    row = row_of(org)
    ended = timezone.now() - timedelta(seconds=1)
    ModelSettings.objects.filter(pk=row.pk).update(breaker_failures=5, breaker_open_until=ended)
    row.refresh_from_db()

    llm.admit(org.org, row)  # this call takes the trial…
    with pytest.raises(llm.ModelPaused):
        llm.admit(org.org, row)  # …a second one, with the same view of the row, waits


def test_a_spent_budget_refuses_before_calling_in_the_members_language(model, org):
    ModelSettings.objects.filter(pk=row_of(org).pk).update(daily_token_budget=30)
    llm.complete(org.org, HELLO, purpose="test")  # 33 tokens: the budget is spent now

    for language, words in [
        ("en", "The assistant has used its 30 tokens for today. It answers again tomorrow"),
        ("pt-br", "O assistente já usou seus 30 tokens de hoje. Ele volta a responder amanhã"),
    ]:
        with translation.override(language), pytest.raises(llm.BudgetSpent) as raised:
            llm.complete(org.org, HELLO, purpose="test")
        assert words in str(raised.value)
        assert raised.value.code == "budget_spent" and raised.value.status == 429
    assert calls(model, org) == 1
    assert ModelCall.objects.for_org(org.org).count() == 1


def test_yesterdays_tokens_do_not_count_today(model, org):
    ModelSettings.objects.filter(pk=row_of(org).pk).update(daily_token_budget=30)
    ModelCall.objects.create(
        organization=org.org,
        day=llm.local_day(org.org) - timedelta(days=1),
        purpose="test",
        model="m",
        prompt_tokens=1000,
    )
    assert llm.complete(org.org, HELLO, purpose="test").text


def test_an_organizations_own_server_gets_its_key_and_model(model, org):
    row = row_of(org)
    row.base_url, row.model, row.api_key = model, "llama3.1", key_of(org)
    row.save()
    answer = llm.complete(org.org, HELLO, purpose="test")
    assert answer.model == "llama3.1" and answer.text.startswith("You said:")
    assert calls(model, org) == 1


def test_a_stream_assembles_the_answer_and_records_the_servers_usage(model, org):
    stream = llm.Stream(org.org, HELLO, purpose="test")
    pieces = list(stream)

    assert len(pieces) > 1
    assert "".join(pieces) == "You said: Do you open on Sundays?"
    assert stream.answer.text == "".join(pieces)
    assert stream.answer.finish_reason == "stop"
    call = ModelCall.objects.for_org(org.org).get()
    assert call.streamed and not call.estimated
    assert (call.prompt_tokens, call.completion_tokens) == (24, 9)


def test_a_stream_left_before_its_end_still_counts_what_was_written(model, org):
    pieces = iter(llm.Stream(org.org, HELLO, purpose="test"))
    assert next(pieces) == "You"
    pieces.close()  # the person closed the page

    call = ModelCall.objects.for_org(org.org).get()
    assert call.error == "abandoned" and call.estimated and call.tokens > 0


def test_a_stream_is_tried_again_before_its_first_piece(model, org):
    script(model, org, fail_next=1, fail_with=503)
    stream = llm.Stream(org.org, HELLO, purpose="test")
    assert "".join(stream) == "You said: Do you open on Sundays?"
    assert stream.answer.attempts == 2


def test_a_stream_is_refused_before_calling_when_the_budget_is_spent(model, org):
    ModelSettings.objects.filter(pk=row_of(org).pk).update(daily_token_budget=1)
    llm.complete(org.org, HELLO, purpose="test")
    with pytest.raises(llm.BudgetSpent):
        llm.Stream(org.org, HELLO, purpose="test")
    assert calls(model, org) == 1


def test_a_model_that_does_not_answer_in_time_fails_within_the_timeout(model, org, settings):
    settings.SANDBOX_HANG_SECONDS = 3
    settings.ASSISTANT_TIMEOUT_SECONDS = 0.3
    settings.ASSISTANT_RETRIES = 1
    script(model, org, fail_next=2, fail_with=0)

    with pytest.raises(llm.ModelError) as raised:
        llm.complete(org.org, HELLO, purpose="test")

    assert "did not answer in time" in str(raised.value)
    assert ModelCall.objects.for_org(org.org).get().attempts == 2
    assert row_of(org).breaker_failures == 1


def test_an_address_on_a_private_network_is_not_called(model, org):
    # Written around the service's check (a row from before a rule, say): the call refuses it.
    ModelSettings.objects.filter(pk=row_of(org).pk).update(
        base_url="http://10.1.2.3:8080/v1", model="llama3"
    )
    with pytest.raises(llm.ModelError) as raised:
        llm.complete(org.org, HELLO, purpose="test")
    assert "private or reserved network" in str(raised.value)
    assert row_of(org).breaker_failures == 0


def test_the_environments_key_never_goes_to_an_organizations_address(org, settings):
    settings.ASSISTANT_BASE_URL = "https://api.openai.com/v1"
    settings.ASSISTANT_API_KEY = "sk-operator"
    settings.ASSISTANT_MODEL = "gpt-4o-mini"
    row = row_of(org)

    endpoint = llm.endpoint_of(org.org, row)
    assert (endpoint.api_key, endpoint.model, endpoint.simulated) == (
        "sk-operator",
        "gpt-4o-mini",
        False,
    )
    assert endpoint.headers()["Authorization"] == "Bearer sk-operator"

    row.base_url = "https://models.example.com/v1"
    endpoint = llm.endpoint_of(org.org, row)
    assert endpoint.api_key == "" and "Authorization" not in endpoint.headers()

    row.api_key = "sk-own"
    assert llm.endpoint_of(org.org, row).api_key == "sk-own"


def test_azure_gets_its_key_in_its_own_header_and_keeps_the_api_version(org):
    row = row_of(org)
    row.base_url = "https://acme.openai.azure.com/openai/v1?api-version=preview"
    row.api_key = "azure-key"
    endpoint = llm.endpoint_of(org.org, row)
    assert endpoint.headers() == {"Accept": "application/json", "api-key": "azure-key"}
    assert endpoint.url("/chat/completions") == (
        "https://acme.openai.azure.com/openai/v1/chat/completions?api-version=preview"
    )


def test_without_a_model_server_nothing_is_called(org, settings):
    settings.ASSISTANT_BASE_URL = ""
    settings.SANDBOX_ENABLED = False
    with pytest.raises(llm.ModelNotConfigured) as raised:
        llm.complete(org.org, HELLO, purpose="test")
    assert "No AI model is set up" in str(raised.value)
