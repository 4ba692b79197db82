"""`/api/assistant/settings`: the organization's AI model server, model, key (write-only) and
daily token budget, and the tokens used today (owners and admins)."""

from datetime import datetime
from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Router, Schema
from pydantic import StringConstraints

from conversa.assistant import services
from conversa.assistant.models import (
    MAX_API_KEY_LENGTH,
    MAX_BASE_URL_LENGTH,
    MAX_DAILY_TOKEN_BUDGET,
    MAX_MODEL_LENGTH,
)

router = Router(tags=["assistant"])


class ModelSettingsIn(Schema):
    """The whole setting: every field is replaced, except the key, which is kept unless given
    (or removed with `clear_api_key`)."""

    # Any OpenAI-compatible server, like https://api.openai.com/v1; "": the default.
    base_url: Annotated[str, StringConstraints(max_length=MAX_BASE_URL_LENGTH)] = ""
    # "": the default model.
    model: Annotated[str, StringConstraints(max_length=MAX_MODEL_LENGTH)] = ""
    # Write-only: stored encrypted, never answered back.
    api_key: Annotated[str, StringConstraints(max_length=MAX_API_KEY_LENGTH)] | None = None
    clear_api_key: bool = False
    # Tokens a day (the organization's local day); null: the default.
    daily_token_budget: Annotated[int, Field(ge=1, le=MAX_DAILY_TOKEN_BUDGET)] | None = None


class ModelSettingsOut(Schema):
    base_url: str
    model: str
    # Whether a key is stored; the key itself is never answered.
    api_key_set: bool
    daily_token_budget: int | None
    # What calls use now, the defaults filled in.
    effective_base_url: str
    effective_model: str
    effective_budget: int
    # The simulator plays the model (answers are not an AI's).
    simulated: bool
    used_today: int
    calls_today: int
    # Until when the circuit breaker holds calls off; null: calls go through.
    paused_until: datetime | None


class ModelTestOut(Schema):
    model: str
    answer: str
    latency_ms: int
    prompt_tokens: int
    completion_tokens: int


def settings_out(org) -> dict:
    return services.model_view(org).__dict__


@router.get("/assistant/settings", response=ModelSettingsOut)
def get_model_settings(request: HttpRequest):
    """The organization's model settings and today's usage."""
    services.must_administer(request.member)
    return settings_out(request.org)


@router.put("/assistant/settings", response=ModelSettingsOut)
def put_model_settings(request: HttpRequest, payload: ModelSettingsIn):
    """Replace the organization's model settings; recorded in the audit log. A base URL on a
    private or reserved network, or one with credentials in it, is refused (422)."""
    services.update_model_settings(
        request.org, acting_member=request.member, **payload.model_dump()
    )
    return settings_out(request.org)


@router.post("/assistant/settings/test", response=ModelTestOut)
def test_model(request: HttpRequest):
    """One tiny call to the model as set up now (its tokens count today). 502 with what went
    wrong when it cannot answer; 429 when today's budget is spent; 503 while the breaker is
    open."""
    answer = services.test_connection(request.org, acting_member=request.member)
    return {
        "model": answer.model,
        "answer": answer.text,
        "latency_ms": answer.latency_ms,
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
    }
