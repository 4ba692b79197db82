"""Two-step verification: setting it up, signing in with it, recovery codes, the organization's
requirement and the fresh code sensitive actions ask for. Codes come from pyotp, as an
authenticator app computes them."""

import time
from datetime import timedelta

import pyotp
import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from conversa.accounts import mfa, security_views
from conversa.accounts.models import OperationalEvent, SecondFactor
from conversa.numbers.models import Number

PASSWORD = "x" * 12


def code_at(secret: str, steps_from_now: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(timezone.now()) + steps_from_now)


def enroll(org, member=None) -> tuple[str, list[str]]:
    """Two-step verification on for `member` through its page; the secret and recovery codes."""
    member = member or org.owner
    client = org.client(member)
    assert client.post("/settings/security/", {"action": "start"}).status_code == 302
    page = client.get("/settings/security/")
    secret = SecondFactor.objects.get(user=member.user).secret
    assert security_views.grouped(secret).encode() in page.content
    assert b"data:image/svg+xml" in page.content
    page = client.post("/settings/security/", {"action": "confirm", "code": code_at(secret)})
    assert page.status_code == 200
    codes = page.context["new_codes"]
    return secret, codes


def sign_in(member, password=PASSWORD) -> tuple[Client, object]:
    client = Client()
    answer = client.post("/login/", {"username": member.user.username, "password": password})
    return client, answer


def verbs(org) -> list[str]:
    return list(
        OperationalEvent.objects.filter(organization=org.org).values_list("verb", flat=True)
    )


def test_enrollment_shows_a_qr_and_the_secret_and_needs_a_right_first_code(org):
    client = org.client()
    page = client.get("/settings/security/")
    assert page.status_code == 200 and b"Set up two-step verification" in page.content
    client.post("/settings/security/", {"action": "start"})
    factor = SecondFactor.objects.get(user=org.owner.user)
    wrong = client.post("/settings/security/", {"action": "confirm", "code": "000000"})
    assert wrong.status_code == 422 and b"not right" in wrong.content
    assert not SecondFactor.objects.get(pk=factor.pk).confirmed
    right = client.post(
        "/settings/security/", {"action": "confirm", "code": code_at(factor.secret)}
    )
    assert len(right.context["new_codes"]) == 10
    assert len(set(right.context["new_codes"])) == 10
    assert SecondFactor.objects.get(pk=factor.pk).confirmed
    assert "mfa.enrolled" in verbs(org)
    # Shown once: the page does not show them again.
    again = client.get("/settings/security/")
    assert right.context["new_codes"][0].encode() not in again.content


def test_the_secret_is_encrypted_at_rest_and_codes_stored_hashed(org):
    secret, codes = enroll(org)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_secondfactor")
        (stored,) = cursor.fetchone()
        cursor.execute("SELECT code_hash FROM accounts_recoverycode")
        hashes = [row[0] for row in cursor.fetchall()]
    assert secret not in stored
    assert len(hashes) == 10 and not set(codes) & set(hashes)


def test_sign_in_asks_for_the_code_once_enrolled(org):
    secret, _ = enroll(org)
    client, answer = sign_in(org.owner)
    assert answer.status_code == 302 and answer.url == "/login/verify"
    # Not signed in yet.
    assert client.get("/inbox/").status_code == 302
    page = client.get("/login/verify")
    assert b"authenticator app" in page.content
    # The step enrollment used is spent: the app's next code (accepted one step ahead).
    answer = client.post("/login/verify", {"code": code_at(secret, +1)})
    assert answer.status_code == 302 and answer.url == "/inbox/"
    assert client.get("/inbox/").status_code == 200
    signed_in = OperationalEvent.objects.filter(organization=org.org, verb="member.signed_in")
    assert signed_in.last().data == {"second_factor": "totp"}


def test_a_code_is_refused_the_second_time(org):
    secret, _ = enroll(org)
    factor = SecondFactor.objects.get(user=org.owner.user)
    code = code_at(secret, +1)
    assert mfa.accept_totp(factor, code)
    assert not mfa.accept_totp(factor, code)
    # An earlier step's code is refused too once a later one was used.
    assert not mfa.accept_totp(factor, code_at(secret, 0))


def test_a_code_one_step_either_side_is_accepted_but_not_two(org):
    secret, _ = enroll(org)
    factor = SecondFactor.objects.get(user=org.owner.user)
    assert not mfa.accept_totp(factor, code_at(secret, +2))
    assert mfa.accept_totp(factor, code_at(secret, +1))
    assert mfa.totp_step(factor, "²²²²²²") is None
    assert mfa.totp_step(factor, "12345") is None


