"""The simulator's request bin receives Conversa's outbound webhooks and checks their
signatures as a receiver would (its own code, from the specification)."""

import time

import httpx
import pytest
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client

from conversa.sandbox import request_bin
from conversa.sandbox.models import SandboxHookBin, SandboxHookRequest
from conversa.webhooks import sending, signing
from conversa.webhooks.models import Endpoint

pytestmark = pytest.mark.django_db


def test_the_bin_checks_signatures_as_the_specification_says():
    # The specification's published test vector (see tests/webhooks/test_signing.py).
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    body = b'{"test": 2432232314}'
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert request_bin.verify(secret, headers, body, now=1614265330)
    assert not request_bin.verify(secret, headers, body + b" ", now=1614265330)
    assert not request_bin.verify(secret, headers, body)  # years too late: a replay
    fresh = signing.headers([signing.new_secret(), secret], "evt_1", int(time.time()), body)
    assert request_bin.verify(secret, fresh, body)


def test_anonymous_visitors_cannot_read_the_bin(org):
    assert Client().get("/sandbox/hooks/").status_code == 302
    assert Client().post("/sandbox/hooks/in/nobody", b"{}", "application/json").status_code == 404


def test_a_delivery_arrives_verified_in_the_bin(org, monkeypatch):
    """End to end in one process: a customer's message, the outbox, the worker's send (through
    a WSGI transport to this very app instead of the network), the bin's check and its page."""
    page = org.client().get("/sandbox/hooks/")
    hook_bin = SandboxHookBin.objects.get()
    assert hook_bin.key in page.text
    endpoint = Endpoint.objects.create(
        organization=org.org,
        url=f"http://testserver/sandbox/hooks/in/{hook_bin.key}",
        event_types=["message.received"],
        secret=signing.new_secret(),
    )
    org.client().post("/sandbox/hooks/secret", {"secret": endpoint.secret})
    wsgi = httpx.Client(transport=httpx.WSGITransport(app=get_wsgi_application()))
    monkeypatch.setattr(sending, "client", wsgi)
    org.customer_writes(text="Quero saber do pedido")
    # As Django's test client does: the app must not close the test's own connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        assert sending.send_due("w", 10, concurrency=1) == 1
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    received = SandboxHookRequest.objects.get()
    assert received.verified is True
    assert "Quero saber do pedido" in received.body
    page = org.client().get("/sandbox/hooks/").text
    assert "Signature verified" in page and received.headers["webhook-id"] in page
