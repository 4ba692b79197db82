"""What the pywa tests of the sandbox's Graph API share: pywa's client pointed at the
sandbox, a tiny webhook receiver, and pywa's parsing of what it received.

pywa's constructor has no base URL: it pins https://graph.facebook.com/v{version} on its
httpx session. The session it is given carries a transport that sends those requests to the
sandbox's Graph API on the live server instead (public httpx API, nothing of pywa patched).
Webhooks go over real HTTP to a tiny local receiver; each is checked against its signature
and parsed by pywa's own update handling (WhatsApp.webhook_update_handler).
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from pywa import WhatsApp, handlers

from conversa.sandbox import graph, simulator
from conversa.sandbox.courier import Courier
from tests.conftest import wait_for

SECRET = "app-secret-of-the-test"
CUSTOMER = "5511988887777"  # typed with the ninth digit; registered without it
WA_ID = "551188887777"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(300)
OGG = b"OggS\x00\x02" + bytes(22) + b"OpusHead\x01\x01" + bytes(200)


class ToSandbox(httpx.HTTPTransport):
    """Sends what pywa addresses to graph.facebook.com to the sandbox's Graph API."""

    def __init__(self, live_url: str):
        super().__init__()
        self.live = httpx.URL(live_url)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "graph.facebook.com":
            request.url = request.url.copy_with(
                scheme=self.live.scheme,
                host=self.live.host,
                port=self.live.port,
                path="/sandbox/graph" + request.url.path,
            )
            request.headers["Host"] = f"{self.live.host}:{self.live.port}"
        return super().handle_request(request)


class Receiver:
    """A tiny HTTP server that keeps every webhook it is sent: (signature, raw body)."""

    def __init__(self):
        self.received: list[tuple[str, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((self.headers.get("X-Hub-Signature-256", ""), raw))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def find(self, predicate):
        """The first webhook whose `value` matches, as (signature, raw, value)."""
        for signature, raw in list(self.received):
            value = json.loads(raw)["entry"][0]["changes"][0]["value"]
            if predicate(value):
                return signature, raw, value
        return None


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture
def sandbox(live_server, settings, transactional_db, monkeypatch, receiver):
    """A Cloud number on the live server's sandbox, its webhooks delivered for real."""
    monkeypatch.setattr(simulator.courier, "post", Courier.post.__get__(simulator.courier))
    settings.SANDBOX_DELIVERY_DELAY = 0.05
    simulator.courier.clear()
    twin = simulator.create_cloud_number("106540352242922", "5511933334444", receiver.url, SECRET)
    yield twin
    assert simulator.courier.drain(timeout=10), "webhooks still in flight after the test"


@pytest.fixture
def wa(sandbox, live_server):
    """pywa's client for the twin, with a record of every update its handlers built."""
    session = httpx.Client(transport=ToSandbox(live_server.url), timeout=30)
    client = WhatsApp(
        phone_id=sandbox.name,
        token=sandbox.token,
        session=session,
        api_version="25.0",
        app_secret=SECRET,
    )
    client.updates = []
    kinds = (
        handlers.MessageHandler,
        handlers.CallbackButtonHandler,
        handlers.CallbackSelectionHandler,
        handlers.MessageStatusHandler,
        handlers.PhoneNumberChangeHandler,
        handlers.EditedMessageHandler,
        handlers.DeletedMessageHandler,
        handlers.OutgoingMessageHandler,
    )
    for kind in kinds:
        client.add_handlers(kind(lambda _, update: client.updates.append(update)))
    yield client
    session.close()


def parsed(wa, receiver, predicate, what: str):
    """The webhook matching `predicate`, its signature checked and parsed by pywa."""
    signature, raw, _ = wait_for(lambda: receiver.find(predicate), what)
    assert wa.webhook_update_validator(raw, signature) is None, "bad signature"
    before = len(wa.updates)
    assert wa.webhook_update_handler(raw) == ("ok", 200)
    assert len(wa.updates) == before + 1, f"pywa built no update from {raw[:300]!r}"
    return wa.updates[-1]


def customer_writes(twin, phone=CUSTOMER, body="Oi"):
    return graph.customer_message(twin, phone, "text", {"body": body, "profile_name": "Ana"})
