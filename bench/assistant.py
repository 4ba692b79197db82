"""`conversa bench assistant`: the assistant answering customers on its own, embedded, with the
simulator's model, on the configured database.

1. Setup (not timed): a throwaway organization with an unlimited sandbox number
   (bench.dispatch.scratch_number), a persona, a few FAQs saved as the knowledge page saves
   them, and an auto-reply rule on the number that answers always, with no wait (the
   debounce off, so a reply's time is the assistant's and the engine's, not the wait's); the
   simulator's model taking `model_latency_ms` over each answer (0: at once), as a real one
   takes a second or more.
2. An embedded `conversa serve` (web, in-process worker and the simulator: the model at its own
   /sandbox/v1, the number's sends to its own sandbox) over the same database
   (bench.cluster.web_server).
3. Customers write (timed): C new customers, one message each, a webhook each posted to the
   server as the simulator posts it, at about R a second; one in `person_every` asks for a
   person. Done twice: the rule's reading of the customer's mood (sentiment and topic, one
   more model call before each answer) off, then on (the rule's default). Before them, as many
   customers on the number without the assistant: the ingest cost of the assistant's trigger,
   and of the classification, is the difference in the webhooks' answer times.
4. Until every customer has a reply SENT and the assistant's session has answered or stopped:
   answered, handed_off, reply p50/p95 from the customer's webhook posted to the reply's job
   SENT, the model's calls per customer, and the server's peak memory.
5. Retrieval on P passages (10,000 by default): bench.knowledge's run, on the same database.
Everything is deleted afterwards.
"""

import http.client
import json
import os
import statistics
import threading
import time

from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.utils import timezone

from bench import knowledge as knowledge_bench
from bench.cluster import wait_until, web_server
from bench.dispatch import peak_rss_mb, scratch_number
from bench.ingest import evolution_body, server_peak_mb
from conversa.accounts.models import Member
from conversa.assistant import auto_reply_rules, knowledge
from conversa.assistant.models import (
    AssistantOutput,
    AssistantSession,
    AutoReply,
    ModelCall,
    Persona,
)
from conversa.engine.models import ExecutionJob, MessageIntent
from conversa.inbox.models import Message
from conversa.providers.evolution import SECRET_HEADER, webhook_config
from conversa.providers.registry import sandbox_tenant
from conversa.sandbox import simulator
from conversa.sandbox.models import SandboxModelScript

FAQ = {
    "Qual o horário da loja?": "Abrimos de segunda a sexta, das 9h às 18h, e aos sábados até 13h.",
    "Vocês entregam em todo o Brasil?": "Entregamos em todas as capitais em até cinco dias úteis.",
    "Como faço para trocar um produto?": "A troca é feita em até trinta dias com a nota fiscal.",
    "Quais as formas de pagamento?": "Aceitamos cartão de crédito, boleto e Pix.",
    "Onde acompanho meu pedido?": "O código de rastreio chega por e-mail quando o pedido sai.",
    "Vocês têm loja física?": "Temos uma loja na Rua Augusta, em São Paulo, aberta todos os dias.",
}
QUESTIONS = list(FAQ)
ASK_FOR_A_PERSON = "Quero falar com atendente, por favor"
# The server's environment: the simulator's model and sandbox inside it, its worker polling
# often, a token budget no run spends, and retries without waiting.
SERVER_ENV = {
    "SANDBOX_ENABLED": "1",
    "WORKER_POLL_SECONDS": "0.05",
    "ASSISTANT_BASE_URL": "",
    "ASSISTANT_DAILY_TOKEN_BUDGET": "1000000000",
    "ASSISTANT_RETRY_BASE_SECONDS": "0",
    "REDIS_URL": "",
}


