"""Helpers that make a realistic organization in one line (Zulip's habit)."""

import itertools
import json
import os
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import translation

from conversa.accounts import last_used
from conversa.accounts.models import Member, Organization
from conversa.accounts.services import create_api_token
from conversa.inbound import consequences as inbound
from conversa.inbox.models import Contact, Conversation
from conversa.numbers.models import Number
from conversa.providers.base import InboundMessage
from conversa.providers.evolution import SECRET_HEADER
from conversa.providers.registry import sandbox_tenant
from conversa.realtime import publisher
from conversa.sandbox import simulator, tenants
from conversa.sandbox.courier import Courier
from conversa.sandbox.models import SandboxInstance

counter = itertools.count(1)

REPOSITORY = Path(__file__).resolve().parents[1]
# What the suite may open beside the repository's own folder: the interpreter and its packages,
# temporary files, and the system's own folders.
ALLOWED_OUTSIDE = tuple(
    str(Path(p).resolve())
    for p in {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        *sysconfig.get_paths().values(),
        tempfile.gettempdir(),
    }
)


def opened_outside(path) -> bool:
    """Whether `path` lies beside the repository (in the folder that holds it, not within it):
    where a fresh clone has nothing, such as a developer's shared folder."""
    if isinstance(path, int) or REPOSITORY.parent == Path("/"):
        return False
    name = os.path.abspath(os.fsdecode(path))
    if name.startswith(ALLOWED_OUTSIDE):
        return False
    return name.startswith(str(REPOSITORY.parent) + os.sep) and not name.startswith(
        str(REPOSITORY) + os.sep
    )


def refuse_files_outside(event: str, args: tuple) -> None:
    if event == "open" and args and opened_outside(args[0]):
        raise PermissionError(f"the suite opened {args[0]}, outside the repository")


# An audit hook cannot be removed: it guards every test of the session, and the modules they load.
sys.addaudithook(refuse_files_outside)


@dataclass
class Org:
    org: Organization
    owner: Member
    number: Number
    twin: SandboxInstance

    def client(self, member: Member | None = None) -> Client:
        client = Client()
        client.force_login((member or self.owner).user)
        return client

    def sandbox_key(self) -> str:
        """The organization's own key to the simulator's Evolution API (what its numbers use)."""
        return tenants.api_key_for(sandbox_tenant(self.org.pk))

    def api_token(self, member: Member | None = None) -> str:
        return create_api_token(member or self.owner, "test")

    def member(self, role: str = Member.Role.AGENT) -> Member:
        n = next(counter)
        user = get_user_model().objects.create_user(
            username=f"agent{n}@{self.org.slug}.test", password="x" * 12
        )
        return Member.objects.create(
            organization=self.org, user=user, role=role, display_name=f"Agent {n}"
        )

    def customer_writes(
        self, phone: str = "5511999990001", text: str = "Oi", name: str = "Cliente"
    ):
        """A stored inbound message as if the webhook had arrived."""
        return inbound.receive_message(
            self.number,
            InboundMessage(
                provider_message_id=simulator.new_message_id(),
                phone=phone,
                name=name,
                kind="text",
                body=text,
            ),
        )

    def conversation(self, phone: str = "5511999990001") -> Conversation:
        message = self.customer_writes(phone)
        return message.conversation

    def contact(self, phone: str) -> Contact:
        return Contact.objects.get(organization=self.org, phone=phone)


