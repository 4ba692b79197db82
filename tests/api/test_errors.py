"""Every 4xx of the API has one shape, the OpenAPI's `Error` (issue 21, item 7): whatever
raised it (the schema's validation, a service's refusal, a 404 lookup, the rate limit, the
router itself for a method or a path it does not know, a body it cannot read)."""

import json

import jsonschema_rs
import pytest
from django.test import Client

from conversa.accounts.models import Member
from conversa.api import api
from conversa.inbox import ownership
from tests.conftest import make_org


@pytest.fixture
def org(db):
    return make_org()


def error_validator():
    schema = api.get_openapi_schema()["components"]["schemas"]["Error"]
    return jsonschema_rs.validator_for(schema)


def send(method: str, path: str, token: str | None = None, body=None, raw: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = raw if raw is not None else json.dumps(body or {})
    return Client().generic(method, path, data, content_type="application/json", headers=headers)


def test_every_kind_of_refusal_has_the_one_shape(org, settings):
    owner = org.api_token()
    agent = org.member(Member.Role.AGENT)
    conversation = org.conversation()
    ownership.claim(conversation, acting_member=agent)
    tag = {"name": "VIP"}
    assert send("POST", "/api/tags", owner, tag).status_code == 201
    refusals = {
        "401": send("GET", "/api/contacts"),
        "403": send("GET", "/api/members", org.api_token(agent)),
        "404 object": send("GET", "/api/contacts/999999", owner),
        "404 path": send("GET", "/api/nothing-here", owner),
        "405": send("DELETE", "/api/contacts", owner),
        "409": send("POST", "/api/tags", owner, tag),
        "409 assignee": send("POST", f"/api/conversations/{conversation.pk}/claim", owner),
        "422 body": send("POST", "/api/tags", owner, {}),
        "422 query": send("GET", "/api/crm/leads?limit=0", owner),
        "422 service": send("PUT", "/api/business-hours", owner, {"time_zone": "Mars/Base"}),
        "400 unreadable": send("POST", "/api/tags", owner, raw="{not json"),
    }
    settings.API_RATE_LIMIT_TOKEN = "1/minute"
    limited = org.api_token()
    send("GET", "/api/numbers", limited)
    refusals["429"] = send("GET", "/api/numbers", limited)
    validator = error_validator()
    problems = []
    for label, answer in refusals.items():
        status = int(label.split()[0])
        if answer.status_code != status:
            problems.append(f"{label}: status {answer.status_code}")
            continue
        if not answer["Content-Type"].startswith("application/json"):
            problems.append(f"{label}: {answer['Content-Type']}")
            continue
        errors = [e.message for e in validator.iter_errors(answer.json())]
        if errors:
            problems.append(f"{label}: {answer.json()} — {errors}")
    assert not problems, "\n".join(problems)
    assert refusals["405"]["Allow"]
    assert refusals["409 assignee"].json()["assignee"]["id"] == agent.pk
    assert refusals["422 body"].json()["errors"][0]["loc"][-1] == "name"
    assert refusals["400 unreadable"].json()["error"] == "bad_request"
    assert refusals["429"].json()["error"] == "rate_limited" and refusals["429"]["Retry-After"]


def test_the_openapi_documents_the_shape_on_every_operation():
    schema = api.get_openapi_schema()
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            refusals = {s: r for s, r in operation["responses"].items() if s.startswith("4")}
            shapes = {
                r["content"]["application/json"]["schema"].get("$ref") for r in refusals.values()
            }
            if "4XX" not in refusals or shapes != {"#/components/schemas/Error"}:
                missing.append(f"{method.upper()} {path}")
    assert not missing, f"operations whose refusals are not documented as Error: {missing}"