def test_recovery_codes_sign_in_once_each(org):
    _, codes = enroll(org)
    client, _ = sign_in(org.owner)
    answer = client.post("/login/verify", {"code": codes[0].upper()})
    assert answer.status_code == 302
    assert "member.signed_in_with_recovery_code" in verbs(org)
    client, _ = sign_in(org.owner)
    again = client.post("/login/verify", {"code": codes[0]})
    assert again.status_code == 422
    factor = SecondFactor.objects.get(user=org.owner.user)
    assert mfa.recovery_codes_left(factor) == 9


def test_five_wrong_codes_go_back_to_the_password_step(org):
    enroll(org)
    client, _ = sign_in(org.owner)
    for _ in range(mfa.MAX_FAILURES - 1):
        assert client.post("/login/verify", {"code": "000000"}).status_code == 422
    last = client.post("/login/verify", {"code": "000000"})
    assert last.status_code == 429 and b"Sign in again" in last.content
    # The pending sign-in is gone: even a right code now needs the password again.
    assert b"expired" in client.get("/login/verify").content
    assert verbs(org).count("member.second_factor_failed") == mfa.MAX_FAILURES


def test_the_pending_sign_in_expires(org, monkeypatch):
    secret, _ = enroll(org)
    client, _ = sign_in(org.owner)
    later = time.time() + mfa.PENDING_SECONDS + 1
    monkeypatch.setattr(mfa.time, "time", lambda: later)
    answer = client.post("/login/verify", {"code": code_at(secret, +1)})
    assert answer.status_code == 400
    assert client.get("/inbox/").status_code == 302


def test_verify_without_a_password_step_signs_nobody_in(client, org):
    answer = client.post("/login/verify", {"code": "123456"})
    assert answer.status_code == 400


def test_regenerate_needs_a_fresh_code_and_replaces_the_codes(org):
    secret, codes = enroll(org)
    client = org.client()  # force_login: no code given in this session
    answer = client.post(
        "/settings/security/", {"action": "regenerate"}, HTTP_REFERER="/settings/security/"
    )
    assert answer.status_code == 302
    assert answer.url.startswith("/login/reverify?next=%2Fsettings%2Fsecurity%2F")
    done = client.post(
        "/login/reverify", {"code": code_at(secret, +1), "next": "/settings/security/"}
    )
    assert done.status_code == 302 and done.url == "/settings/security/"
    page = client.post("/settings/security/", {"action": "regenerate"})
    new = page.context["new_codes"]
    assert len(new) == 10 and not set(new) & set(codes)
    factor = SecondFactor.objects.get(user=org.owner.user)
    assert not mfa.accept_recovery_code(factor, codes[1])
    assert mfa.accept_recovery_code(factor, new[1])


def test_disable_needs_a_current_code(org):
    secret, _ = enroll(org)
    client = org.client()
    wrong = client.post("/settings/security/", {"action": "disable", "code": "000000"})
    assert wrong.status_code == 422
    assert mfa.is_enrolled(org.owner.user)
    client.post("/settings/security/", {"action": "disable", "code": code_at(secret, +1)})
    assert not mfa.is_enrolled(org.owner.user)
    assert "mfa.disabled" in verbs(org)
    _, answer = sign_in(org.owner)
    assert answer.url == "/inbox/"


