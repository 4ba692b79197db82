"""Where and how the sandbox delivers webhooks: the webhook an instance is set to, the events
it follows, and the disorder it can add on purpose (duplicates, reordering), over real HTTP."""

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from conversa.inbox.models import Message
from conversa.providers.models import ProviderEvent
from conversa.providers.registry import get_provider
from conversa.sandbox import simulator
from conversa.sandbox.courier import Courier
from conversa.sandbox.models import SandboxInstance
from tests.conftest import make_org
from tests.sandbox.test_protocol import BASE, GLOBAL_KEY, call, create


class Receiver:
    """A webhook receiver on a real port that keeps every POST it gets."""

    def __init__(self):
        self.posts: list[dict] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append({"path": self.path, "headers": dict(self.headers), "raw": raw})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                """Quiet: the test reads what arrived, not the access log."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self, path: str | None = None) -> list[dict]:
        return [json.loads(p["raw"]) for p in self.posts if path is None or p["path"] == path]

    def wait(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.posts) >= count, f"got {len(self.posts)} webhooks, expected {count}"


@pytest.fixture
def receiver(monkeypatch):
    """Webhooks really delivered by the courier, to a receiver of our own."""
    monkeypatch.setattr(simulator.courier, "post", Courier.post.__get__(simulator.courier))
    simulator.courier.clear()
    receiver = Receiver()
    yield receiver
    assert simulator.courier.drain(timeout=10), "webhooks still in flight after the test"
    receiver.server.shutdown()
    receiver.server.server_close()


def open_twin(url: str) -> SandboxInstance:
    """An open sandbox number whose webhooks go to `url` (opened quietly: no webhook)."""
    twin = simulator.create_instance("loja", {"url": url})
    SandboxInstance.objects.filter(pk=twin.pk).update(state="open", owner_phone="5511900000000")
    twin.refresh_from_db()
    return twin


def says(instance: SandboxInstance, text: str, phone: str = "5511977776666"):
    """A customer message outside a request: its webhook goes once the row is committed."""
    return simulator.customer_says(instance, phone, text, "Ana")


# Setting the webhook


@pytest.mark.django_db(transaction=True)
def test_set_webhook_moves_the_webhooks_to_the_new_url(live_server, settings, receiver, org):
    settings.SANDBOX_URL = f"{live_server.url}/sandbox/evolution"
    number = org.number
    provider = get_provider(number)

    provider.set_webhook(number, f"{receiver.url}/new-home")
    org.twin.refresh_from_db()
    says(org.twin, "Bom dia")

    receiver.wait(1)
    [body] = receiver.bodies("/new-home")
    assert body["event"] == "messages.upsert"
    assert body["data"]["message"] == {"conversation": "Bom dia"}
    assert receiver.posts[0]["headers"]["X-Conversa-Secret"] == number.webhook_secret


def test_set_webhook_answers_the_record_and_find_reads_it_back(client, db):
    token = create(client, "loja").json()["hash"]
    webhook = {
        "enabled": True,
        "url": "http://conversa.test/hook",
        "headers": {"X-Conversa-Secret": "s"},
        "byEvents": False,
        "base64": True,
        "events": ["MESSAGES_UPSERT", "connection_update"],
    }

    answer = call(client, "post", "/webhook/set/loja", token, {"webhook": webhook})
    found = call(client, "get", "/webhook/find/loja", token)

    assert answer.status_code == 201
    assert answer.json() == found.json()
    assert found.json()["url"] == "http://conversa.test/hook"
    assert found.json()["events"] == ["MESSAGES_UPSERT", "CONNECTION_UPDATE"]
    assert (found.json()["enabled"], found.json()["webhookBase64"]) == (True, True)


@pytest.mark.parametrize(
    "webhook",
    [
        None,
        {"url": "http://conversa.test/hook"},
        {"enabled": True},
        {"enabled": True, "url": "ftp://conversa.test/hook"},
        {"enabled": True, "url": "http://conversa.test/hook", "events": ["NOT_AN_EVENT"]},
        {"enabled": True, "url": "http://conversa.test/hook", "headers": ["X-A"]},
    ],
    ids=["missing", "no-enabled", "no-url", "not-http", "unknown-event", "headers-not-object"],
)
def test_set_webhook_with_a_bad_body_is_400_and_changes_nothing(client, db, webhook):
    create(client, "loja", webhook={"url": "http://conversa.test/old"})

    response = call(client, "post", "/webhook/set/loja", body={"webhook": webhook})

    assert response.status_code == 400
    assert SandboxInstance.objects.get(name="loja").webhook_url == "http://conversa.test/old"


def test_a_disabled_webhook_sends_nothing(client, db, webhooks_sent):
    create(client, "loja", webhook={"url": "http://conversa.test/hook"})
    call(client, "post", "/webhook/set/loja", body={"webhook": {"enabled": False, "url": ""}})

    call(client, "get", "/instance/connect/loja")

    assert webhooks_sent == []


def test_only_the_events_followed_are_sent(client, db, webhooks_sent):
    create(
        client, "loja", webhook={"url": "http://conversa.test/hook", "events": ["QRCODE_UPDATED"]}
    )

    call(client, "get", "/instance/connect/loja")

    assert [w["body"]["event"] for w in webhooks_sent] == ["qrcode.updated"]


def test_by_events_appends_the_event_to_the_url(client, db, webhooks_sent):
    create(client, "loja", webhook={"url": "http://conversa.test/hook", "byEvents": True})

    call(client, "get", "/instance/connect/loja")

    assert [w["url"] for w in webhooks_sent] == [
        "http://conversa.test/hook/connection-update",
        "http://conversa.test/hook/qrcode-updated",
    ]


# Deliberate disorder


def test_faults_route_sets_duplication_and_reordering(client, db):
    create(client, "loja")

    response = call(
        client, "post", "/faults/loja", body={"duplicate_rate": 0.25, "reorder_ms": 800}
    )

    assert response.status_code == 200
    assert (response.json()["duplicate_rate"], response.json()["reorder_ms"]) == (0.25, 800)
    twin = SandboxInstance.objects.get(name="loja")
    assert (twin.duplicate_rate, twin.reorder_ms) == (0.25, 800)


@pytest.mark.parametrize(
    "body", [{"duplicate_rate": 1.5}, {"duplicate_rate": -0.1}, {"reorder_ms": "soon"}]
)
def test_faults_route_refuses_impossible_disorder(client, db, body):
    create(client, "loja")

    response = call(client, "post", "/faults/loja", body=body)

    assert response.status_code == 400
    twin = SandboxInstance.objects.get(name="loja")
    assert (twin.duplicate_rate, twin.reorder_ms) == (0.0, 0)


def test_every_webhook_twice_reaches_the_receiver_twice(transactional_db, receiver):
    twin = simulator.set_faults(open_twin(f"{receiver.url}/hook"), duplicate_rate=1.0)

    says(twin, "Oi")

    receiver.wait(2)
    time.sleep(0.2)  # nothing more than the two copies comes
    assert len(receiver.posts) == 2
    assert receiver.posts[0]["raw"] == receiver.posts[1]["raw"]


def test_a_duplicated_webhook_is_stored_once_by_conversa(transactional_db, receiver):
    org = make_org()
    webhook = {"enabled": True, "url": f"{receiver.url}/hook", "headers": org.twin.webhook_headers}
    simulator.set_webhook(org.twin, webhook)
    simulator.set_faults(org.twin, duplicate_rate=1.0)
    says(org.twin, "Oi, duas vezes?")
    receiver.wait(2)

    answers = [
        Client()
        .post(
            f"/webhooks/sandbox/{org.number.webhook_key}",
            data=post["raw"],
            content_type="application/json",
            headers={"X-Conversa-Secret": post["headers"]["X-Conversa-Secret"]},
        )
        .json()
        for post in receiver.posts
    ]

    assert [(a["stored"], a["duplicates"]) for a in answers] == [(1, 0), (0, 1)]
    assert Message.objects.filter(body="Oi, duas vezes?").count() == 1
    assert ProviderEvent.objects.filter(number=org.number).count() == 1


def test_reordering_delays_each_webhook_by_up_to_reorder_ms(db, webhooks_sent):
    twin = simulator.create_instance("loja", {"url": "http://conversa.test/hook"})
    simulator.set_faults(twin, reorder_ms=400)
    random.seed(7)

    for _ in range(20):
        simulator.emit(twin, "connection.update", {"instance": "loja", "state": "connecting"})

    delays = [w["delay"] for w in webhooks_sent]
    assert all(0 <= delay <= 0.4 for delay in delays)
    # Later webhooks are due before earlier ones: the courier delivers them first.
    assert any(later < earlier for earlier, later in zip(delays, delays[1:], strict=False))


def test_reordered_webhooks_arrive_out_of_order(transactional_db, receiver):
    twin = simulator.set_faults(open_twin(f"{receiver.url}/hook"), reorder_ms=300)
    random.seed(3)

    sent = [says(twin, f"mensagem {n}").message_id for n in range(12)]

    receiver.wait(12)
    arrived = [body["data"]["key"]["id"] for body in receiver.bodies()]
    assert sorted(arrived) == sorted(sent)
    assert arrived != sent


def test_no_disorder_by_default(db, webhooks_sent):
    twin = simulator.create_instance("loja", {"url": "http://conversa.test/hook"})

    simulator.emit(twin, "connection.update", {"instance": "loja", "state": "connecting"})

    assert [w["delay"] for w in webhooks_sent] == [0.0]


def test_cloud_webhooks_are_duplicated_too(db, webhooks_sent):
    twin = simulator.create_cloud_number("106540352242922", "5511933334444", "http://c.test/h", "s")
    simulator.set_faults(twin, duplicate_rate=1.0)

    simulator.emit_graph(twin, {"statuses": []})

    assert len(webhooks_sent) == 2
    assert webhooks_sent[0]["body"] == webhooks_sent[1]["body"]
    assert all(w["secret"] == "s" for w in webhooks_sent)


def test_fetch_instances_lists_all_for_the_global_key_and_one_for_its_token(client, db):
    token = create(client, "loja").json()["hash"]
    create(client, "outra")

    everyone = client.get(f"{BASE}/instance/fetchInstances", headers={"apikey": GLOBAL_KEY})
    own = client.get(f"{BASE}/instance/fetchInstances", headers={"apikey": token})
    stranger = client.get(f"{BASE}/instance/fetchInstances", headers={"apikey": "nope"})

    assert [i["name"] for i in everyone.json()] == ["loja", "outra"]
    assert [i["name"] for i in own.json()] == ["loja"]
    assert own.json()[0]["connectionStatus"] == "close"
    assert own.json()[0]["token"] == token
    assert stranger.status_code == 401
