"""Settings → Assistant and /api/assistant/settings: who may change the model, what is
refused, the key written but never read back (nor kept in clear, nor logged), the audit entry,
the usage against the budget, and "Test connection" against the simulator's model."""

import json
import logging

import pytest
from django.db import connection
from django.test import Client

from conversa.accounts.models import Member, OperationalEvent
from conversa.assistant import llm, services
from conversa.assistant.models import ModelCall, ModelSettings
from conversa.errors import Forbidden, Refused
from tests.assistant.conftest import script

KEY = "sk-proj-Secret-Key-0123456789abcdef"
PAGE = "/settings/assistant/"
# A public address written as a literal: checked without asking DNS, and never connected to.
PUBLIC = "https://93.184.215.14/v1"


def api(client: Client, method: str, path: str, token: str, body=None):
    return getattr(client, method)(
        path,
        data=json.dumps(body) if body is not None else None,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def stored_key_column(org) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key FROM assistant_modelsettings WHERE organization_id = %s",
            [org.org.pk],
        )
        return cursor.fetchone()[0]


def test_the_key_is_stored_encrypted_and_never_shown_again(org, caplog):
    caplog.set_level(logging.DEBUG)
    changes = services.update_model_settings(
        org.org,
        acting_member=org.owner,
        base_url=PUBLIC,
        model="gpt-4o-mini",
        daily_token_budget=5000,
        api_key=KEY,
    )

    assert changes["api_key"] == ["not set", "set"]
    assert KEY not in stored_key_column(org) and stored_key_column(org)
    assert llm.settings_row(org.org).api_key == KEY
    page = org.client().get(PAGE).content.decode()
    assert KEY not in page and KEY[-4:] not in page
    answer = api(Client(), "get", "/api/assistant/settings", org.api_token())
    assert answer.status_code == 200 and KEY not in answer.content.decode()
    assert answer.json()["api_key_set"] is True
    entry = OperationalEvent.objects.get(verb="assistant.settings_changed")
    assert KEY not in json.dumps(entry.data)
    assert entry.data["base_url"] == ["", PUBLIC]
    assert KEY not in caplog.text


def test_an_empty_key_keeps_the_stored_one_and_clearing_removes_it(org):
    wanted = {"base_url": "", "model": "", "daily_token_budget": None}
    services.update_model_settings(org.org, acting_member=org.owner, api_key=KEY, **wanted)
    assert services.update_model_settings(org.org, acting_member=org.owner, **wanted) == {}
    assert llm.settings_row(org.org).api_key == KEY

    changes = services.update_model_settings(
        org.org, acting_member=org.owner, clear_api_key=True, **wanted
    )
    assert changes == {"api_key": ["set", "not set"]}
    assert llm.settings_row(org.org).api_key == ""


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://10.0.0.5:11434/v1", "private or reserved network"),
        ("http://169.254.169.254/latest", "private or reserved network"),
        ("http://[::1]:8000/v1", "private or reserved network"),
        ("ftp://models.example.com/v1", "starts with https:// or http://"),
        ("https://user:sk-abc@api.openai.com/v1", "API key field"),
        ("https://api.openai.com:99999/v1", "not a web address"),
        ("https://" + "a" * 600 + ".com", "at most 500 characters"),
    ],
)
def test_a_bad_base_url_is_a_form_error_and_a_422(org, url, words):
    page = org.client().post(PAGE, {"base_url": url, "model": "m"})
    assert page.status_code == 422
    assert words in page.content.decode()

    answer = api(Client(), "put", "/api/assistant/settings", org.api_token(), {"base_url": url})
    assert answer.status_code == 422
    if "500 characters" not in words:  # the schema refuses that one before the service
        assert answer.json()["errors"][0]["loc"] == ["body", "base_url"]
        assert words in answer.json()["errors"][0]["msg"]
    assert llm.settings_row(org.org).base_url == ""


@pytest.mark.parametrize(
    "body",
    [
        {"daily_token_budget": 0},
        {"daily_token_budget": 10**12},
        {"daily_token_budget": "lots"},
        {"model": "gpt 4o"},
        {"api_key": "two words"},
        {"api_key": "k" * 1001},
    ],
)
def test_out_of_bounds_settings_are_refused_by_the_api(org, body):
    answer = api(Client(), "put", "/api/assistant/settings", org.api_token(), body)
    assert answer.status_code == 422, answer.content
    row = llm.settings_row(org.org)
    assert (row.model, row.api_key, row.daily_token_budget) == ("", "", None)


def test_the_page_refuses_an_out_of_range_budget_beside_its_field(org):
    page = org.client().post(PAGE, {"daily_token_budget": "0"})
    assert page.status_code == 422
    assert "aria-invalid" in page.content.decode() or "field-error" in page.content.decode()


