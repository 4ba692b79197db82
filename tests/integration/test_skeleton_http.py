"""The walking skeleton over real HTTP: sandbox → webhook → inbox → engine → sandbox → status."""

import httpx
import pytest

from conversa.engine.worker import Worker
from conversa.inbox.models import Message
from conversa.sandbox.models import SandboxMessage
from tests.conftest import make_org, wait_for


@pytest.fixture
def wired(live_server, settings, transactional_db):
    settings.SANDBOX_URL = f"{live_server.url}/sandbox/evolution"
    settings.SANDBOX_DELIVERY_DELAY = 0.05
    return make_org(webhook_base=live_server.url), live_server.url


def test_customer_message_reply_and_statuses_round_trip(wired):
    org, base = wired
    customer = httpx.Client(base_url=base, follow_redirects=False)
    # The simulator's pages are for members: the organization's owner plays the customer.
    customer.get("/login/")
    signed_in = customer.post(
        "/login/",
        data={
            "username": org.owner.user.username,
            "password": "x" * 12,
            "csrfmiddlewaretoken": customer.cookies["csrftoken"],
        },
    )
    assert signed_in.status_code == 302
    customer.get("/sandbox/")
    response = customer.post(
        "/sandbox/send",
        data={
            "instance": org.twin.name,
            "phone": "5511977776666",
            "name": "Paula",
            "text": "Quero um orçamento",
            "csrfmiddlewaretoken": customer.cookies["csrftoken"],
        },
    )
    assert response.status_code == 302

    def inbound():
        """the customer's message in the inbox"""
        return Message.objects.filter(direction="in", body="Quero um orçamento").first()

    message = wait_for(inbound)
    conversation = message.conversation
    assert conversation.contact.name == "Paula"

    agent = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {org.api_token()}"})
    reply = agent.post(
        f"/api/conversations/{conversation.id}/reply",
        json={"body": "Claro! Para quantas pessoas?"},
        headers={"Idempotency-Key": "reply-1"},
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["decision"]["verdict"] == "allow"

    assert Worker().run_once() == 1
    sent = SandboxMessage.objects.get(from_me=True)
    assert (sent.chat_phone, sent.text) == ("5511977776666", "Claro! Para quantas pessoas?")

    outbound = Message.objects.get(direction="out")

    def delivered():
        """the reply reported delivered by the sandbox's webhooks"""
        outbound.refresh_from_db()
        return outbound.status == Message.Status.DELIVERED

    wait_for(delivered)
    assert outbound.provider_message_id == sent.message_id

    customer.get(f"/sandbox/chat?instance={org.twin.name}&phone=5511977776666")

    def read():
        """the reply read once the customer opened the chat"""
        outbound.refresh_from_db()
        return outbound.status == Message.Status.READ

    wait_for(read)

    again = agent.post(
        f"/api/conversations/{conversation.id}/reply",
        json={"body": "Claro! Para quantas pessoas?"},
        headers={"Idempotency-Key": "reply-1"},
    )
    assert again.status_code == 200
    assert again.json()["id"] == reply.json()["id"]
    assert Worker().run_once() == 0
    assert SandboxMessage.objects.filter(from_me=True).count() == 1

    intents = agent.get("/api/intents").json()
    assert intents[0]["job"]["status"] == "sent"
