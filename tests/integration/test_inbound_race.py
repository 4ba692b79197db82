"""A contact's first messages reaching two web processes at the same instant (PostgreSQL): one
contact, one conversation, and each message once, held by the database's unique constraints.

Two real `conversa serve` processes over the test database; each round POSTs at once (threads
released by a barrier) either the same webhook to both, as a provider retry or a duplicate
subscription would, or two different first messages of one contact, one to each.
"""

import json
import threading
import time
from contextlib import ExitStack

import httpx
import pytest
from django.db import connection

from bench.cluster import web_server
from conversa.inbox.models import Contact, Conversation, Message
from conversa.numbers.models import Number
from conversa.providers.cloud import signature
from conversa.providers.evolution import SECRET_HEADER
from tests.conftest import make_org

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="several writing processes: PostgreSQL only"
)

ROUNDS = 8
APP_SECRET = "app-secret-for-race"


@pytest.fixture(scope="module")
def servers(django_db_setup):
    """Two web processes over the test database, each with its own keep-alive client; started
    once for the module."""
    with ExitStack() as stack:
        clients = []
        for n in range(2):
            _, port = stack.enter_context(
                web_server(f"inbound-race-serve-{n}", REDIS_URL="", CONVERSA_PUBLIC_URL="http://x")
            )
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
            stack.callback(client.close)
            clients.append(client)
        yield clients


@pytest.fixture
def numbers(transactional_db):
    org = make_org()
    evolution = Number.objects.create(
        organization=org.org,
        name="Evolution number",
        provider=Number.Provider.EVOLUTION,
        provider_name="race",
        status=Number.Status.CONNECTED,
    )
    cloud = Number.objects.create(
        organization=org.org,
        name="Cloud number",
        provider=Number.Provider.CLOUD,
        provider_name="106540352242922",
        provider_token="token",
        app_secret=APP_SECRET,
        status=Number.Status.CONNECTED,
    )
    return org, evolution, cloud


def evolution_upsert(phone: str, message_id: str, text: str) -> dict:
    return {
        "event": "messages.upsert",
        "instance": "race",
        "data": {
            "key": {"remoteJid": f"{phone}@s.whatsapp.net", "fromMe": False, "id": message_id},
            "pushName": "Cliente",
            "message": {"conversation": text},
            "messageType": "conversation",
            "messageTimestamp": int(time.time()),
        },
    }


def cloud_message(phone: str, message_id: str, text: str) -> dict:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Cliente"}, "wa_id": phone}],
        "messages": [
            {
                "from": phone,
                "id": message_id,
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": text},
            }
        ],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}],
    }


def request(number: Number, payload: dict) -> tuple[str, bytes, dict]:
    raw = json.dumps(payload).encode()
    if number.provider == Number.Provider.CLOUD:
        headers = {"X-Hub-Signature-256": "sha256=" + signature(APP_SECRET, raw)}
    else:
        headers = {SECRET_HEADER: number.webhook_secret}
    headers["Content-Type"] = "application/json"
    return f"/webhooks/{number.provider}/{number.webhook_key}", raw, headers


def at_once(servers: list[httpx.Client], requests: list[tuple[str, bytes, dict]]) -> list[int]:
    """POST requests[i] to servers[i], all released by one barrier; their status codes."""
    barrier = threading.Barrier(len(requests))
    codes = [0] * len(requests)

    def send(n: int) -> None:
        url, raw, headers = requests[n]
        barrier.wait()
        codes[n] = servers[n].post(url, content=raw, headers=headers).status_code

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


def shape(number: Number):
    return cloud_message if number.provider == Number.Provider.CLOUD else evolution_upsert


def one_contact_one_conversation(org, number: Number, phone: str) -> Contact:
    contact = Contact.objects.get(organization=org.org, phone=phone)
    assert Conversation.objects.filter(number=number, contact=contact).count() == 1
    return contact


@pytest.mark.parametrize("provider", ["evolution", "cloud"])
def test_the_same_first_message_to_two_processes_is_stored_once(servers, numbers, provider):
    org, evolution, cloud = numbers
    number = cloud if provider == "cloud" else evolution
    for n in range(ROUNDS):
        phone = f"55119{provider == 'cloud':d}7{n:06d}"
        payload = shape(number)(phone, f"RACE-SAME-{provider}-{n}", "Oi")

        codes = at_once(servers, [request(number, payload)] * 2)

        assert codes == [200, 200]
        contact = one_contact_one_conversation(org, number, phone)
        assert Message.objects.filter(conversation__contact=contact).count() == 1


@pytest.mark.parametrize("provider", ["evolution", "cloud"])
@pytest.mark.parametrize("known", [False, True], ids=["new-contact", "known-contact"])
def test_two_first_messages_of_one_contact_make_one_conversation(servers, numbers, provider, known):
    """A known contact (imported, or met on another number) has no conversation here yet: then
    only the conversation's own constraint keeps the two processes from opening one each."""
    org, evolution, cloud = numbers
    number = cloud if provider == "cloud" else evolution
    for n in range(ROUNDS):
        phone = f"55119{provider == 'cloud':d}{known:d}{n:06d}"
        if known:
            Contact.objects.create(organization=org.org, phone=phone, name="Imported")
        first = shape(number)(phone, f"RACE-A-{provider}-{known}-{n}", "Oi")
        second = shape(number)(phone, f"RACE-B-{provider}-{known}-{n}", "Tudo bem?")

        codes = at_once(servers, [request(number, first), request(number, second)])

        assert codes == [200, 200]
        contact = one_contact_one_conversation(org, number, phone)
        bodies = Message.objects.filter(conversation__contact=contact).values_list("body")
        assert sorted(body for (body,) in bodies) == ["Oi", "Tudo bem?"]
