"""API tokens in the product: issued with a scope and an expiry (the secret shown once),
listed, revoked (kept, refused at once); scopes enforced in one place, as a table; "last used"
written after the answer and never able to fail it."""

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from conversa.accounts import api_auth, last_used, tokens
from conversa.accounts.models import ApiToken, Member, OperationalEvent
from conversa.accounts.services import create_api_token
from conversa.errors import Forbidden, Refused


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def test_a_member_creates_a_token_and_sees_its_secret_once(org):
    client = org.client()
    answer = client.post(
        "/api/tokens",
        {"name": "CRM sync", "scope": "send"},
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    created = answer.json()
    assert created["secret"].startswith("cv_") and created["scope"] == "send"
    token = ApiToken.objects.get(pk=created["id"])
    assert token.token_hash == ApiToken.hash(created["secret"])
    listed = client.get("/api/tokens").json()
    assert [t["name"] for t in listed] == ["CRM sync"]
    assert "secret" not in listed[0] and created["secret"] not in json.dumps(listed)
    audit = OperationalEvent.objects.get(verb="api_token.created")
    assert audit.actor == org.owner and audit.data["scope"] == "send"
    assert created["secret"] not in json.dumps(audit.data)


def test_an_agent_cannot_give_a_token_more_than_their_role(org):
    agent = org.member(Member.Role.AGENT)
    answer = org.client(agent).post(
        "/api/tokens", {"name": "x", "scope": "manage"}, content_type="application/json"
    )
    assert answer.status_code == 403
    assert not ApiToken.objects.exists()
    assert tokens.allowed_scopes(agent) == ["read", "send"]
    assert tokens.allowed_scopes(org.owner) == ["read", "send", "manage"]


@pytest.mark.parametrize(
    "expires_on, status",
    [
        (None, 201),
        ("+1", 201),
        ("+720", 201),
        ("-1", 422),
        ("+800", 422),
        ("9999-12-31", 422),
        ("0001-01-01", 422),
        ("not a date", 422),
    ],
)
def test_expiry_is_never_or_a_day_within_two_years(org, expires_on, status):
    if expires_on and expires_on[0] in "+-":
        # Days in the organization's zone, as the API reads them (UTC's day differs for hours).
        today = timezone.localdate(timezone=ZoneInfo(org.org.time_zone))
        expires_on = (today + timedelta(days=int(expires_on))).isoformat()
    answer = org.client().post(
        "/api/tokens",
        {"name": "t", "scope": "read", "expires_on": expires_on},
        content_type="application/json",
    )
    assert answer.status_code == status, answer.content


def test_a_token_cannot_create_tokens(org):
    secret = org.api_token()
    answer = Client().post(
        "/api/tokens",
        {"name": "more", "scope": "read"},
        content_type="application/json",
        headers=bearer(secret),
    )
    assert answer.status_code == 403
    assert ApiToken.objects.count() == 1


def test_a_revoked_token_is_refused_at_once_and_kept(org):
    secret = org.api_token()
    token = ApiToken.objects.get()
    assert Client().get("/api/numbers", headers=bearer(secret)).status_code == 200
    answer = org.client().post(f"/api/tokens/{token.pk}/revoke")
    assert answer.status_code == 200 and answer.json()["active"] is False
    assert Client().get("/api/numbers", headers=bearer(secret)).status_code == 401
    token.refresh_from_db()
    assert token.revoked_at and token.revoked_by == org.owner
    assert OperationalEvent.objects.filter(verb="api_token.revoked").count() == 1
    # Again: nothing changes, nothing more in the audit.
    assert org.client().post(f"/api/tokens/{token.pk}/revoke").status_code == 200
    assert OperationalEvent.objects.filter(verb="api_token.revoked").count() == 1


def test_an_expired_token_is_refused(org):
    secret = create_api_token(org.owner, "old", expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get("/api/numbers", headers=bearer(secret)).status_code == 401


def test_who_sees_and_revokes_whose_tokens(org, other_org):
    agent, other_agent = org.member(), org.member()
    create_api_token(agent, "mine", scope="read")
    create_api_token(other_agent, "theirs", scope="read")
    create_api_token(other_org.owner, "elsewhere")
    theirs = ApiToken.objects.get(name="theirs")
    elsewhere = ApiToken.objects.get(name="elsewhere")
    assert [t["name"] for t in org.client(agent).get("/api/tokens").json()] == ["mine"]
    owner_sees = {t["name"] for t in org.client().get("/api/tokens").json()}
    assert owner_sees == {"mine", "theirs"}
    # An agent cannot revoke a colleague's token (nor learn it exists); an owner can.
    assert org.client(agent).post(f"/api/tokens/{theirs.pk}/revoke").status_code == 404
    assert org.client().post(f"/api/tokens/{elsewhere.pk}/revoke").status_code == 404
    assert org.client().post(f"/api/tokens/{theirs.pk}/revoke").status_code == 200
    with pytest.raises(Forbidden):
        tokens.revoke_token(ApiToken.objects.get(name="mine"), acting_member=other_agent)


@pytest.mark.parametrize("token_id", ["0", "-1", str(2**63), "99999999999999999999"])
def test_revoke_refuses_ids_out_of_bounds(org, token_id):
    assert org.client().post(f"/api/tokens/{token_id}/revoke").status_code in (404, 422)


def test_issue_token_refuses_a_name_that_is_empty_or_too_long(org):
    with pytest.raises(Refused):
        tokens.issue_token(acting_member=org.owner, name="  ", scope="read", expires_at=None)
    with pytest.raises(Refused):
        tokens.issue_token(acting_member=org.owner, name="x" * 121, scope="read", expires_at=None)
    with pytest.raises(Refused):
        tokens.issue_token(acting_member=org.owner, name="x", scope="root", expires_at=None)


# The scope table: (scope, method, route under /api/) → allowed. Every route of the API is
# covered by its method: GET for every scope; the send routes for send; the rest for manage.
SCOPES = [
    ("read", "GET", "conversations", True),
    ("read", "GET", "intents/<intent_id>", True),
    ("read", "POST", "intents", False),
    ("read", "POST", "conversations/<conversation_id>/reply", False),
    ("read", "POST", "conversations/<conversation_id>/claim", False),
    ("read", "DELETE", "tags/<tag_id>", False),
    ("send", "GET", "numbers", True),
    ("send", "POST", "intents", True),
    ("send", "POST", "intents/location", True),
    ("send", "POST", "intents/contacts", True),
    ("send", "POST", "intents/media", True),
    ("send", "POST", "conversations/<conversation_id>/reply", True),
    ("send", "POST", "intents/<intent_id>/cancel", False),
    ("send", "POST", "conversations/<conversation_id>/resolve", False),
    ("send", "POST", "numbers/<number_id>/<action>", False),
    ("send", "PUT", "queues/<queue_id>", False),
    ("send", "POST", "crm/leads", False),
    ("send", "POST", "tokens/<token_id>/revoke", False),
    ("manage", "POST", "numbers/<number_id>/<action>", True),
    ("manage", "DELETE", "tags/<tag_id>", True),
    ("manage", "POST", "intents", True),
]


@pytest.mark.parametrize("scope, method, route, allowed", SCOPES)
def test_scope_table(scope, method, route, allowed):
    assert api_auth.scope_allows(scope, method, route) is allowed


def test_every_send_route_exists():
    """The table names real routes: a renamed send route would silently become manage-only."""
    from conversa.api import api

    routes = {str(p.pattern) for p in api.urls[0]}
    assert {route for _, route in api_auth.SENDING} <= routes


@pytest.mark.parametrize(
    "scope, expected", [("read", {403}), ("send", {201, 403}), ("manage", {201, 200})]
)
def test_scopes_are_enforced_on_requests(org, scope, expected):
    secret = create_api_token(org.owner, scope, scope=scope)
    as_token = Client(headers=bearer(secret))
    sent = as_token.post(
        "/api/intents",
        {"phone": "5511999990001", "body": "Oi"},
        content_type="application/json",
    )
    paused = as_token.post(f"/api/numbers/{org.number.pk}/pause")
    assert {sent.status_code, paused.status_code} == expected, (sent.content, paused.content)
    if sent.status_code == 403:
        assert sent.json()["error"] == "forbidden"
    assert as_token.get("/api/intents").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_last_used_is_written_after_the_answer_once_a_minute(org):
    last_used.queued.clear()
    secret = org.api_token()
    token = ApiToken.objects.get()
    assert Client().get("/api/numbers", headers=bearer(secret)).status_code == 200
    last_used.settle()
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    assert Client().get("/api/numbers", headers=bearer(secret)).status_code == 200
    last_used.settle()
    token.refresh_from_db()
    assert token.last_used_at == first


@pytest.mark.django_db(transaction=True)
def test_a_locked_database_does_not_fail_the_request(org, settings):
    """With another connection holding SQLite's write lock (or the token's row locked on
    PostgreSQL), the request still answers 200; the write is skipped and logged."""
    import threading

    from django.db import connections

    last_used.queued.clear()
    secret = org.api_token()
    token = ApiToken.objects.get()
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock():
        from django.db import connection, transaction

        try:
            with transaction.atomic():
                # A write: SQLite's database lock, PostgreSQL's row lock.
                ApiToken.objects.filter(pk=token.pk).update(name="busy")
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert holding.wait(timeout=30)
        answer = Client().get("/api/numbers", headers=bearer(secret))
        assert answer.status_code == 200
        last_used.settle()
    finally:
        release.set()
        holder.join(timeout=30)
        connections.close_all()
    token.refresh_from_db()
    assert token.last_used_at is None