def test_only_owners_and_admins_change_or_test_the_model(org):
    for role in (Member.Role.SUPERVISOR, Member.Role.AGENT):
        member = org.member(role)
        with pytest.raises(Forbidden):
            services.update_model_settings(
                org.org, acting_member=member, base_url="", model="x", daily_token_budget=None
            )
        with pytest.raises(Forbidden):
            services.test_connection(org.org, acting_member=member)
        client = org.client(member)
        assert client.get(PAGE).status_code == 403
        assert client.post("/settings/assistant/test").status_code == 403
        token = org.api_token(member)
        assert api(Client(), "get", "/api/assistant/settings", token).status_code == 403
        assert api(Client(), "post", "/api/assistant/settings/test", token).status_code == 403
    admin = org.member(Member.Role.ADMIN)
    assert org.client(admin).get(PAGE).status_code == 200


def test_another_organizations_member_cannot_change_this_one(org, other_org):
    with pytest.raises(Refused):
        services.update_model_settings(
            org.org, acting_member=other_org.owner, base_url="", model="x", daily_token_budget=1
        )


def test_saving_from_the_page_records_and_shows_the_settings(org):
    client = org.client()
    response = client.post(
        PAGE,
        {"base_url": "", "model": "conversa-sandbox", "api_key": "", "daily_token_budget": "800"},
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Settings saved." in page
    assert 'value="800"' in page
    row = llm.settings_row(org.org)
    assert (row.model, row.daily_token_budget) == ("conversa-sandbox", 800)


def test_the_page_says_when_the_simulator_plays_the_model_and_shows_usage(org):
    ModelCall.objects.create(
        organization=org.org,
        day=llm.local_day(org.org),
        purpose="test",
        model="m",
        prompt_tokens=120,
        completion_tokens=30,
    )
    ModelSettings.objects.update_or_create(
        organization=org.org, defaults={"daily_token_budget": 1000}
    )
    page = org.client().get(PAGE).content.decode()
    assert 'data-state="simulated"' in page
    assert 'data-field="used-today">150<' in page
    assert "of 1000 tokens, in 1 call" in page

    client = org.client()
    client.cookies["django_language"] = "pt-br"
    page = client.get(PAGE).content.decode()
    assert "O simulador do Conversa faz o papel do modelo" in page
    assert "de 1000 tokens, em 1 chamada" in page


def test_the_page_says_when_no_model_is_set_up(org, settings):
    settings.SANDBOX_ENABLED = False
    settings.ASSISTANT_BASE_URL = ""
    page = org.client().get(PAGE).content.decode()
    assert 'data-state="none"' in page


def test_the_api_reads_and_replaces_the_settings(org):
    token = org.api_token()
    answer = api(Client(), "get", "/api/assistant/settings", token).json()
    assert answer["simulated"] is True and answer["effective_model"] == "conversa-sandbox"
    assert answer["api_key_set"] is False and answer["used_today"] == 0

    answer = api(
        Client(),
        "put",
        "/api/assistant/settings",
        token,
        {"model": "llama3.1", "api_key": KEY, "daily_token_budget": 12345},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert (body["model"], body["daily_token_budget"], body["api_key_set"]) == (
        "llama3.1",
        12345,
        True,
    )
    assert "api_key" not in body and KEY not in answer.content.decode()


def test_test_connection_shows_the_models_answer(model, org):
    client = org.client()
    result = client.post("/settings/assistant/test", headers={"HX-Request": "true"})
    assert result.status_code == 200
    html = result.content.decode()
    assert 'data-result="ok"' in html and "You said: Reply with the word OK." in html
    assert ModelCall.objects.for_org(org.org).get().purpose == "connection_test"

    answer = api(Client(), "post", "/api/assistant/settings/test", org.api_token())
    assert answer.status_code == 200
    assert answer.json()["answer"] == "You said: Reply with the word OK."


def test_test_connection_says_what_is_wrong(model, org, settings):
    settings.ASSISTANT_RETRIES = 0
    script(model, org, fail_next=2, fail_with=500)
    result = org.client().post("/settings/assistant/test", headers={"HX-Request": "true"})
    html = result.content.decode()
    assert 'data-result="error"' in html
    assert "The AI model could not answer: the model&#x27;s server had an error (HTTP 500)" in html

    answer = api(Client(), "post", "/api/assistant/settings/test", org.api_token())
    assert answer.status_code == 502
    assert answer.json()["error"] == "model_unavailable"


def test_a_spent_budget_is_a_429_from_the_api(model, org):
    ModelSettings.objects.update_or_create(organization=org.org, defaults={"daily_token_budget": 1})
    api(Client(), "post", "/api/assistant/settings/test", org.api_token())
    answer = api(Client(), "post", "/api/assistant/settings/test", org.api_token())
    assert answer.status_code == 429
    assert answer.json()["error"] == "budget_spent"
    assert "used its 1 tokens for today" in answer.json()["detail"]


def test_a_new_server_closes_the_breaker(org):
    ModelSettings.objects.update_or_create(organization=org.org, defaults={"breaker_failures": 5})
    services.update_model_settings(
        org.org,
        acting_member=org.owner,
        base_url=PUBLIC,
        model="gpt-4o-mini",
        daily_token_budget=None,
    )
    assert llm.settings_row(org.org).breaker_failures == 0
