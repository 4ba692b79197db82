"""Logs: JSON lines, the request id honoured and returned, one correlation id on every line of a
message's life, and no message text, phone number or secret on any line."""

import json
import logging

import pytest
import structlog
from django.conf import settings
from django.test import Client

from conversa import logs
from conversa.engine.worker import Worker
from conversa.inbox.models import Conversation, Message
from conversa.sandbox import simulator
from tests.conftest import make_org, wait_for

PHONE = "5511987654321"
CUSTOMER_TEXT = "Meu pedido 4411 chegou quebrado"
REPLY_TEXT = "Sentimos muito, vamos trocar hoje"


class Lines(logging.Handler):
    """Every record, rendered as the deployment's formatter renders it (JSON)."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        options = logs.formatter(json=True)
        self.setFormatter(options.pop("()")(**options))
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))

    def parsed(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def log_lines():
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_a_message_has_one_correlation_id_from_the_request_to_its_status(
    delivered_webhooks, log_lines
):
    org = make_org(webhook_base=delivered_webhooks)
    token = org.api_token()
    simulator.customer_says(org.twin, PHONE, CUSTOMER_TEXT, name="Ana")
    conversation = wait_for(
        lambda: Conversation.objects.filter(number=org.number).first(), "the webhook"
    )

    answer = Client().post(
        f"/api/conversations/{conversation.pk}/reply",
        {"body": REPLY_TEXT},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "reply-1a2b3c"},
    )
    assert answer.status_code == 201, answer.content
    assert answer["X-Request-ID"] == "reply-1a2b3c"
    assert Worker().run_once() == 1
    wait_for(
        lambda: Message.objects.filter(
            conversation=conversation,
            direction=Message.Direction.OUTBOUND,
            status__in=[Message.Status.DELIVERED, Message.Status.READ],
        ).exists(),
        "the delivered status webhook",
    )
    assert simulator.courier.drain(timeout=10)

    lines = log_lines.parsed()
    life = [line for line in lines if line.get("correlation_id") == "reply-1a2b3c"]
    events = [line["event"] for line in life]
    for step in (
        "intent.created",
        "gate.decided",
        "request.finished",
        "provider.sending",
        "provider.accepted",
        "job.sent",
        "message.status",
    ):
        assert step in events, (step, events)
    # Created in the request, then decided again by the worker before sending.
    assert events.count("gate.decided") == 2
    reply_request = next(line for line in life if line["event"] == "request.finished")
    assert reply_request["request_id"] == "reply-1a2b3c"
    assert reply_request["organization_id"] == org.org.pk
    assert reply_request["member_id"] == org.owner.pk
    # The worker's lines are the request's message's, not some other request's.
    assert {line.get("organization_id") for line in life} == {org.org.pk}

    everything = "\n".join(log_lines.lines)
    secrets = [token, org.number.webhook_secret, org.number.provider_token, settings.SECRET_KEY]
    for forbidden in [PHONE, CUSTOMER_TEXT, REPLY_TEXT, *secrets]:
        assert forbidden not in everything, forbidden


def test_a_sane_request_id_is_kept_and_any_other_replaced(client):
    kept = client.get("/health", headers={"X-Request-ID": "lb-7f3a.91:2"})
    assert kept["X-Request-ID"] == "lb-7f3a.91:2"
    for insane in ["a" * 101, "two words", 'quote"d', "-leading-dash", "line\nbreak"]:
        replaced = client.get("/health", headers={"X-Request-ID": insane})
        assert replaced["X-Request-ID"] != insane
        assert len(replaced["X-Request-ID"]) == 32
    fresh = client.get("/health")
    assert len(fresh["X-Request-ID"]) == 32


def test_sensitive_keys_and_phone_numbers_are_masked(log_lines):
    structlog.get_logger("conversa.test").warning(
        "contact %s wrote",
        "+5511987654321",
        body="oi",
        phone_number="5511987654321",
        webhook_secret="s3cret",
        authorization="Bearer x",
        api_key="k",
        contact_id=5511987654321,
    )
    logging.getLogger("conversa.test").info("sent to 5511987654321", extra={"text": "oi"})
    first, second = log_lines.parsed()
    assert first["event"] == "contact [redacted] wrote"
    for key in ["body", "phone_number", "webhook_secret", "authorization", "api_key"]:
        assert first[key] == "[redacted]"
    # Ids are never phone numbers, and are what a grep looks for.
    assert first["contact_id"] == 5511987654321
    assert second["event"] == "sent to [redacted]"
    assert second["text"] == "[redacted]"


def test_an_exceptions_traceback_is_masked_too(log_lines):
    try:
        raise ValueError("duplicate key (phone)=(5511987654321)")
    except ValueError:
        logging.getLogger("conversa.test").exception("could not store")
    [line] = log_lines.parsed()
    assert "5511987654321" not in line["exception"]
    assert "ValueError" in line["exception"]
