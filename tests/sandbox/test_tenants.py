"""The simulator, when on, is no public page and leaks nothing across organizations: its
customer pages are for signed-in members, each seeing and acting on their organization's numbers
only; its Evolution and Graph emulations never show one organization's tokens or webhook secrets
to another's credentials (issue 16, problem 1)."""

import json

import pytest
from django.test import Client

from conversa.numbers.webhooks import align_sandbox_webhooks
from conversa.providers.evolution import SECRET_HEADER
from conversa.providers.registry import get_provider, sandbox_tenant
from conversa.sandbox import simulator, tenants
from conversa.sandbox.models import SandboxInstance, SandboxMessage
from tests.conftest import make_org
from tests.sandbox.test_protocol import GLOBAL_KEY, call

A_CUSTOMER = "5511977770001"
PAGES = [
    ("get", "/sandbox/"),
    ("get", "/sandbox/chat"),
    ("post", "/sandbox/send"),
    ("get", "/sandbox/media/3EB0AAAA"),
    ("post", "/sandbox/scan"),
    ("post", "/sandbox/refuse"),
    ("post", "/sandbox/drop"),
    ("post", "/sandbox/ban"),
    ("post", "/sandbox/logout-phone"),
]
ACTIONS = [
    "/sandbox/scan",
    "/sandbox/refuse",
    "/sandbox/drop",
    "/sandbox/ban",
    "/sandbox/logout-phone",
]


@pytest.fixture
def a(db):
    """Organization A, whose customer wrote, with a photo."""
    org = make_org()
    simulator.customer_says(org.twin, A_CUSTOMER, "segredo de A", "Cliente de A")
    simulator.customer_sends_media(org.twin, A_CUSTOMER, "image", "foto de A", "Cliente de A")
    return org


@pytest.fixture
def b(db):
    return make_org()