def customers_write(
    port: int, number, count: int, first: int, rate: float, person_every: int
) -> tuple[float, dict[str, float], int]:
    """`count` new customers write once each, a webhook each to the server as the simulator
    posts it, at about `rate` a second (0: one after another). Returns the mean milliseconds a
    webhook took to be answered (stored, the assistant's trigger included), when each message
    was posted (by its provider id) and how many posts were not answered 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    path = f"/webhooks/sandbox/{number.webhook_key}"
    headers = {"Content-Type": "application/json", SECRET_HEADER: number.webhook_secret}
    posted, spent, failed = {}, 0.0, 0
    for i in range(first, first + count):
        asks_for_a_person = person_every and (i - first) % person_every == person_every - 1
        body = evolution_body(i, int(time.time()))
        body["data"]["message"]["conversation"] = (
            ASK_FOR_A_PERSON if asks_for_a_person else QUESTIONS[i % len(QUESTIONS)]
        )
        raw = json.dumps(body).encode()
        began = time.perf_counter()
        posted[body["data"]["key"]["id"]] = time.time()
        conn.request("POST", path, body=raw, headers=headers)
        response = conn.getresponse()
        response.read()
        failed += response.status != 200
        spent += time.perf_counter() - began
        if rate:
            time.sleep(max(0.0, 1 / rate - (time.perf_counter() - began)))
    conn.close()
    return spent * 1000 / count, posted, failed


def replies(org, since) -> dict[int, object]:
    """Conversation id → when the assistant's reply there was SENT (its job's last change)."""
    return dict(
        ExecutionJob.objects.filter(
            organization=org,
            status=ExecutionJob.Status.SENT,
            intent__origin=MessageIntent.Origin.ASSISTANT,
            intent__created_at__gte=since,
        ).values_list("intent__conversation_id", "updated_at")
    )


def one_run(port, org, number, owner, persona, *, customers, first, rate, person_every, classify):
    auto_reply_rules.save_auto_reply(
        org,
        acting_member=owner,
        persona=persona,
        number=number,
        wait_seconds=0,
        handoff_when_unhappy=classify,
    )
    since = timezone.now()
    calls_before = ModelCall.objects.filter(organization=org).count()
    ingest_ms, posted, failed = customers_write(port, number, customers, first, rate, person_every)
    stored = Message.objects.filter(number=number, provider_message_id__in=list(posted))
    # The front door may answer a webhook before its batch is applied (inbound/front_door.py).
    wait_until(lambda: stored.count() >= len(posted), 60, "every customer's message stored")
    asked = dict(stored.values_list("conversation_id", "provider_message_id"))
    asked = {conversation_id: posted[message_id] for conversation_id, message_id in asked.items()}
    sessions = AssistantSession.objects.filter(conversation_id__in=list(asked))

    def settled() -> bool:
        # Every customer has a reply, and each session has answered or stopped.
        return (
            len(replies(org, since)) >= len(asked)
            and not sessions.filter(
                state=AssistantSession.State.ACTIVE, answered_message_id__isnull=True
            ).exists()
        )

    wait_until(settled, 60 + customers, "every customer's reply to be sent")
    sent = replies(org, since)
    waits = sorted((sent[c].timestamp() - at) * 1000 for c, at in asked.items() if c in sent)
    handed_off = sessions.filter(state=AssistantSession.State.HANDED_OFF).count()
    return {
        "classification": "on" if classify else "off",
        "customers": len(asked),
        "asked_for_a_person": sum(
            1 for i in range(customers) if person_every and i % person_every == person_every - 1
        ),
        "answered": sessions.filter(state=AssistantSession.State.ACTIVE).count(),
        "handed_off": handed_off,
        "replies_sent": len(sent),
        "reply_p50_ms": round(statistics.median(waits), 1),
        "reply_p95_ms": round(statistics.quantiles(waits, n=100)[94], 1)
        if len(waits) > 1
        else round(waits[0], 1),
        "model_calls_per_customer": round(
            (ModelCall.objects.filter(organization=org).count() - calls_before) / len(asked), 2
        ),
        "ingest_ms_per_message": round(ingest_ms, 2),
        "failed_posts": failed,
        # From the first customer's webhook to the last reply SENT: above the posting time, the
        # worker did not keep up with the rate.
        "seconds_to_last_reply": round(max(sent.values()).timestamp() - min(posted.values()), 1),
        "posting_seconds": round(max(posted.values()) - min(posted.values()), 1),
    }


def cleanup(org) -> None:
    """What the assistant wrote, before the organization goes (the rule holds its persona), and
    the simulated model's count of the organization's calls."""
    AssistantOutput.objects.filter(organization=org).delete()
    ModelCall.objects.filter(organization=org).delete()
    AssistantSession.objects.filter(organization=org).delete()
    AutoReply.objects.filter(organization=org).delete()
    Persona.objects.filter(organization=org).delete()
    SandboxModelScript.objects.filter(tenant=sandbox_tenant(org.pk)).delete()


def run(
    customers: int = 500,
    rate: float = 2.0,
    person_every: int = 5,
    passages: int = 10_000,
    model_latency_ms: int = 0,
) -> dict:
    with scratch_number() as (number, twin):
        org = number.organization
        # The sandbox's status webhooks come back with the number's secret, as Evolution's
        # would (the server points the twin at its own address when it starts).
        simulator.set_webhook(twin, {"enabled": True, **webhook_config(number, "")})
        user = get_user_model().objects.create_user(username=f"bench-{org.slug}@bench.local")
        owner = Member.objects.create(organization=org, user=user, role=Member.Role.OWNER)
        persona = Persona.objects.create(organization=org, name="Lia", active=True)
        knowledge.save_source(
            org,
            acting_member=owner,
            kind="faq",
            title="Perguntas frequentes",
            body="\n\n".join(f"{q}\n{a}" for q, a in FAQ.items()),
        )
        # A real model takes a second or more: the simulator's waits as long before each answer.
        SandboxModelScript.objects.update_or_create(
            tenant=sandbox_tenant(org.pk), defaults={"latency_ms": model_latency_ms}
        )
        try:
            with web_server("bench-assistant-serve", worker=True, **SERVER_ENV) as (
                process,
                port,
            ):
                # Customers who write where no assistant answers: the ingest's own cost.
                bare_ms, _posted, _failed = customers_write(
                    port, number, customers, 0, rate, person_every
                )
                peak = 0.0
                watching = threading.Event()
                watching.set()

                def watch_memory() -> None:
                    nonlocal peak
                    while watching.is_set():
                        peak = max(peak, server_peak_mb(process.pid))
                        time.sleep(0.2)
                    connections.close_all()

                watcher = threading.Thread(target=watch_memory)
                watcher.start()
                try:
                    runs = [
                        one_run(
                            port,
                            org,
                            number,
                            owner,
                            persona,
                            customers=customers,
                            first=(n + 1) * customers,
                            rate=rate,
                            person_every=person_every,
                            classify=classify,
                        )
                        for n, classify in enumerate((False, True))
                    ]
                finally:
                    watching.clear()
                    watcher.join()
                peak = max(peak, server_peak_mb(process.pid))
        finally:
            cleanup(org)
            owner.delete()
            user.delete()
    retrieval = knowledge_bench.run(passages=passages)
    off, on = runs
    return {
        "benchmark": "assistant",
        "database": connection.vendor,
        "topology": "embedded (conversa serve: web, worker, simulator model)",
        "customers": on["customers"],
        "rate_per_second": rate,
        "model_latency_ms": model_latency_ms,
        "answered": on["answered"],
        "handed_off": on["handed_off"],
        "reply_p50_ms": on["reply_p50_ms"],
        "reply_p95_ms": on["reply_p95_ms"],
        "ingest_ms_per_message": {
            "without_assistant": round(bare_ms, 2),
            "classification_off": off["ingest_ms_per_message"],
            "classification_on": on["ingest_ms_per_message"],
        },
        "runs": runs,
        "retrieval": {
            k: retrieval[k]
            for k in (
                "passages",
                "seed_seconds",
                "questions",
                "questions_answered",
                "retrieve_ms_p50",
                "retrieve_ms_p95",
                "unknown_ms_p95",
            )
        },
        "peak_rss_mb": round(peak, 1),
        "bench_peak_rss_mb": round(peak_rss_mb(os.getpid()), 1),
        "note": "top-level figures: the rule's default (classification on); the classification"
        " runs in the worker before each answer (one more model call), not on ingest; reply times"
        " from the customer's webhook posted to the reply's job SENT, with no wait",
    }
