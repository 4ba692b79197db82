"""The sandbox's lifecycle routes answer as Evolution API v2 does (docs/providers.md §B1, §B3), and
its customer page drives them for a person."""

import json

import pytest
from django.conf import settings

from conversa.providers.base import ConnectionUpdate
from conversa.providers.evolution import EvolutionProvider
from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxInstance, SandboxMessage
from tests.sandbox.test_protocol import (
    assert_evolution_error,
    call,
    create,
    open_instance,
)


def events(webhooks_sent: list[dict]) -> list[str]:
    return [w["body"]["event"] for w in webhooks_sent]


def parsed(webhooks_sent: list[dict]) -> list:
    adapter = EvolutionProvider(settings.SANDBOX_URL, "k")
    return [
        item.event
        for w in webhooks_sent
        for item in adapter.parse_webhook(None, json.dumps(w["body"]).encode())
    ]


@pytest.fixture
def hooked(client, org, webhooks_sent) -> str:
    """An instance of `org` with a webhook (created with the organization's key, as Conversa
    creates its numbers); returns its token."""
    token = create(
        client, "loja", apikey=org.sandbox_key(), webhook={"url": "http://conversa.test/hook"}
    ).json()["hash"]
    webhooks_sent.clear()
    return token


# Logout


def test_logout_answers_success_and_reports_a_logout(client, hooked, webhooks_sent):
    open_instance("loja")
    webhooks_sent.clear()

    response = call(client, "delete", "/instance/logout/loja", hooked)

    assert response.status_code == 200
    assert response.json() == {
        "status": "SUCCESS",
        "error": False,
        "response": {"message": "Instance logged out"},
    }
    assert SandboxInstance.objects.get(name="loja").state == "close"
    assert events(webhooks_sent) == ["connection.update", "status.instance", "logout.instance"]
    assert webhooks_sent[0]["body"]["data"]["statusReason"] == 401
    assert webhooks_sent[2]["body"]["data"] is None
    logged_out = ConnectionUpdate(status="disconnected", reason="logged_out")
    assert parsed(webhooks_sent)[1:] == [logged_out, logged_out]
    assert parsed(webhooks_sent)[0].reason == "logged_out"


def test_logout_of_a_closed_instance_is_400(client, hooked, webhooks_sent):
    response = call(client, "delete", "/instance/logout/loja", hooked)

    body = assert_evolution_error(response, 400, "Bad Request")
    assert "not connected" in body["response"]["message"][0]
    assert webhooks_sent == []


def test_logout_only_accepts_delete(client, hooked):
    assert call(client, "post", "/instance/logout/loja", hooked).status_code == 405


# Delete


def test_delete_of_an_open_instance_logs_it_out_first(client, hooked, webhooks_sent):
    open_instance("loja")
    webhooks_sent.clear()

    response = call(client, "delete", "/instance/delete/loja", hooked)

    assert response.status_code == 200
    assert response.json()["response"] == {"message": "Instance deleted"}
    assert not SandboxInstance.objects.filter(name="loja").exists()
    assert events(webhooks_sent)[:3] == [
        "connection.update",
        "status.instance",
        "logout.instance",
    ]


def test_delete_of_a_closed_instance_just_removes_it(client, hooked, webhooks_sent):
    response = call(client, "delete", "/instance/delete/loja", hooked)

    assert response.status_code == 200
    assert "logout.instance" not in events(webhooks_sent)
    assert not SandboxInstance.objects.filter(name="loja").exists()


def test_a_deleted_instance_is_404_even_for_its_old_token(client, hooked):
    call(client, "delete", "/instance/delete/loja", hooked)

    response = call(client, "delete", "/instance/delete/loja", hooked)

    assert_evolution_error(response, 404, "Not Found")


# Restart


def test_restart_of_an_open_instance_reconnects_it(client, hooked, webhooks_sent):
    open_instance("loja")
    webhooks_sent.clear()

    response = call(client, "post", "/instance/restart/loja", hooked)

    assert response.json() == {"instance": {"instanceName": "loja", "state": "open"}}
    assert [w["body"]["data"]["state"] for w in webhooks_sent] == ["connecting", "open"]


def test_restart_of_a_closed_instance_is_evolutions_200_error(client, hooked):
    response = call(client, "post", "/instance/restart/loja", hooked)

    assert response.status_code == 200
    assert response.json()["error"] is True
    assert "not connected" in response.json()["message"]


def test_restart_while_connecting_shows_a_fresh_qr(client, hooked):
    first = call(client, "get", "/instance/connect/loja", hooked).json()["code"]

    response = call(client, "post", "/instance/restart/loja", hooked)

    assert response.json()["code"] != first
    assert response.json()["count"] == 2


# Scan, drop, refuse (the sandbox's own routes)


def test_scan_opens_a_connecting_instance_with_the_phone_given(client, hooked, webhooks_sent):
    call(client, "get", "/instance/connect/loja", hooked)

    response = call(client, "post", "/scan/loja", hooked, {"number": "+55 11 95555-4444"})

    assert response.json() == {"instance": {"instanceName": "loja", "state": "open"}}
    twin = SandboxInstance.objects.get(name="loja")
    assert (twin.state, twin.owner_phone, twin.qr_code) == ("open", "5511955554444", "")
    assert parsed(webhooks_sent)[-1] == ConnectionUpdate(status="connected", phone="5511955554444")


def test_scan_without_a_qr_on_show_is_400(client, hooked):
    assert_evolution_error(call(client, "post", "/scan/loja", hooked, {}), 400, "Bad Request")


