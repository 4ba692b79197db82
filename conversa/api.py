import copy

from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from conversa import openapi
from conversa.accounts.api import router as members_router
from conversa.accounts.api_auth import api_auth
from conversa.accounts.token_api import router as tokens_router
from conversa.assistant.api import router as assistant_router
from conversa.assistant.autoreply_api import router as autoreply_router
from conversa.assistant.help_api import router as assistant_help_router
from conversa.assistant.knowledge_api import router as knowledge_router
from conversa.assistant.persona_api import router as personas_router
from conversa.campaigns.campaign_api import router as campaigns_router
from conversa.campaigns.contact_api import router as contacts_router
from conversa.campaigns.import_api import router as imports_router
from conversa.campaigns.keyword_api import router as keywords_router
from conversa.campaigns.privacy_api import router as privacy_router
from conversa.campaigns.segment_api import router as segments_router
from conversa.crm.api import router as crm_router
from conversa.engine.api import router as engine_router
from conversa.engine.content_api import router as content_router
from conversa.engine.policy_api import router as policy_router
from conversa.errors import Refused
from conversa.inbox.api import router as inbox_router
from conversa.inbox.team_api import router as team_router
from conversa.insights.api import router as insights_router
from conversa.insights.export_api import router as exports_router
from conversa.numbers.api import router as numbers_router
from conversa.webhooks.api import router as webhooks_router

DESCRIPTION = """Everything a person can do on Conversa's pages, for programs: each page action
has its operation here.

**Sign in** with `Authorization: Bearer <API token>` (Settings → API tokens).

**Errors** share one shape, whatever the status (`Error`): `{"error": "<code>", "detail":
"<in words>"}`, with `errors` (each input's problem: `type`, `loc`, `msg`) on a 422 and
`assignee` on a 409 about a conversation someone else has. Codes: 400 `bad_request`, 401
`unauthorized`, 403 `forbidden`, 404 `not_found` (another organization's object too), 405
`method_not_allowed`, 409 `conflict`, 422 `invalid`, 429 `rate_limited` (with `RateLimit-*` and
`Retry-After` headers).

**Lists** are read a page at a time: `limit` (bounded) and `cursor`; the next page's cursor is in
the `X-Next-Cursor` header (absent on the last page), and rows come in a stable order, so a row
is never seen twice nor skipped when rows are added while paging. `next_cursor` is also in the
body where a list answers an object."""


class ConversaAPI(NinjaAPI):
    """django-ninja's API, its OpenAPI completed with the one error shape and an example of
    every request and answer (conversa/openapi.py). Made once per prefix: the routes do not
    change while the process runs."""

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        key = (path_prefix, repr(sorted((path_params or {}).items())))
        made = self.__dict__.setdefault("_openapi", {})
        if key not in made:
            schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
            made[key] = openapi.complete(schema)
        return copy.deepcopy(made[key])


api = ConversaAPI(
    title="Conversa API",
    version="1",
    description=DESCRIPTION,
    auth=api_auth,
    urls_namespace="api",
)
api.add_router("/", inbox_router)
api.add_router("/", team_router)
# Before the engine's: its /intents/{intent_id} would take /intents/location as an id.
api.add_router("/", content_router)
api.add_router("/", engine_router)
api.add_router("/", numbers_router)
api.add_router("/", crm_router)
api.add_router("/", members_router)
api.add_router("/", policy_router)
api.add_router("/", tokens_router)
api.add_router("/", privacy_router)
api.add_router("/", imports_router)
api.add_router("/", keywords_router)
api.add_router("/", contacts_router)
api.add_router("/", segments_router)
api.add_router("/", campaigns_router)
api.add_router("/", insights_router)
api.add_router("/", knowledge_router)
api.add_router("/", exports_router)
api.add_router("/", assistant_router)
api.add_router("/", autoreply_router)
api.add_router("/", personas_router)
api.add_router("/", assistant_help_router)
api.add_router("/", webhooks_router)


@api.exception_handler(Refused)
def refused(request, exc: Refused):
    """Every service's refusal, answered here once: invalid input like any other (422, the
    reason in `errors`, under the field it concerns), else its own status and code."""
    if exc.status == 422:
        where = ["body", exc.field] if exc.field else ["body"]
        errors = [{"type": "value_error", "loc": where, "msg": str(exc)}]
        return invalid(request, ValidationError(errors))
    body = {"error": exc.code, "detail": str(exc)}
    if exc.holder is not None:
        body["assignee"] = {"id": exc.holder.pk, "name": exc.holder.display_name}
    return api.create_response(request, body, status=exc.status)


@api.exception_handler(Http404)
def not_found(request, exc):
    return api.create_response(
        request, {"error": "not_found", "detail": str(exc) or "Not found"}, status=404
    )


@api.exception_handler(AuthenticationError)
def unauthorized(request, exc):
    detail = "Sign in, or send 'Authorization: Bearer <API token>'"
    return api.create_response(request, {"error": "unauthorized", "detail": detail}, status=401)


@api.exception_handler(ValidationError)
def invalid(request, exc):
    return api.create_response(
        request,
        {"error": "invalid", "detail": "The request is not valid", "errors": exc.errors},
        status=422,
    )


@api.exception_handler(HttpError)
def http_error(request, exc):
    codes = {
        400: "bad_request",
        403: "forbidden",
        405: "method_not_allowed",
        409: "conflict",
        410: "gone",
        429: "rate_limited",
        502: "provider_refused",
    }
    body = {"error": codes.get(exc.status_code, "error"), "detail": str(exc)}
    if getattr(exc, "holder", None):
        body["assignee"] = exc.holder
    return api.create_response(request, body, status=exc.status_code)
