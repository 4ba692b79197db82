"""`conversa bench limits`: what the abuse limits and the per-event storage cost, on the
configured database (and Redis, when REDIS_URL is set).

Figures:
- `storage_bytes_per_1000_messages`: what storing 1,000 inbound messages, posted as two signed
  Cloud webhooks of 500, adds to the provider events' table: `before` (each event kept the
  whole envelope, as until issue 16) and `after` (each keeps its own message). Both the
  payloads' own bytes (`payload_bytes`: what the JSON holds) and the table on disk
  (`table_bytes`: PostgreSQL's `pg_total_relation_size`, which counts TOAST's compression;
  SQLite's `dbstat`, when the build has it).
- `ratelimit_overhead_us`: what counting one API request costs (its token's and its
  organization's budgets: two `hit`s and their window stats), median over many; and the
  same measured end to end (`api_request_us` with and without limits, GET /api/numbers
  through Django's full stack in this process).
- `login_p95_ms`: sign-in (POST /login/, the right password; argon2 hashing dominates) with
  throttling on, and off for comparison.
"""

import json
import secrets
import statistics
import time
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, override_settings

from bench.ingest import APP_SECRET, scratch_number
from conversa import ratelimits
from conversa.accounts.models import Member
from conversa.accounts.services import create_api_token
from conversa.inbound import services
from conversa.numbers.models import Number
from conversa.providers import cloud_webhooks, webhook_json
from conversa.providers.cloud import CloudProvider
from conversa.providers.models import ProviderEvent

HOST = "127.0.0.1"


def envelope(start: int, count: int) -> dict:
    """One Cloud webhook with `count` customers' text messages, as Meta batches them."""
    phones = [f"5511{n:09d}" for n in range(start, start + count)]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "bench"},
        "contacts": [{"profile": {"name": f"Customer {p[-4:]}"}, "wa_id": p} for p in phones],
        "messages": [
            {
                "from": phone,
                "id": f"wamid.LIMITS{start + n:012d}",
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": f"Hello, this is message {start + n}, about my order"},
            }
            for n, phone in enumerate(phones)
        ],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}],
    }


def whole_envelope_parse(number, raw_body: bytes):
    """How events were built until issue 16: every one kept the whole envelope."""
    body = webhook_json.load_json(raw_body)
    return webhook_json.storable(cloud_webhooks.parse_envelope(body), body)


def table_bytes() -> int | None:
    table = ProviderEvent._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            return cursor.fetchone()[0]
        try:
            cursor.execute(
                "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = %s OR name LIKE %s",
                [table, f"%{table}%"],
            )
            return cursor.fetchone()[0]
        except Exception:
            return None


def payload_bytes(number: Number) -> int:
    rows = ProviderEvent.objects.filter(number=number).values_list("payload", flat=True)
    return sum(len(json.dumps(payload)) for payload in rows.iterator())


def storage(messages: int = 1000, per_post: int = 500) -> dict:
    figures = {}
    for label, parse in (("before", whole_envelope_parse), ("after", None)):
        with scratch_number(Number.Provider.CLOUD) as number:
            number.app_secret = APP_SECRET
            provider = CloudProvider("http://graph.invalid")
            size_before = table_bytes()
            body_bytes = 0
            for start in range(0, messages, per_post):
                raw = json.dumps(envelope(start, per_post)).encode()
                body_bytes += len(raw)
                parsed = (parse or provider.parse_webhook)(number, raw)
                services.apply_webhook(number, raw, parsed)
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"ANALYZE {ProviderEvent._meta.db_table}")  # noqa: S608
            size_after = table_bytes()
            stored = ProviderEvent.objects.filter(number=number).count()
            per_1000 = 1000 / stored if stored else 0
            figures[label] = {
                "events": stored,
                "webhook_bytes": body_bytes,
                "payload_bytes": round(payload_bytes(number) * per_1000),
                "table_bytes": (
                    round((size_after - size_before) * per_1000)
                    if size_after is not None and size_before is not None
                    else None
                ),
            }
    return figures


def timed(call, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


@contextmanager
def scratch_member(role: str = Member.Role.OWNER):
    with scratch_number(Number.Provider.CLOUD) as number:
        email = f"bench-{secrets.token_hex(4)}@bench.invalid"
        password = secrets.token_urlsafe(16)
        user = get_user_model().objects.create_user(username=email, password=password)
        member = Member.objects.create(
            organization=number.organization, user=user, role=role, display_name="Bench"
        )
        try:
            yield member, email, password
        finally:
            user.delete()


def overhead(requests: int = 2000) -> dict:
    ratelimits.reset_all()
    # As many as asked for, never refused: the cost of counting, not of refusing.
    roomy = "1000000/minute"
    budgets = ((roomy, "api:token:bench"), (roomy, "api:org:bench"))
    counted = timed(lambda: ratelimits.hit(*budgets), requests)
    end_to_end = {}
    with scratch_member() as (member, _, _):
        secret = create_api_token(member, "bench")
        client = Client(HTTP_HOST=HOST, headers={"Authorization": f"Bearer {secret}"})
        client.get("/api/numbers")  # warm
        for label, enabled in (("off", False), ("on", True), ("off_again", False)):
            roomy_api = {"API_RATE_LIMIT_TOKEN": roomy, "API_RATE_LIMIT_ORGANIZATION": roomy}
            with override_settings(RATELIMIT_ENABLED=enabled, **roomy_api):
                samples = timed(lambda: client.get("/api/numbers"), requests // 4)
            end_to_end[label] = round(statistics.median(samples) * 1e6)
    ratelimits.reset_all()
    return {
        "ratelimit_overhead_us": round(statistics.median(counted) * 1e6, 1),
        "ratelimit_overhead_p99_us": round(sorted(counted)[int(len(counted) * 0.99)] * 1e6, 1),
        "api_request_us": end_to_end,
    }


def login(attempts: int = 40) -> dict:
    figures = {}
    with scratch_member() as (_, email, password):
        for label, enabled in (("on", True), ("off", False)):
            ratelimits.reset_all()
            with override_settings(RATELIMIT_ENABLED=enabled):
                samples = []
                for n in range(attempts):
                    client = Client(HTTP_HOST=HOST, REMOTE_ADDR=f"198.51.100.{n % 200}")
                    started = time.perf_counter()
                    answer = client.post("/login/", {"username": email, "password": password})
                    samples.append(time.perf_counter() - started)
                    assert answer.status_code == 302, answer.status_code
            samples.sort()
            figures[label] = round(samples[int(len(samples) * 0.95) - 1] * 1000, 1)
    ratelimits.reset_all()
    return {"login_p95_ms": figures["on"], "login_p95_ms_without_throttling": figures["off"]}


def run(messages: int = 1000) -> dict:
    stored = storage(messages)
    before, after = stored["before"], stored["after"]
    figures = {
        "benchmark": "limits",
        "database": connection.vendor,
        "ratelimit_storage": settings.RATELIMIT_STORAGE_URL.split("://")[0],
        "storage_bytes_per_1000_messages": {
            "before": before["table_bytes"] or before["payload_bytes"],
            "after": after["table_bytes"] or after["payload_bytes"],
            "detail": stored,
        },
        **overhead(),
        **login(),
        "note": (
            "storage: 1,000 text messages in 2 signed Cloud webhooks of 500, the provider events'"
            " table (on disk where measurable, else the payloads' JSON bytes); overhead: one API"
            " request's two budget hits; login: the right password, p95 of 40 sign-ins"
        ),
    }
    return figures