def make_org(webhook_base: str = "http://testserver") -> Org:
    n = next(counter)
    org = Organization.objects.create(name=f"Org {n}", slug=f"org-{n}")
    user = get_user_model().objects.create_user(username=f"owner{n}@test.local", password="x" * 12)
    owner = Member.objects.create(
        organization=org, user=user, role=Member.Role.OWNER, display_name=f"Owner {n}"
    )
    number = Number.objects.create(
        organization=org,
        name=f"Number {n}",
        provider=Number.Provider.SANDBOX,
        provider_name=f"test-{n}",
        phone_number=f"55119000000{n:02d}",
        status=Number.Status.CONNECTED,
    )
    twin = simulator.create_instance(
        number.provider_name,
        {
            "url": f"{webhook_base}/webhooks/sandbox/{number.webhook_key}",
            "headers": {SECRET_HEADER: number.webhook_secret},
        },
        tenant=sandbox_tenant(org.pk),
    )
    SandboxInstance.objects.filter(pk=twin.pk).update(state="open", owner_phone=number.phone_number)
    twin.refresh_from_db()
    number.provider_token = twin.token
    number.save(update_fields=["provider_token"])
    return Org(org=org, owner=owner, number=number, twin=twin)


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language: a request in pt-BR (its cookie) leaves its
    language active in the thread, which changed the words later tests read."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def token_uses_written():
    """A test's queued writes of its API tokens' last use end with it: one left running wrote
    (and logged) into a later test, after its output was closed."""
    yield
    last_used.settle()


@pytest.fixture
def org(db) -> Org:
    return make_org()


@pytest.fixture
def other_org(db) -> Org:
    return make_org()


def post_webhook(client: Client, number: Number, payload, secret: str | None = None):
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return client.post(
        f"/webhooks/{number.provider}/{number.webhook_key}",
        data=body,
        content_type="application/json",
        headers={SECRET_HEADER: number.webhook_secret if secret is None else secret},
    )


@pytest.fixture
def delivered_webhooks(live_server, settings, transactional_db, monkeypatch):
    """The sandbox on the live server, answering over real HTTP and delivering its webhooks
    for real to that server. Nothing left queued from an earlier test, and nothing still in
    flight when the test ends (a late webhook would reach a database being emptied)."""
    monkeypatch.setattr(simulator.courier, "post", Courier.post.__get__(simulator.courier))
    settings.PUBLIC_URL = live_server.url
    settings.SANDBOX_URL = f"{live_server.url}/sandbox/evolution"
    settings.CLOUD_API_URL = f"{live_server.url}/sandbox/graph"
    settings.SANDBOX_DELIVERY_DELAY = 0.05
    simulator.courier.clear()
    yield live_server.url
    assert simulator.courier.drain(timeout=10), "webhooks still in flight after the test"


def cloud_number(org: Org, *, provider_name: str, app_secret: str) -> Number:
    """A connected Cloud API number of `org`, signed webhooks checked with `app_secret`."""
    return Number.objects.create(
        organization=org.org,
        name="Cloud number",
        provider=Number.Provider.CLOUD,
        provider_name=provider_name,
        provider_token="token",  # noqa: S106
        app_secret=app_secret,
        verify_token="verify-me",  # noqa: S106
        status=Number.Status.CONNECTED,
    )


def examples(count: int, *, in_full_on: str) -> int:
    """How many generated examples a property runs on this run's database: all of them on
    the database its property is about, a quarter on the other (enough to show the embedded
    or the production database agrees, without generating the same minutes twice)."""
    from django.db import connection

    return count if connection.vendor == in_full_on else max(3, count // 4)


def wait_for(condition, what: str = "", timeout: float = 30):
    """Poll `condition` until it returns something true, and return that. The timeout is a
    loaded two-core machine's, not a quiet one's: it costs time only when the test fails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition.__doc__ or condition}")


@pytest.fixture
def published_events(monkeypatch) -> list[tuple[int, dict]]:
    """The realtime events the sockets would receive, as (organization id, payload), in order.
    Only what leaves after commit: run the test's commit callbacks to see them
    (`django_capture_on_commit_callbacks(execute=True)`, or a real commit)."""
    sent: list[tuple[int, dict]] = []
    monkeypatch.setattr(publisher, "_send", lambda org_id, payload: sent.append((org_id, payload)))
    return sent


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Each test starts with every abuse limit's budget whole (sign-ins, API, webhooks)."""
    from conversa import ratelimits

    ratelimits.reset_all()
    yield
