"""Step 1 of "Add number" checks and keeps only the chosen provider's fields and says one thing
per field; "Reconnect" pairs again; the card says how sending goes (issue 17, points 1 and 9)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from conversa.numbers.forms import NumberForm
from conversa.numbers.models import Number
from tests.conftest import make_org


@pytest.fixture
def live(delivered_webhooks):
    return make_org(webhook_base=delivered_webhooks)


def errors(data: dict) -> dict:
    form = NumberForm(data)
    form.is_valid()
    return {name: list(messages) for name, messages in form.errors.items()}


def test_fields_of_a_provider_not_chosen_are_neither_checked_nor_kept():
    typed_then_switched = {
        "name": "Loja",
        "provider": "sandbox",
        "base_url": "not a url",
        "api_key": "k",
        "phone_number_id": "abc",
        "access_token": "t",
    }
    form = NumberForm(typed_then_switched)
    assert form.is_valid(), form.errors
    wanted = form.settings()
    assert (wanted.provider, wanted.base_url, wanted.api_key) == ("sandbox", "", "")
    cloud = {**typed_then_switched, "provider": "cloud", "phone_number_id": "12345678"}
    cloud.update(access_token="t", app_secret="s")
    form = NumberForm(cloud)
    assert form.is_valid(), form.errors
    assert form.settings().base_url == "" and form.settings().phone_number_id == "12345678"


def test_a_filled_field_says_one_thing():
    for url in ("foo", "http://", "https://exa mple.com", "ftp://x.com"):
        found = errors({"name": "Loja", "provider": "evolution", "base_url": url, "api_key": "k"})
        assert list(found) == ["base_url"] and len(found["base_url"]) == 1, (url, found)
        assert "Required for this provider." not in found["base_url"]
    found = errors({"name": "Loja", "provider": "evolution", "base_url": "foo"})
    assert found["base_url"] == [
        "Type the server's full address, like https://evolution.example.com."
    ]
    assert found["api_key"] == ["Required for this provider."]


def test_the_page_shows_the_refusal_above_the_form_and_one_error_per_field(live):
    client = live.client()
    answer = client.post(
        "/numbers/add", {"name": "Loja", "provider": "evolution", "base_url": "foo"}
    )
    assert answer.status_code == 422
    page = answer.content.decode()
    assert "The number was not added: correct the field marked below" in page
    assert page.count('class="field-error"') == 2  # the URL's, the key's
    assert "Enter a valid URL." not in page
    # Typed into Evolution's fields, then Sandbox chosen: a sandbox number, no error.
    answer = client.post(
        "/numbers/add", {"name": "Caixa", "provider": "sandbox", "base_url": "foo", "api_key": "x"}
    )
    assert answer.status_code == 302
    number = Number.objects.get(organization=live.org, name="Caixa")
    assert (number.provider, number.base_url, number.api_key) == ("sandbox", "", "")


def test_reconnect_asks_for_a_new_qr_outside_the_wizard(org):
    number = org.number
    Number.objects.filter(pk=number.pk).update(
        status=Number.Status.DISCONNECTED, qr_code="sandbox:stale:code"
    )
    page = org.client().get(f"/numbers/{number.pk}/pairing").content.decode()
    assert f"Reconnect {number.name}" in page and 'class="steps"' not in page
    # The last QR is stale: no image, the page asks the provider for a new one.
    assert 'class="qr"' not in page and f"/numbers/{number.pk}/actions/connect" in page


def test_the_card_says_how_sending_goes(org):
    client = org.client()
    assert "Sending normally" in client.get("/numbers/").content.decode()
    until = timezone.now() + timedelta(minutes=5)
    Number.objects.filter(pk=org.number.pk).update(breaker_open_until=until)
    page = client.get("/numbers/").content.decode()
    local = timezone.localtime(until, ZoneInfo(org.org.time_zone)).strftime("%H:%M")
    assert f"Paused after errors — retrying at {local}" in page
    assert "Circuit breaker" not in page and "Closed" not in page


def test_the_cloud_pairing_card_has_no_inline_handler(org):
    number = Number.objects.create(
        organization=org.org, name="Meta", provider=Number.Provider.CLOUD, provider_name="123456"
    )
    page = org.client().get(f"/numbers/{number.pk}/pairing").content.decode()
    # The Content-Security-Policy blocks on* attributes: setup.js selects the values instead.
    assert "onfocus" not in page and page.count("data-select-all") == 2
