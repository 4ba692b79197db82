"""A number's whole life through the Evolution adapter, against the sandbox over real HTTP,
with the sandbox's webhooks coming back to Conversa's own endpoint (docs/providers.md §B1–B3)."""

import httpx
import pytest

from conversa.numbers.models import Number
from conversa.providers.base import Pairing, ProviderError
from conversa.providers.models import ProviderEvent
from conversa.providers.registry import get_provider
from conversa.sandbox.models import SandboxInstance
from tests.conftest import make_org, wait_for


@pytest.fixture
def live(delivered_webhooks):
    return delivered_webhooks


@pytest.fixture
def number(live) -> Number:
    """A sandbox number of a fresh organization, not yet created on the sandbox."""
    org = make_org(webhook_base=live)
    return Number.objects.create(
        organization=org.org,
        name="Loja do centro",
        provider=Number.Provider.SANDBOX,
        provider_name="loja-centro",
        status=Number.Status.CREATED,
    )


def webhook_url(live: str, number: Number) -> str:
    return f"{live}/webhooks/sandbox/{number.webhook_key}"


def created(live: str, number: Number):
    provider = get_provider(number)
    number.provider_token = provider.create_instance(number, webhook_url(live, number))
    number.save(update_fields=["provider_token"])
    return provider


def act(live: str, on: Number, action: str, **body) -> httpx.Response:
    """What the person does on the sandbox page: scan, drop, let the QR expire."""
    return httpx.post(
        f"{live}/sandbox/evolution/{action}/{on.provider_name}",
        headers={"apikey": on.provider_token},
        json=body,
        timeout=30,  # a loaded machine's live server, not a quiet one's
    )


def status_of(number: Number) -> str:
    return Number.objects.values_list("status", flat=True).get(pk=number.pk)


def connection_events(number: Number, **event) -> list[dict]:
    records = ProviderEvent.objects.filter(number=number, kind="ConnectionUpdate")
    return [
        r.event for r in records.order_by("id") if all(r.event[k] == v for k, v in event.items())
    ]


def test_a_number_is_created_paired_dropped_logged_out_paired_again_and_deleted(live, number):
    provider = created(live, number)
    assert provider.connection_state(number) == "disconnected"

    first = provider.connect(number)
    assert isinstance(first, Pairing)
    assert first.image.startswith("data:image/png;base64,")
    wait_for(lambda: Number.objects.get(pk=number.pk).qr_code == first.code, "the QR by webhook")
    assert status_of(number) == Number.Status.CONNECTING

    assert act(live, number, "scan", number="5511955554444").status_code == 200
    assert provider.connection_state(number) == "connected"
    wait_for(lambda: status_of(number) == Number.Status.CONNECTED, "connection.update open")
    assert Number.objects.get(pk=number.pk).phone_number == "5511955554444"
    assert provider.connect(number) is None

    # A short drop: Baileys reconnects by itself, the server says connecting, then open.
    assert act(live, number, "drop").status_code == 200
    assert provider.connection_state(number) == "connected"
    wait_for(lambda: connection_events(number, status="connecting"), "connection.update connecting")
    wait_for(lambda: status_of(number) == Number.Status.CONNECTED, "connected again by itself")
    assert connection_events(number, status="disconnected") == []

    # The session is removed on the phone (401): closed until paired again.
    assert act(live, number, "close", statusReason=401).status_code == 200
    assert provider.connection_state(number) == "disconnected"
    wait_for(lambda: status_of(number) == Number.Status.DISCONNECTED, "connection.update close")
    wait_for(lambda: len(connection_events(number, reason="logged_out")) == 3, "the phone's logout")

    again = provider.connect(number)
    assert again.code != first.code
    act(live, number, "scan")
    wait_for(lambda: status_of(number) == Number.Status.CONNECTED, "connected again")

    provider.logout(number)
    assert provider.connection_state(number) == "disconnected"
    # A close that will not reconnect, status.instance "closed", then logout.instance.
    wait_for(lambda: len(connection_events(number, reason="logged_out")) == 6, "the logout")
    assert status_of(number) == Number.Status.DISCONNECTED
    provider.logout(number)  # already closed: Evolution's 400 counts as done

    provider.delete_instance(number)
    assert not SandboxInstance.objects.filter(name=number.provider_name).exists()
    provider.delete_instance(number)  # already gone: the 404 counts as done


def test_each_connect_shows_a_fresh_qr_and_announces_it(live, number):
    provider = created(live, number)

    codes = [provider.connect(number).code, provider.connect(number).code]

    assert codes[0] != codes[1]
    wait_for(lambda: ProviderEvent.objects.filter(kind="QrUpdate").count() == 2, "two QRs")
    stored = ProviderEvent.objects.filter(number=number, kind="QrUpdate").order_by("id")
    assert [record.event["code"] for record in stored] == codes
    wait_for(lambda: Number.objects.get(pk=number.pk).qr_code == codes[1], "the newest QR")


def test_a_qr_nobody_scans_ends_refused(live, number):
    provider = created(live, number)
    provider.connect(number)

    assert act(live, number, "refuse").status_code == 200

    wait_for(lambda: connection_events(number, reason="refused"), "connection.update refused")
    assert connection_events(number, reason="refused") == [
        {"status": "disconnected", "phone": "", "reason": "refused"}
    ]
    assert status_of(number) == Number.Status.DISCONNECTED
    assert provider.connection_state(number) == "disconnected"


def test_restart_keeps_an_open_number_open_and_refuses_a_closed_one(live, number, caplog):
    provider = created(live, number)

    with pytest.raises(ProviderError) as refused:
        provider.restart(number)
    assert refused.value.transient is False
    # What the provider said is logged; the error (shown on pages) does not repeat it.
    assert "not connected" not in str(refused.value)
    assert "not connected" in caplog.text

    provider.connect(number)
    act(live, number, "scan")
    provider.restart(number)

    assert provider.connection_state(number) == "connected"
    wait_for(lambda: status_of(number) == Number.Status.CONNECTED, "reconnected after restart")


def test_templates_are_a_permanent_error_on_evolution(live, number):
    provider = created(live, number)

    with pytest.raises(ProviderError) as error:
        provider.send_template(number, "5511988887777", "welcome", "pt_BR", [], reference="r")

    assert error.value.transient is False
    assert "Cloud API" in str(error.value)


def test_create_sends_the_webhook_with_its_secret_and_the_events_we_follow(live, number):
    created(live, number)

    found = httpx.get(
        f"{live}/sandbox/evolution/webhook/find/{number.provider_name}",
        headers={"apikey": number.provider_token},
        timeout=30,
    ).json()

    assert found["url"] == webhook_url(live, number)
    assert found["enabled"] is True
    assert found["headers"] == {"X-Conversa-Secret": number.webhook_secret}
    assert set(found["events"]) >= {
        "QRCODE_UPDATED",
        "CONNECTION_UPDATE",
        "MESSAGES_UPSERT",
        "MESSAGES_UPDATE",
        "LOGOUT_INSTANCE",
        "STATUS_INSTANCE",
    }
    assert (found["webhookByEvents"], found["webhookBase64"]) == (False, False)
