"""The API fuzzed from its own OpenAPI with schemathesis: every operation, a bounded number of
generated requests each (seeded, so a run is repeatable), as the owner of an organization
with realistic data (a queue, conversations, a tag, a canned reply, a pipeline with a lead,
an automation, a send).

Checks, for every generated request:
- no server error (schemathesis' `not_a_server_error`): a 5xx fails, whatever the input;
- a request the schema calls valid is not refused as invalid: no 422 from the schema's own
  validation (`errors` whose `loc` is not a service's refusal), and never 401/403/405 (the
  owner may do everything). 404 (a generated id no row has) and 409 (a clash the data
  decides, such as a name taken) are answers to valid requests, and so is a service's own
  422 (`Refused`: a time zone that does not exist, a template naming an unknown field).
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, settings

from conversa.api import api
from conversa.crm import automations
from conversa.crm import services as crm
from conversa.engine import services as engine
from conversa.inbox import canned_replies, tags
from conversa.inbox.models import Conversation, Queue
from tests.conftest import make_org

EXAMPLES = 8
# Minutes of generated requests: once per `make test`, on SQLite (what it proves does not
# depend on the database; PostgreSQL-only inputs, such as NUL characters in text, are a
# follow-up).
pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="minutes of fuzzing: once per run, on SQLite"
)


@pytest.fixture(autouse=True)
def app_in_test_transaction(db):
    """The WSGI handler closes the database connection around each request, as a server
    does; in a test that would end the test's own transaction (Django's test client keeps it
    open the same way)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture(autouse=True)
def quick_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner_token(db) -> str:
    """An organization with a little of everything, and its owner's API token."""
    org = make_org()
    agent = org.member()
    queue = Queue.objects.create(organization=org.org, name="Suporte")
    queue.members.add(agent)
    queue.numbers.add(org.number)
    for n in range(3):
        conversation = org.conversation(f"55119888800{n:02d}")
        Conversation.objects.filter(pk=conversation.pk).update(queue=queue)
    engine.reply(conversation, "Olá", acting_member=agent)
    tags.create_tag(org.org, "VIP", "green", acting_member=org.owner)
    canned_replies.save_canned_reply(org.org, "oi", "Olá!", acting_member=org.owner)
    pipeline = crm.create_pipeline(
        org.org, "Vendas", acting_member=org.owner, stages=[{"name": "Novo"}, {"name": "Fim"}]
    )
    first = pipeline.stages.order_by("position").first()
    crm.create_lead(conversation.contact, first, "Plano", acting_member=org.owner)
    automations.save_automation(
        org.org, acting_member=org.owner, name="Acompanhar", stage=first, steps=[{"template": "Oi"}]
    )
    return org.api_token()


schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
schema.app = get_wsgi_application()
# The worker's own endpoint takes a shared secret, not a member's token.
schema = schema.exclude(path="/api/internal/follow-ups/dispatch")
# Revoking would revoke the fuzzer's own token (its id is as likely as any), and every case
# after it would be a 401: revocation is tested in tests/accounts/test_api_tokens.py.
schema = schema.exclude(path="/api/tokens/{token_id}/revoke")
# Trying the assistant's model calls it (no model server runs here: a 502 each time, and the
# breaker then opens): tests/assistant/test_settings.py calls it against the simulator.
schema = schema.exclude(path="/api/assistant/settings/test")
# The same for the helpers that call the model (tests/assistant/test_help_api.py calls them).
schema = schema.exclude(
    path_regex=r"^/api/conversations/\{conversation_id\}/assistant/(rewrite|translate|summary|suggestion)$"
)
schema = schema.exclude(
    path="/api/conversations/{conversation_id}/assistant/classification", method="POST"
)

ACCEPTED = {404, 409}
# A multipart upload: schemathesis writes its form fields in ways ninja's form parsing reads
# differently (refusals of it are checked in tests/engine/test_content_api.py); server errors
# are still checked.
POSITIVE_UNCHECKED = {"/api/intents/media"}
# Refusals that are rules, not the schema: a token never creates tokens (a signed-in person
# does), and the team's rules refuse what would leave the organization without an owner
# (tests/accounts/test_members*.py).
POSITIVE_UNCHECKED |= {"/api/tokens"}
RULES = {"/api/members/{member_id}": {403}, "/api/members/{member_id}/deactivate": {403}}


def provider_unreachable(response) -> bool:
    """A number's action that reaches the provider, which no test runs: a 502 saying so
    (`provider_refused`), the API's documented answer, not a server error of ours."""
    if response.status_code != 502:
        return False
    return response.json().get("error") == "provider_refused"


def schema_refused(response) -> bool:
    """A 422 saying the request does not fit the schema (a type, a bound, a missing field),
    rather than a rule the schema cannot say: a service's refusal or a field validator's
    (`value_error`: a phone number that cannot exist, a time zone that does not)."""
    if response.status_code != 422:
        return False
    errors = response.json().get("errors") or []
    return any(error.get("type") != "value_error" for error in errors)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_fuzz(case, owner_token):
    response = case.call(headers={"Authorization": f"Bearer {owner_token}"})
    status = response.status_code
    if not provider_unreachable(response):
        case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])
        assert status < 500, f"{case.method} {case.formatted_path}: {status}"
    if case.meta and getattr(case.meta.generation, "mode", None) is not None:
        positive = str(case.meta.generation.mode).lower().endswith("positive")
    else:
        positive = True
    checked = positive and case.path not in POSITIVE_UNCHECKED
    accepted = ACCEPTED | RULES.get(case.path, set())
    if checked and 400 <= status < 500 and status not in accepted:
        assert status == 422 and not schema_refused(response), (
            f"a valid request refused: {case.method} {case.formatted_path} → {status} "
            f"{response.text[:500]}"
        )
