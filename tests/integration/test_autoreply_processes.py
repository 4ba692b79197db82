"""Invariant 13 under several real processes (PostgreSQL): three workers answer the assistant's
due conversations while an operator replies in half of them. Each customer message gets at most
one answer (one reading of the mood, one answer from the model); and once a person has replied, the assistant answers nothing
more in that conversation, whichever process was first."""

import os
from pathlib import Path

import pytest
from django.db import connection

from bench.cluster import database_url
from conversa.assistant import auto_reply_rules, knowledge
from conversa.assistant.models import AssistantOutput, AssistantSession, Persona
from conversa.engine.models import MessageIntent
from conversa.inbox.models import Message
from tests.assistant import conftest as assistant
from tests.assistant.conftest import calls
from tests.conftest import make_org
from tests.integration.together import release, spawn

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="several writing processes: PostgreSQL only"
)
# The simulator's model on the live server (the assistant tests' fixture).
model = assistant.model
PHONES = [f"55119777700{n:02d}" for n in range(16)]
QUESTION = "Qual o horário de atendimento?"


def race(org, env, replied_in: list) -> list[str]:
    script = str(Path(__file__).with_name("autoreply_at.py"))
    agent = org.member()
    processes = [spawn([script, "worker"], env) for _ in range(3)]
    processes.append(spawn([script, "agent", str(agent.pk), *map(str, replied_in)], env))
    release(processes)
    results = [p.communicate(timeout=240)[0] for p in processes]
    assert all(p.returncode == 0 for p in processes), results
    return results


def answers(conversation) -> list[str]:
    return list(
        MessageIntent.objects.filter(
            conversation=conversation, origin=MessageIntent.Origin.ASSISTANT
        ).values_list("idempotency_key", flat=True)
    )


def test_workers_and_an_operator_race(model, live_server):
    org = make_org(webhook_base=live_server.url)
    persona = Persona.objects.create(organization=org.org, name="Lia", active=True)
    knowledge.save_source(
        org.org,
        acting_member=org.owner,
        title="Horário",
        kind="faq",
        body=f"P: {QUESTION}\nR: De segunda a sexta, das 9h às 18h.",
    )
    auto_reply_rules.save_auto_reply(
        org.org, acting_member=org.owner, persona=persona, number=org.number, wait_seconds=0
    )
    conversations = [org.customer_writes(phone=p, text=QUESTION).conversation for p in PHONES]
    replied = conversations[::2]
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": "",
        "SANDBOX_URL": f"{live_server.url}/sandbox/evolution",
        "ASSISTANT_RETRY_BASE_SECONDS": "0",
    }
    before = calls(model, org)
    race(org, env, [c.pk for c in replied])
    for conversation in conversations:
        keys = answers(conversation)
        assert len(keys) <= 1 and len(set(keys)) == len(keys)
        if conversation not in replied:
            assert len(keys) == 1, "nobody took it over: the assistant answered"
    # One answer (and one reading of the customer's mood) per conversation, never two: each
    # model call is one of them.
    for conversation in conversations:
        kept = AssistantOutput.objects.filter(conversation=conversation)
        assert kept.filter(kind="reply").count() <= 1
        assert kept.filter(kind="classification").count() <= 1
    made = AssistantOutput.objects.filter(organization=org.org, model_call__isnull=False)
    assert calls(model, org) - before == made.count()

    # The customers write again: where a person replied, the assistant answers nothing more.
    first = {c.pk: answers(c) for c in conversations}
    for phone in PHONES:
        org.customer_writes(phone=phone, text=f"{QUESTION} E no sábado?")
    race(org, env, [])
    for conversation in conversations:
        keys = answers(conversation)
        if conversation in replied:
            assert keys == first[conversation.pk]
            assert AssistantSession.objects.get(conversation=conversation).state == "taken_over"
        else:
            assert len(keys) == 2
    replies = Message.objects.filter(
        conversation__in=replied, direction=Message.Direction.OUTBOUND, sender__isnull=False
    )
    assert replies.count() == len(replied)
