"""A fresh install offers "Create your organization"; once one exists the page is gone unless
sign-up is on. `conversa createorganization` does the same from a script."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from conversa.accounts.models import Member, OperationalEvent, Organization
from conversa.accounts.organizations import create_organization
from conversa.errors import Conflict, Refused

PASSWORD = "correct horse battery"
FORM = {
    "name": "Padaria Pão Quente",
    "time_zone": "America/Recife",
    "owner_name": "Joana Dias",
    "email": "Joana@Padaria.example",
    "password": PASSWORD,
}


@pytest.mark.django_db
def test_a_fresh_install_leads_to_the_organization_form(client):
    assert client.get("/")["Location"] == "/setup/"
    assert client.get("/login/")["Location"] == "/setup/"
    page = client.get("/setup/")
    assert page.status_code == 200
    assert "Create your organization" in page.content.decode()
    assert 'value="America/Sao_Paulo" selected' in page.content.decode()


@pytest.mark.django_db
def test_creating_the_organization_signs_the_owner_in(client):
    response = client.post("/setup/", FORM)
    assert response.status_code == 302 and response["Location"] == "/inbox/"
    org = Organization.objects.get()
    assert (org.name, org.time_zone, org.slug) == (
        FORM["name"],
        "America/Recife",
        "padaria-pao-quente",
    )
    owner = Member.objects.get(organization=org)
    assert owner.role == Member.Role.OWNER and owner.display_name == "Joana Dias"
    assert owner.user.username == owner.user.email == "joana@padaria.example"
    assert owner.user.check_password(PASSWORD)
    assert OperationalEvent.objects.filter(verb="organization.created", actor=owner).exists()
    assert client.get("/inbox/").status_code == 200
    # The first run is over: the page is gone, sign-in is back.
    assert client.get("/setup/").status_code == 404
    assert client.get("/login/").status_code in (200, 302)
    assert "/setup/" not in client.get("/login/").get("Location", "")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("name", "   ", "required"),
        ("time_zone", "Mars/Olympus_Mons", "valid choice"),
        ("email", "not-an-email", "valid email"),
        ("password", "1234", "too short"),
        ("password", "password123", "too common"),
    ],
)
def test_bad_input_shows_on_its_field(client, field, value, words):
    response = client.post("/setup/", {**FORM, field: value})
    assert response.status_code == 422
    assert words in response.content.decode()
    assert not Organization.objects.exists()


@pytest.mark.django_db
def test_the_service_refuses_an_unknown_time_zone_and_a_taken_email(org):
    with pytest.raises(Refused) as refusal:
        create_organization(
            name="X",
            time_zone="Etc/Nowhere",
            owner_name="Y",
            owner_email="y@x.example",
            password=PASSWORD,
        )
    assert refusal.value.field == "time_zone"
    with pytest.raises(Conflict):
        create_organization(
            name="X",
            time_zone="UTC",
            owner_name="Y",
            owner_email=org.owner.user.username,
            password=PASSWORD,
        )


def test_once_an_organization_exists_setup_is_gone_unless_signup_is_on(client, org, settings):
    assert client.get("/setup/").status_code == 404
    assert "/setup/" not in client.get("/login/").content.decode()
    settings.SIGNUP_ENABLED = True
    assert "/setup/" in client.get("/login/").content.decode()
    page = client.get("/setup/").content.decode()
    assert "Create an organization" in page
    response = client.post("/setup/", {**FORM, "name": "Second"})
    assert response.status_code == 302
    assert Organization.objects.count() == 2


@pytest.mark.django_db
def test_the_command_creates_the_organization_with_a_password_from_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    out = io.StringIO()
    call_command(
        "createorganization",
        "--name=Oficina",
        "--time-zone=Europe/Lisbon",
        "--owner-email=Ze@Oficina.example",
        "--owner-name=Zé",
        "--password-stdin",
        stdout=out,
    )
    assert "ze@oficina.example" in out.getvalue() and PASSWORD not in out.getvalue()
    owner = Member.objects.get(user__username="ze@oficina.example")
    assert owner.role == Member.Role.OWNER and owner.organization.time_zone == "Europe/Lisbon"
    assert get_user_model().objects.get().check_password(PASSWORD)


@pytest.mark.django_db
def test_the_command_prompts_twice_and_refuses_bad_input(monkeypatch):
    answers = iter(["one password", "another one"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    args = ["--name=O", "--time-zone=UTC", "--owner-email=a@b.example", "--owner-name=A"]
    with pytest.raises(CommandError, match="differ"):
        call_command("createorganization", *args)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    with pytest.raises(CommandError, match="time_zone"):
        call_command(
            "createorganization", *args[:1], "--time-zone=Nope/Nope", *args[2:], "--password-stdin"
        )
    assert not Organization.objects.exists()


@pytest.mark.django_db
def test_the_page_speaks_portuguese_and_the_owner_keeps_the_language(client):
    page = client.get("/setup/", headers={"accept-language": "pt-BR"}).content.decode()
    assert "Crie sua organização" in page
    client.post("/setup/", FORM, headers={"accept-language": "pt-BR"})
    assert Member.objects.get().language == "pt-br"
