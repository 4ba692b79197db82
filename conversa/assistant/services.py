"""The organization's model settings (Settings → Assistant and `/api/assistant/settings`): what
they are, changing them, trying them, and the tokens used today against the budget."""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import httpcore
from django.db import transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.services import record, same_org
from conversa.assistant import llm
from conversa.assistant.models import (
    MAX_API_KEY_LENGTH,
    MAX_BASE_URL_LENGTH,
    MAX_DAILY_TOKEN_BUDGET,
    MAX_MODEL_LENGTH,
    ModelCall,
    ModelSettings,
)
from conversa.errors import Forbidden, Refused
from conversa.providers import outbound

CONNECTION_TEST = [{"role": "user", "content": "Reply with the word OK."}]


def must_administer(member: Member) -> None:
    if not member.is_active or not member.administers:
        raise Forbidden(gettext("Only owners and admins change the assistant's settings."))


@dataclass(frozen=True)
class ModelView:
    """The settings as pages and the API show them: the key never, only whether one is set."""

    base_url: str
    model: str
    api_key_set: bool
    daily_token_budget: int | None
    # What calls use now, the environment's defaults filled in ("" when nothing is set up).
    effective_base_url: str
    effective_model: str
    effective_budget: int
    simulated: bool
    used_today: int
    calls_today: int
    # Until when the breaker holds calls off (None: calls go through).
    paused_until: datetime | None = None


def model_view(org: Organization) -> ModelView:
    row = llm.settings_row(org)
    endpoint = llm.endpoint_of(org, row)
    day = llm.local_day(org)
    budget = endpoint.budget if endpoint else (row.daily_token_budget or 0)
    paused = row.breaker_open_until
    return ModelView(
        base_url=row.base_url,
        model=row.model,
        api_key_set=bool(row.api_key),
        daily_token_budget=row.daily_token_budget,
        effective_base_url=endpoint.base_url if endpoint else "",
        effective_model=endpoint.model if endpoint else "",
        effective_budget=budget,
        simulated=bool(endpoint and endpoint.simulated),
        used_today=llm.tokens_used(org, day),
        calls_today=ModelCall.objects.for_org(org).filter(day=day).count(),
        paused_until=paused if paused and paused > timezone.now() else None,
    )


def clean_base_url(value: str) -> str:
    """An http(s) URL without credentials, on an address Conversa may call ("" for the
    default). Said here in words; the call checks the address again when it connects."""
    url = (value or "").strip().rstrip("/")
    if not url:
        return ""
    if len(url) > MAX_BASE_URL_LENGTH:
        raise Refused(
            gettext("The address has at most %(n)s characters.") % {"n": MAX_BASE_URL_LENGTH},
            field="base_url",
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (an out-of-range port raises here)
    except ValueError as exc:
        raise Refused(gettext("This is not a web address."), field="base_url") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(
            gettext("The address starts with https:// or http://, like https://api.openai.com/v1."),
            field="base_url",
        )
    if parts.username or parts.password or parts.fragment:
        raise Refused(
            gettext("Put the key in the API key field, not in the address."), field="base_url"
        )
    try:
        outbound.check_url(url)
    except outbound.UnsafeAddress as exc:
        raise Refused(
            gettext(
                "This address is on a private or reserved network. Conversa only calls model "
                "servers reachable on the internet, or those the operator allowed."
            ),
            field="base_url",
        ) from exc
    except httpcore.ConnectError as exc:
        raise Refused(gettext("No server answers to this name."), field="base_url") from exc
    return url


def clean_model(value: str) -> str:
    model = (value or "").strip()
    if len(model) > MAX_MODEL_LENGTH or any(ch.isspace() or not ch.isprintable() for ch in model):
        raise Refused(
            gettext("A model's name is one word of at most %(n)s characters, like gpt-4o-mini.")
            % {"n": MAX_MODEL_LENGTH},
            field="model",
        )
    return model


def clean_key(value: str) -> str:
    key = (value or "").strip()
    if len(key) > MAX_API_KEY_LENGTH or any(ch.isspace() or not ch.isprintable() for ch in key):
        raise Refused(
            gettext("An API key is one word of at most %(n)s characters.")
            % {"n": MAX_API_KEY_LENGTH},
            field="api_key",
        )
    return key


def clean_budget(value) -> int | None:
    if value is None or value == "":
        return None
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not 1 <= value <= MAX_DAILY_TOKEN_BUDGET
    ):
        raise Refused(
            gettext("The daily budget is a whole number of tokens from 1 to %(most)s.")
            % {"most": number_format(MAX_DAILY_TOKEN_BUDGET, force_grouping=True)},
            field="daily_token_budget",
        )
    return value


@transaction.atomic
def update_model_settings(
    org: Organization,
    *,
    acting_member: Member,
    base_url: str,
    model: str,
    daily_token_budget: int | None,
    api_key: str | None = None,
    clear_api_key: bool = False,
) -> dict:
    """Change the organization's model server, model, key and daily budget (owners and
    admins). Empty fields fall back to the environment's defaults. `api_key` None keeps the
    stored key, a text replaces it, `clear_api_key` removes it; it is stored encrypted and
    never shown again.

    Returns what changed, {field: [before, after]} (the key as "set"/"not set"); recorded as
    one `assistant.settings_changed`. A change of server or key closes the circuit breaker:
    its failures were another server's."""
    must_administer(acting_member)
    same_org(acting_member, org.pk)
    wanted = {
        "base_url": clean_base_url(base_url),
        "model": clean_model(model),
        "daily_token_budget": clean_budget(daily_token_budget),
    }
    if clear_api_key:
        wanted["api_key"] = ""
    elif api_key is not None and api_key.strip():
        wanted["api_key"] = clean_key(api_key)
    row = ModelSettings.objects.select_for_update().get(pk=llm.settings_row(org).pk)
    changes = {}
    for name, value in wanted.items():
        before = getattr(row, name)
        if name == "api_key":
            if before != value:
                changes[name] = ["set" if before else "not set", "set" if value else "not set"]
                if before and value:
                    changes[name] = ["set", "replaced"]
        elif before != value:
            changes[name] = [before, value]
        setattr(row, name, value)
    if not changes:
        return {}
    row.updated_at = timezone.now()
    fields = [*changes, "updated_at"]
    if {"base_url", "api_key"} & set(changes):
        row.breaker_failures, row.breaker_open_until = 0, None
        fields += ["breaker_failures", "breaker_open_until"]
    row.save(update_fields=fields)
    record(org.pk, "assistant.settings_changed", org, actor=acting_member, **changes)
    return changes


def test_connection(org: Organization, *, acting_member: Member) -> llm.Answer:
    """One tiny call to the model as it is set up now (counted in the day's tokens): its
    answer, or the ModelError that says what is wrong."""
    must_administer(acting_member)
    same_org(acting_member, org.pk)
    return llm.complete(org, CONNECTION_TEST, purpose="connection_test", max_tokens=16)