@pytest.mark.parametrize(("method", "path"), PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(a, method, path):
    response = getattr(Client(), method)(path, {"instance": a.twin.name, "phone": A_CUSTOMER})

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/sandbox/")
    assert SandboxInstance.objects.get(pk=a.twin.pk).state == "open"


def test_a_member_sees_their_organizations_numbers_and_no_other(a, b):
    mine = b.client().get("/sandbox/").content.decode()
    theirs = a.client().get("/sandbox/").content.decode()

    assert b.twin.name in mine
    assert a.twin.name not in mine
    assert A_CUSTOMER not in mine
    assert a.twin.name in theirs
    assert A_CUSTOMER in theirs


def test_the_number_picker_says_the_connection_in_words(b):
    """Not the simulator's stored word ("— open"), in English and in pt-BR."""
    client = b.client()
    assert "— connected</option>" in client.get("/sandbox/").content.decode()
    client.cookies["django_language"] = "pt-br"
    page = client.get("/sandbox/").content.decode()
    assert "— conectado</option>" in page and "— open" not in page


def test_another_organizations_number_is_not_found_on_any_page(a, b):
    client = b.client()
    message = SandboxMessage.objects.get(instance=a.twin, kind="image")
    read_before = SandboxMessage.objects.filter(instance=a.twin, status="READ").count()

    page = client.get("/sandbox/", {"instance": a.twin.name, "phone": A_CUSTOMER})
    chat = client.get("/sandbox/chat", {"instance": a.twin.name, "phone": A_CUSTOMER})
    media = client.get(f"/sandbox/media/{message.message_id}")
    send = client.post(
        "/sandbox/send", {"instance": a.twin.name, "phone": A_CUSTOMER, "text": "forjada"}
    )

    assert page.status_code == 200
    assert "segredo de A" not in page.content.decode()
    assert a.twin.name not in page.content.decode()
    assert (chat.status_code, media.status_code, send.status_code) == (404, 404, 404)
    assert SandboxMessage.objects.filter(instance=a.twin).count() == 2
    # Seeing a chat marks it read: B's look changed nothing of A's.
    assert SandboxMessage.objects.filter(instance=a.twin, status="READ").count() == read_before


@pytest.mark.parametrize("action", ACTIONS)
def test_another_organizations_number_cannot_be_dropped_banned_or_scanned(
    a, b, action, webhooks_sent
):
    response = b.client().post(action, {"instance": a.twin.name})

    assert response.status_code == 404
    assert SandboxInstance.objects.get(pk=a.twin.pk).state == "open"
    assert webhooks_sent == []


def test_a_member_still_acts_on_their_own_number(a, webhooks_sent):
    response = a.client().post("/sandbox/drop", {"instance": a.twin.name})

    assert response.status_code == 302
    assert [w["body"]["data"]["state"] for w in webhooks_sent] == ["connecting", "open"]


# The Evolution API


def test_each_organization_creates_and_lists_only_its_own_instances(a, b):
    client = Client()
    created = call(
        client, "post", "/instance/create", b.sandbox_key(), {"instanceName": "loja-de-b"}
    )

    listed = call(client, "get", "/instance/fetchInstances", b.sandbox_key()).json()
    named = call(
        client, "get", f"/instance/fetchInstances?instanceName={a.twin.name}", b.sandbox_key()
    ).json()

    assert created.status_code == 201
    assert SandboxInstance.objects.get(name="loja-de-b").tenant == sandbox_tenant(b.org.pk)
    assert sorted(i["name"] for i in listed) == sorted([b.twin.name, "loja-de-b"])
    assert a.twin.token not in json.dumps(listed)
    assert named == []


@pytest.mark.parametrize(
    "path",
    [
        "/webhook/find/{name}",
        "/instance/connectionState/{name}",
        "/instance/connect/{name}",
    ],
)
def test_another_organizations_key_or_token_is_refused_on_its_instance(a, b, path):
    client = Client()
    for key in (b.sandbox_key(), b.twin.token):
        response = call(client, "get", path.format(name=a.twin.name), key)
        assert response.status_code == 401
        assert a.number.webhook_secret not in response.content.decode()


def test_a_forged_or_foreign_tenant_key_is_refused(a):
    forged = f"tenant.{sandbox_tenant(a.org.pk)}.{'0' * 64}"

    for key in (forged, "tenant.x.y", f"{a.sandbox_key()}0"):
        assert call(Client(), "get", "/instance/fetchInstances", key).status_code == 401
        assert call(Client(), "get", f"/webhook/find/{a.twin.name}", key).status_code == 401


def test_the_global_key_never_reads_an_organizations_token_or_webhook_secret(a, b):
    client = Client()
    untenanted = call(client, "post", "/instance/create", GLOBAL_KEY, {"instanceName": "own"})

    listed = call(client, "get", "/instance/fetchInstances", GLOBAL_KEY).json()
    hook = call(client, "get", f"/webhook/find/{a.twin.name}", GLOBAL_KEY).json()

    tokens = {i["name"]: i["token"] for i in listed}
    assert tokens[a.twin.name] is None
    assert tokens[b.twin.name] is None
    # What the global key created itself, it reads as Evolution shows it.
    assert tokens["own"] == untenanted.json()["hash"]
    assert hook["headers"] == {SECRET_HEADER: "••••"}
    assert a.number.webhook_secret not in json.dumps(listed) + json.dumps(hook)


def test_an_organization_reads_its_own_webhook_as_evolution_shows_it(a):
    hook = call(Client(), "get", f"/webhook/find/{a.twin.name}", a.sandbox_key()).json()

    assert hook["headers"] == {SECRET_HEADER: a.number.webhook_secret}


def test_conversa_reaches_the_simulator_with_the_organizations_own_key(a):
    provider = get_provider(a.number)

    assert provider.api_key == tenants.api_key_for(sandbox_tenant(a.org.pk))
    assert provider.api_key != GLOBAL_KEY
    assert tenants.tenant_of_key(provider.api_key) == sandbox_tenant(a.org.pk)


def test_serve_gives_twins_from_before_tenants_to_their_numbers_organization(a, settings):
    settings.SANDBOX_URL = f"{settings.PUBLIC_URL}/sandbox/evolution"
    SandboxInstance.objects.filter(pk=a.twin.pk).update(tenant="")

    align_sandbox_webhooks()

    assert SandboxInstance.objects.get(pk=a.twin.pk).tenant == sandbox_tenant(a.org.pk)


# The Graph API: each number's own token, nothing else


def test_a_cloud_numbers_token_reads_no_other_number_or_its_media(db):
    one = simulator.create_cloud_number("106540352242921", "5511933330001", "", "s1", tenant="1")
    two = simulator.create_cloud_number("106540352242922", "5511933330002", "", "s2", tenant="2")
    client = Client()
    uploaded = client.post(
        f"/sandbox/graph/v21.0/{one.name}/media",
        {"messaging_product": "whatsapp", "file": _file()},
        headers={"Authorization": f"Bearer {one.token}"},
    ).json()["id"]

    other = {"Authorization": f"Bearer {two.token}"}
    number = client.get(f"/sandbox/graph/v21.0/{one.name}", headers=other)
    media = client.get(f"/sandbox/graph/v21.0/{uploaded}", headers=other)
    own = client.get(
        f"/sandbox/graph/v21.0/{uploaded}", headers={"Authorization": f"Bearer {one.token}"}
    )

    assert number.status_code == 401
    # Meta's "does not exist" (400, code 100), as for a media id nobody has.
    assert media.status_code == 400
    assert "url" not in media.json()
    assert own.status_code == 200
    assert one.token not in number.content.decode() + media.content.decode()
    assert "s1" not in json.dumps(own.json())


def _file():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, content_type="image/png")


def test_a_member_whose_organization_has_no_sandbox_number_is_told_how_to_add_one(a, b):
    SandboxInstance.objects.filter(pk=b.twin.pk).delete()

    page = b.client().get("/sandbox/").content.decode()

    assert "Your organization has no sandbox numbers" in page
    assert a.twin.name not in page