def test_drop_reconnects_quietly_as_baileys_does(client, hooked, webhooks_sent):
    open_instance("loja")
    webhooks_sent.clear()

    response = call(client, "post", "/drop/loja", hooked)

    # A transient close (428) is never announced: connecting, then open again.
    assert response.json()["instance"]["state"] == "open"
    assert [w["body"]["data"]["state"] for w in webhooks_sent] == ["connecting", "open"]
    assert SandboxInstance.objects.get(name="loja").state == "open"


def test_drop_of_an_instance_that_is_not_open_is_400(client, hooked):
    assert_evolution_error(call(client, "post", "/drop/loja", hooked), 400, "Bad Request")


def test_refuse_ends_the_pairing_as_the_qr_limit_does(client, hooked, webhooks_sent):
    call(client, "get", "/instance/connect/loja", hooked)
    webhooks_sent.clear()

    response = call(client, "post", "/refuse/loja", hooked)

    assert response.json()["instance"]["state"] == "close"
    assert events(webhooks_sent) == ["qrcode.updated", "connection.update"]
    assert webhooks_sent[1]["body"]["data"]["state"] == "refused"
    assert parsed(webhooks_sent) == [ConnectionUpdate(status="disconnected", reason="refused")]


def test_refuse_without_a_qr_on_show_is_400(client, hooked):
    assert_evolution_error(call(client, "post", "/refuse/loja", hooked), 400, "Bad Request")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/instance/logout/loja"),
        ("delete", "/instance/delete/loja"),
        ("post", "/instance/restart/loja"),
        ("get", "/webhook/find/loja"),
        ("post", "/drop/loja"),
    ],
)
def test_lifecycle_routes_without_a_valid_key_are_401(client, hooked, method, path):
    open_instance("loja")

    response = call(client, method, path, apikey="wrong")

    assert_evolution_error(response, 401, "Unauthorized")
    assert SandboxInstance.objects.get(name="loja").state == "open"


# The Graph API's number lookup


def test_graph_number_lookup_needs_the_numbers_token(client, db):
    twin = simulator.create_cloud_number("106540352242922", "5511933334444", "", "s")
    path = "/sandbox/graph/v21.0/106540352242922"

    good = client.get(path, headers={"Authorization": f"Bearer {twin.token}"})
    bad = client.get(path, headers={"Authorization": "Bearer nope"})
    unknown = client.get(
        "/sandbox/graph/v21.0/1", headers={"Authorization": f"Bearer {twin.token}"}
    )

    assert good.json() == {
        "display_phone_number": "+5511933334444",
        "verified_name": "Conversa Sandbox",
        "id": "106540352242922",
    }
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == 190
    assert bad.json()["error"]["type"] == "OAuthException"
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == 100


# The customer page


def test_customer_page_lists_both_protocols(member_client, org):
    simulator.create_cloud_number(
        "106540352242922", "5511933334444", "", "s", tenant=str(org.org.pk)
    )

    page = member_client.get("/sandbox/").content.decode()

    assert f">{org.twin.name} (+{org.twin.owner_phone}) · Evolution — connected<" in page
    assert ">106540352242922 (+5511933334444) · Cloud API — connected<" in page


def test_customer_page_shows_the_qr_to_scan_while_connecting(member_client, db, hooked):
    code = call(member_client, "get", "/instance/connect/loja", hooked).json()["code"]

    page = member_client.get("/sandbox/?instance=loja").content.decode()

    assert 'class="sandbox-qr" src="data:image/png;base64,' in page
    assert "Scan the QR code" in page
    assert "Drop connection" not in page
    member_client.post("/sandbox/scan", {"instance": "loja"})
    twin = SandboxInstance.objects.get(name="loja")
    assert twin.state == "open"
    assert twin.qr_code == "" != code


def test_customer_page_drops_an_open_connection_which_comes_back(
    member_client, hooked, webhooks_sent
):
    open_instance("loja")

    page = member_client.get("/sandbox/?instance=loja").content.decode()
    assert "Drop connection" in page
    assert "Scan the QR code" not in page
    webhooks_sent.clear()

    response = member_client.post("/sandbox/drop", {"instance": "loja"})

    assert response.status_code == 302
    assert SandboxInstance.objects.get(name="loja").state == "open"
    assert [w["body"]["data"]["state"] for w in webhooks_sent] == ["connecting", "open"]


def test_customer_page_lets_a_qr_expire(member_client, hooked, webhooks_sent):
    call(member_client, "get", "/instance/connect/loja", hooked)

    member_client.post("/sandbox/refuse", {"instance": "loja"})

    assert SandboxInstance.objects.get(name="loja").state == "close"
    assert webhooks_sent[-1]["body"]["data"]["state"] == "refused"


def test_a_stale_page_button_changes_nothing(member_client, hooked, webhooks_sent):
    response = member_client.post("/sandbox/drop", {"instance": "loja"})

    assert response.status_code == 302
    assert SandboxInstance.objects.get(name="loja").state == "close"
    assert webhooks_sent == []


def test_customer_page_shows_no_scan_for_a_cloud_number(member_client, org):
    simulator.create_cloud_number(
        "106540352242922", "5511933334444", "", "s", tenant=str(org.org.pk)
    )

    page = member_client.get("/sandbox/?instance=106540352242922").content.decode()

    assert "no QR code to scan" in page
    assert "Scan the QR code" not in page
    assert "Drop connection" not in page


def test_customer_page_escapes_what_strangers_write(member_client, org):
    simulator.customer_says(org.twin, "5511977776666", "<script>alert(1)</script>", "<b>Eve</b>")
    SandboxMessage.objects.update(kind="<i>x</i>")

    chat = member_client.get(f"/sandbox/chat?instance={org.twin.name}&phone=5511977776666")

    html = chat.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<i>x</i>" not in html
