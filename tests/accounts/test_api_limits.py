"""API requests limited per token (or signed-in member) and per organization: 429 with
Retry-After, and the RateLimit-* headers (IETF draft names) on every counted answer."""

from django.test import Client

from conversa import ratelimits


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def test_every_answer_says_the_budget(org):
    as_token = Client(headers=bearer(org.api_token()))
    first, second = as_token.get("/api/numbers"), as_token.get("/api/numbers/999999")
    assert first.status_code == 200 and second.status_code == 404
    assert first["RateLimit-Limit"] == "600"
    assert int(first["RateLimit-Remaining"]) == int(second["RateLimit-Remaining"]) + 1
    assert 0 < int(first["RateLimit-Reset"]) <= 60
    assert "Retry-After" not in first


def test_past_the_token_budget_a_429_with_retry_after(org, settings):
    settings.API_RATE_LIMIT_TOKEN = "3/minute"
    as_token = Client(headers=bearer(org.api_token()))
    answers = [as_token.get("/api/numbers") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["RateLimit-Remaining"] == "0" and refused["RateLimit-Limit"] == "3"
    # Another token of the same organization has its own budget.
    assert Client(headers=bearer(org.api_token())).get("/api/numbers").status_code == 200


def test_the_organization_budget_is_shared_by_its_tokens_and_sessions(org, other_org, settings):
    settings.API_RATE_LIMIT_ORGANIZATION = "4/minute"
    for _ in range(2):
        assert Client(headers=bearer(org.api_token())).get("/api/numbers").status_code == 200
    assert org.client().get("/api/numbers").status_code == 200
    assert org.client().get("/api/numbers").status_code == 200
    assert org.client().get("/api/numbers").status_code == 429
    assert Client(headers=bearer(org.api_token())).get("/api/numbers").status_code == 429
    # Another organization is not affected.
    assert other_org.client().get("/api/numbers").status_code == 200


def test_a_counting_failure_refuses_nobody(org, monkeypatch):
    def broken():
        raise ConnectionError("no Redis")

    monkeypatch.setattr(ratelimits, "limiter", broken)
    answer = Client(headers=bearer(org.api_token())).get("/api/numbers")
    assert answer.status_code == 200 and "RateLimit-Limit" not in answer


def test_unauthenticated_answers_are_401_without_counting(db):
    answer = Client().get("/api/numbers")
    assert answer.status_code == 401