def test_the_organization_requirement_sends_admins_to_set_it_up(org):
    admin = org.member("admin")
    agent = org.member("agent")
    client = org.client()
    # Turning it on needs the owner's own second factor first.
    refused = client.post("/settings/security/", {"action": "require", "on": "1"})
    assert refused.status_code == 409
    secret, _ = enroll(org)
    client = org.client()
    mfa_session = client.session
    mfa_session[mfa.VERIFIED_KEY] = time.time()
    mfa_session.save()
    client.post("/settings/security/", {"action": "require", "on": "1"})
    org.org.refresh_from_db()
    assert org.org.require_mfa_for_admins
    assert "organization.mfa_requirement_changed" in verbs(org)
    # An admin without it: every page sends them to set it up; the security page opens.
    admin_client = org.client(admin)
    answer = admin_client.get("/inbox/")
    assert answer.status_code == 302 and answer.url == "/settings/security/"
    assert admin_client.get("/settings/security/").status_code == 200
    htmx = admin_client.get("/numbers/", headers={"HX-Request": "true"})
    assert htmx["HX-Redirect"] == "/settings/security/"
    # Agents are not asked; API tokens are not affected.
    assert org.client(agent).get("/inbox/").status_code == 200
    token = org.api_token(admin)
    api = Client().get("/api/conversations", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    # While required, an owner cannot turn their own off.
    off = client.post("/settings/security/", {"action": "disable", "code": code_at(secret, +1)})
    assert off.status_code == 403


def test_only_owners_and_admins_set_the_requirement(org):
    supervisor = org.member("supervisor")
    enroll(org, supervisor)
    client = org.client(supervisor)
    session = client.session
    session[mfa.VERIFIED_KEY] = time.time()
    session.save()
    answer = client.post("/settings/security/", {"action": "require", "on": "1"})
    assert answer.status_code == 403
    assert b"For the whole organization" not in client.get("/settings/security/").content


@pytest.fixture
def sandbox_number_form():
    return {"name": "Vendas", "provider": Number.Provider.SANDBOX}


def test_add_number_asks_for_a_fresh_code_when_enrolled(org):
    secret, _ = enroll(org)
    client = org.client()
    answer = client.get("/numbers/add")
    assert answer.status_code == 302 and answer.url == "/login/reverify?next=%2Fnumbers%2Fadd"
    page = client.get(answer.url)
    assert b"fresh code" in page.content
    back = client.post("/login/reverify", {"code": code_at(secret, +1), "next": "/numbers/add"})
    assert back.url == "/numbers/add"
    assert client.get("/numbers/add").status_code == 200


def test_a_fresh_code_goes_stale(org, monkeypatch):
    secret, _ = enroll(org)
    client = org.client()
    client.post("/login/reverify", {"code": code_at(secret, +1), "next": "/numbers/add"})
    assert client.get("/numbers/add").status_code == 200
    later = time.time() + mfa.FRESH_SECONDS + 1
    monkeypatch.setattr(mfa.time, "time", lambda: later)
    assert client.get("/numbers/add").status_code == 302


def test_without_two_step_verification_nothing_more_is_asked(org):
    assert org.client().get("/numbers/add").status_code == 200


def test_reverify_never_sends_elsewhere(org):
    secret, _ = enroll(org)
    client = org.client()
    answer = client.post(
        "/login/reverify", {"code": code_at(secret, +1), "next": "https://evil.example/x"}
    )
    assert answer.url == "/settings/"


def test_a_post_that_needs_a_fresh_code_comes_back_to_its_page(org, sandbox_number_form):
    enroll(org)
    client = org.client()
    answer = client.post(
        "/numbers/add", sandbox_number_form, HTTP_REFERER="http://testserver/numbers/add"
    )
    assert answer.url == "/login/reverify?next=%2Fnumbers%2Fadd"
    assert not Number.objects.filter(organization=org.org, name="Vendas").exists()


def test_failed_sign_ins_are_recorded_in_each_organization_of_the_email(org, other_org):
    from conversa.accounts.models import Member

    twin = Member.objects.create(
        organization=other_org.org, user=org.owner.user, role="agent", display_name="Twin"
    )
    _, answer = sign_in(org.owner, password="wrong password")
    assert answer.status_code == 200
    for one, member in ((org, org.owner), (other_org, twin)):
        failed = OperationalEvent.objects.get(organization=one.org, verb="member.sign_in_failed")
        assert failed.object_id == member.pk and failed.actor is None
        assert "wrong password" not in str(failed.data)
        assert failed.ip_address == "127.0.0.1"
    _, answer = sign_in(org.owner)
    assert OperationalEvent.objects.filter(verb="member.signed_in").count() == 2


def test_the_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(org, settings):
    from conversa.accounts import audit

    sign_in(org.owner)
    headers = {"HTTP_X_FORWARDED_FOR": "203.0.113.9", "REMOTE_ADDR": "10.0.0.5"}
    Client().post("/login/", {"username": org.owner.user.username, "password": "x"}, **headers)
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    audit.trusted_networks.cache_clear()
    try:
        Client().post(
            "/login/",
            {"username": org.owner.user.username, "password": "x"},
            HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9",
            REMOTE_ADDR="10.0.0.5",
            HTTP_USER_AGENT="TestBrowser/1.0",
        )
    finally:
        settings.TRUSTED_PROXIES = []
        audit.trusted_networks.cache_clear()
    failed = OperationalEvent.objects.filter(verb="member.sign_in_failed").order_by("id")
    assert [e.ip_address for e in failed] == ["10.0.0.5", "203.0.113.9"]
    assert failed.last().user_agent == "TestBrowser/1.0"


def test_enrollment_events_have_timestamps_within_the_request(org):
    before = timezone.now() - timedelta(seconds=1)
    enroll(org)
    event = OperationalEvent.objects.get(organization=org.org, verb="mfa.enrolled")
    assert event.created_at >= before and event.actor == org.owner
