"""Our Evolution adapter against the sandbox: the two sides of one protocol meet."""

import json

import httpx
import pytest
from django.conf import settings
from django.test import Client

from conversa.numbers.models import Number
from conversa.providers import evolution
from conversa.providers.base import ProviderError
from conversa.providers.evolution import SECRET_HEADER
from conversa.providers.registry import get_provider, sandbox_tenant
from conversa.sandbox import simulator, tenants
from conversa.sandbox.models import SandboxInstance, SandboxMessage
from tests.sandbox.test_protocol import BASE, GLOBAL_KEY

# The Evolution adapter talking to the sandbox (requests carried by the Django test client)


@pytest.fixture
def wire(monkeypatch, db):
    """Route the adapter's HTTP calls to this process's sandbox views through the test client."""
    client = Client()
    calls: list[tuple[str, str, dict]] = []

    def request(method, url, headers=None, timeout=None, **options):
        path = url.removeprefix(settings.SANDBOX_URL)
        assert path != url, f"the adapter called {url}, not the sandbox"
        calls.append((method, path, dict(headers or {})))
        kwargs = {"headers": headers or {}}
        if "json" in options:
            kwargs.update(data=json.dumps(options["json"]), content_type="application/json")
        response = client.generic(method, f"{BASE}{path}", **kwargs)
        return httpx.Response(
            response.status_code,
            content=response.content,
            headers={"Content-Type": response.get("Content-Type", "")},
        )

    monkeypatch.setattr(evolution.http, "request", request)
    return calls


@pytest.fixture
def number(db, org) -> Number:
    """A Conversa number whose sandbox twin does not exist yet."""
    return Number.objects.create(
        organization=org.org,
        name="New number",
        provider=Number.Provider.SANDBOX,
        provider_name="loja-nova",
    )


def test_adapter_creates_connects_and_sends_through_the_sandbox(wire, number):
    provider = get_provider(number)

    number.provider_token = provider.create_instance(number, "http://testserver/webhooks/sandbox/k")

    twin = SandboxInstance.objects.get(name="loja-nova")
    assert twin.token == number.provider_token
    assert twin.webhook_headers == {SECRET_HEADER: number.webhook_secret}
    assert twin.webhook_events == evolution.WEBHOOK_EVENTS
    assert provider.connection_state(number) == "disconnected"
    pairing = provider.connect(number)
    assert pairing.code == SandboxInstance.objects.get(pk=twin.pk).qr_code
    assert pairing.image.startswith("data:image/png;base64,")
    assert provider.connection_state(number) == "connecting"

    simulator.scan(SandboxInstance.objects.get(pk=twin.pk), "5511900000000")
    assert provider.connection_state(number) == "connected"
    assert provider.connect(number) is None

    result = provider.send_text(number, "5511988887777", "Olá", reference="intent-42")

    message = SandboxMessage.objects.get()
    assert result.provider_message_id == message.message_id
    assert (message.from_me, message.text, message.reference) == (True, "Olá", "intent-42")
    # The organization's own key (never the global one) created the number, which is the
    # organization's in the simulator; its own token did everything after.
    tokens = [headers["apikey"] for _, _, headers in wire]
    org_key = tenants.api_key_for(sandbox_tenant(number.organization_id))
    assert tokens == [org_key] + [number.provider_token] * 6
    assert GLOBAL_KEY not in tokens
    assert twin.tenant == sandbox_tenant(number.organization_id)


def test_adapter_send_on_a_closed_number_is_a_permanent_error(wire, number):
    provider = get_provider(number)
    number.provider_token = provider.create_instance(number, "http://testserver/h")

    with pytest.raises(ProviderError) as error:
        provider.send_text(number, "5511988887777", "Olá", reference="r")

    assert error.value.transient is False
    assert "400" in str(error.value)
    assert not SandboxMessage.objects.exists()


def test_adapter_with_a_wrong_token_is_a_permanent_error(wire, number):
    provider = get_provider(number)
    provider.create_instance(number, "http://testserver/h")
    number.provider_token = "not-the-token"

    with pytest.raises(ProviderError) as error:
        provider.connection_state(number)

    assert error.value.transient is False
    assert "401" in str(error.value)
