"""The webhook front door of a real `conversa serve` (`inbound.front_door`, ahead of Django):
the same answers as the Django view, on SQLite and PostgreSQL."""

import json

import httpx
import pytest

from bench.cluster import web_server
from conversa.inbox.models import Message
from conversa.providers.evolution import SECRET_HEADER
from conversa.providers.models import ProviderEvent
from tests.conftest import make_org
from tests.inbox.test_inbound import upsert


@pytest.fixture(scope="module")
def server(django_db_setup):
    env = {"REDIS_URL": "", "CONVERSA_PUBLIC_URL": "http://x"}
    with (
        web_server("ingress-serve", **env) as (_, port),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):
        yield client


def test_the_front_door_stores_once_and_refuses_clearly(server, transactional_db, settings):
    number = make_org().number
    url = f"/webhooks/sandbox/{number.webhook_key}"
    good = {SECRET_HEADER.lower(): number.webhook_secret, "content-type": "application/json"}
    body = json.dumps(upsert("3EB0INGRESS")).encode()

    first = server.post(url, content=body, headers=good)
    assert (first.status_code, first.json()) == (200, {"ok": True, "stored": 1, "duplicates": 0})
    again = server.post(url, content=body, headers=good)
    assert again.json() == {"ok": True, "stored": 0, "duplicates": 1}
    assert Message.objects.filter(provider_message_id="3EB0INGRESS").count() == 1

    wrong = server.post(url, content=body, headers={SECRET_HEADER: "nope"})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "unauthorized")
    broken = server.post(url, content=b"{not json", headers=good)
    assert (broken.status_code, broken.json()["stored"]) == (200, 1)
    assert ProviderEvent.objects.get(number=number, kind="Unparsed").payload == {"raw": "{not json"}
    unknown = server.post("/webhooks/sandbox/no-such-key", content=body, headers=good)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "not_found")
    too_large = b" " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    assert server.post(url, content=too_large, headers=good).status_code == 413
    assert ProviderEvent.objects.filter(number=number).count() == 2

    # Everything else still goes through Django: the handshake GET, pages, the API.
    assert server.get(url).status_code == 405
    assert server.get("/api/intents").status_code == 401
