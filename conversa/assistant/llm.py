"""The one client for the assistant's model: OpenAI's Chat Completions API over httpx, so that
any server speaking it works (OpenAI, Azure OpenAI, OpenRouter, Groq, vLLM, llama.cpp's server,
Ollama, and the simulator's /sandbox/v1).

httpx rather than the `openai` library: calls go through the providers' guarded transport
(providers/outbound.py: the address checked is the address connected to, so a base URL a member
typed cannot reach the loopback or the cloud's metadata service), and the retries, the breaker
and the budget are ours, shared by every process through the database; the library would bring
its own retries and a second HTTP stack (the tests use it to hold the simulator to what it
sends and reads).

A call, step by step:
1. The endpoint: the organization's own base URL, model and key (ModelSettings) or the
   environment's (ASSISTANT_*), else the simulator while the sandbox is on. The environment's
   key goes only to the environment's base URL, and a stored key only to a real server.
2. Refused before anything is sent when the day's token budget is spent (BudgetSpent) or the
   organization's circuit breaker is open (ModelPaused); once its hold ends, one call at a time
   tries the model again (half-open).
3. Sent with timeouts; a 408, 409, 429, 5xx, a timeout or a lost connection is tried again after
   a doubling wait, or the server's Retry-After when it gives one, within bounds. A streamed
   answer is tried again only until its first piece has arrived.
4. Recorded as a ModelCall with the tokens the server reported (estimated when it reports
   none), their estimated cost (ASSISTANT_PRICES) and the messages sent (bounded; the AI log
   shows them to owners and admins), and the breaker fed: a call that failed after its retries counts one failure, an
   answer closes it. Nothing of the prompt, the answer or the key is logged.
"""

import functools
import json
import logging
import math
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext

from conversa.accounts.models import Organization
from conversa.assistant.models import (
    MAX_KEPT_MESSAGE_CHARS,
    MAX_KEPT_MESSAGES,
    MAX_MODEL_LENGTH,
    ModelCall,
    ModelSettings,
)
from conversa.errors import Refused
from conversa.providers.http import guarded_transport
from conversa.providers.outbound import UnsafeAddress
from conversa.providers.registry import sandbox_tenant
from conversa.sandbox import tenants

log = logging.getLogger(__name__)

SIMULATOR_MODEL = "conversa-sandbox"
# Azure OpenAI takes its key in an `api-key` header, every other server as a bearer token.
AZURE_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")
# Statuses worth another attempt: a timeout, a lock, too many requests, the server's troubles.
TRANSIENT = {408, 409, 429, 500, 502, 503, 504}
# The most of an answer read: a server that sends more is cut off there.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
MAX_ANSWER_CHARS = 100_000

# One pooled client per process, connections opened only to addresses Conversa may call
# (redirects are not followed: a hop would be a new, unchecked URL).
client = httpx.Client(transport=guarded_transport(), trust_env=False, follow_redirects=False)


class ModelError(Refused):
    """The model could not answer (after its retries): words for the person who asked."""

    code, status = "model_unavailable", 502
    # The ModelCall that failed (None: refused before any call, like BudgetSpent).
    call_id: int | None = None


class ModelRefused(ModelError):
    """The model's server refused the request itself (a wrong key, an unknown model): trying
    again would not help."""

    code = "model_refused"


class ModelNotConfigured(ModelError):
    code, status = "model_not_configured", 409


class ModelPaused(ModelError):
    """The organization's circuit breaker is open: the model is not called until it closes."""

    code, status = "model_paused", 503


class BudgetSpent(ModelError):
    """The organization's daily token budget is spent: no call until its next local day."""

    code, status = "budget_spent", 429


@dataclass(frozen=True)
class Endpoint:
    """Where one organization's calls go."""

    base_url: str
    api_key: str
    model: str
    budget: int
    # The simulator plays the model (pages say so plainly).
    simulated: bool

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    def url(self, path: str) -> str:
        """`path` under the base URL, keeping its query (Azure's api-version)."""
        parts = urlsplit(self.base_url)
        return urlunsplit(
            (parts.scheme, parts.netloc, parts.path.rstrip("/") + path, parts.query, "")
        )

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.api_key:
            if self.host.endswith(AZURE_HOSTS):
                headers["api-key"] = self.api_key
            else:
                headers["Authorization"] = f"Bearer {self.api_key}"
        return headers


@dataclass(frozen=True)
class Answer:
    text: str
    model: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    attempts: int
    # The ModelCall row that counted it (an AssistantOutput links to it).
    call_id: int | None = None


def settings_row(org: Organization) -> ModelSettings:
    """The organization's ModelSettings, made (empty: the environment's defaults) on first use."""
    found = ModelSettings.objects.for_org(org).first()
    if found:
        return found
    try:
        with transaction.atomic():
            return ModelSettings.objects.create(organization=org)
    except IntegrityError:  # another process made it first
        return ModelSettings.objects.for_org(org).get()


def simulator_url() -> str:
    """The simulator's model, beside its Evolution API wherever SANDBOX_URL puts it (in this
    process, or a `conversa sandbox` of its own)."""
    base = settings.SANDBOX_URL
    if base.endswith("/evolution"):
        return base.removesuffix("/evolution") + "/v1"
    return f"{settings.PUBLIC_URL}/sandbox/v1"


def endpoint_of(org: Organization, row: ModelSettings) -> Endpoint | None:
    """Where `org`'s calls go, from its row and the environment; None when nowhere."""
    budget = row.daily_token_budget
    if budget is None:
        budget = settings.ASSISTANT_DAILY_TOKEN_BUDGET
    if row.base_url:
        # The environment's key is the operator's: it never goes to an address a member typed.
        model = row.model or settings.ASSISTANT_MODEL
        return Endpoint(row.base_url, row.api_key, model, budget, simulated=False)
    if settings.ASSISTANT_BASE_URL:
        key = row.api_key or settings.ASSISTANT_API_KEY
        model = row.model or settings.ASSISTANT_MODEL
        return Endpoint(settings.ASSISTANT_BASE_URL, key, model, budget, simulated=False)
    if settings.SANDBOX_ENABLED:
        # The organization's own key to the simulator: a key it stored is for a real server,
        # and goes only with the base URL it sets.
        key = tenants.api_key_for(sandbox_tenant(org.pk))
        model = row.model or settings.ASSISTANT_MODEL or SIMULATOR_MODEL
        return Endpoint(simulator_url(), key, model, budget, simulated=True)
    return None


def endpoint_for(org: Organization) -> Endpoint | None:
    return endpoint_of(org, settings_row(org))


def local_day(org: Organization, when: datetime | None = None) -> date:
    return timezone.localtime(when or timezone.now(), ZoneInfo(org.time_zone)).date()


def tokens_used(org: Organization, day: date) -> int:
    """Tokens (prompt and answer) the organization's calls used on its local `day`."""
    totals = (
        ModelCall.objects.for_org(org)
        .filter(day=day)
        .aggregate(prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"))
    )
    return (totals["prompt"] or 0) + (totals["completion"] or 0)


def check_budget(org: Organization, endpoint: Endpoint) -> None:
    if tokens_used(org, local_day(org)) >= endpoint.budget:
        raise BudgetSpent(
            gettext(
                "The assistant has used its %(budget)s tokens for today. It answers again "
                "tomorrow; an owner or admin can raise the daily budget in Settings → Assistant."
            )
            % {"budget": number_format(endpoint.budget, force_grouping=True)}
        )


def local_time(org: Organization, when: datetime) -> str:
    return timezone.localtime(when, ZoneInfo(org.time_zone)).strftime("%H:%M")


def admit(org: Organization, row: ModelSettings) -> None:
    """Refuse (ModelPaused) while the breaker is open. Once the hold has ended, the one call
    that moves the hold forward (a compare-and-set on the row) tries the model; any other
    waits for its outcome, so a model that is still down gets one call, not a crowd."""
    until = row.breaker_open_until
    if until is None:
        return
    now = timezone.now()
    paused = gettext(
        "The AI model failed %(count)s times in a row, so the assistant stopped calling it "
        "for a while. It tries again at %(time)s."
    )
    if until > now:
        raise ModelPaused(paused % {"count": row.breaker_failures, "time": local_time(org, until)})
    retry_at = now + timedelta(seconds=settings.ASSISTANT_BREAKER_HOLD_SECONDS)
    taken = ModelSettings.objects.filter(pk=row.pk, breaker_open_until=until).update(
        breaker_open_until=retry_at
    )
    if not taken:
        raise ModelPaused(
            paused % {"count": row.breaker_failures, "time": local_time(org, retry_at)}
        )


def breaker_outcome(org: Organization, *, ok: bool) -> None:
    """An answer closes the breaker; the ASSISTANT_BREAKER_FAILURES-th failure in a row opens
    it for ASSISTANT_BREAKER_HOLD_SECONDS (a failed trial after the hold opens it again)."""
    rows = ModelSettings.objects.for_org(org)
    if ok:
        rows.filter(breaker_failures__gt=0).update(breaker_failures=0, breaker_open_until=None)
        return
    rows.update(breaker_failures=F("breaker_failures") + 1)
    hold = timedelta(seconds=settings.ASSISTANT_BREAKER_HOLD_SECONDS)
    rows.filter(breaker_failures__gte=settings.ASSISTANT_BREAKER_FAILURES).update(
        breaker_open_until=timezone.now() + hold
    )


def estimated_tokens(text: str) -> int:
    """About four characters a token: the budget still counts a server that reports no usage."""
    return math.ceil(len(text) / 4)


def prompt_size(messages: list[dict]) -> int:
    return sum(4 + estimated_tokens(str(m.get("content") or "")) for m in messages) + 3


# The most a price (US dollars per million tokens) and the price list may be.
MAX_PRICE = Decimal(1000)
MAX_PRICED_MODELS = 100
MILLION = Decimal(1_000_000)


@functools.cache
def prices(spec: str) -> dict[str, tuple[Decimal, Decimal]]:
    """ASSISTANT_PRICES read: model → (prompt, answer) dollars per million tokens. An entry
    that is not `model=prompt:answer` with prices from 0 to MAX_PRICE is left out, and said
    once in the log (a typo costs an estimate, not the server's start)."""
    found = {}
    for entry in re.split(r"[\s;]+", spec.strip())[: MAX_PRICED_MODELS * 2]:
        if not entry:
            continue
        model, _, pair = entry.rpartition("=")
        prompt, _, answer = pair.partition(":")
        try:
            both = (Decimal(prompt), Decimal(answer))
        except InvalidOperation:
            both = None
        if (
            not model
            or len(model) > MAX_MODEL_LENGTH
            or both is None
            or not all(price.is_finite() and 0 <= price <= MAX_PRICE for price in both)
            or len(found) >= MAX_PRICED_MODELS
        ):
            log.warning(
                "ASSISTANT_PRICES: entry %r left out (model=prompt:answer, 0 to 1000)", entry[:80]
            )
            continue
        found[model] = both
    return found


def cost_of(model: str, prompt_tokens: int, completion_tokens: int) -> Decimal | None:
    """A call's estimated cost in US dollars; None when its model has no price (the
    simulator's is free)."""
    if model == SIMULATOR_MODEL:
        return Decimal(0)
    price = prices(settings.ASSISTANT_PRICES).get(model)
    if price is None:
        return None
    cost = (prompt_tokens * price[0] + completion_tokens * price[1]) / MILLION
    return cost.quantize(Decimal("0.00000001"))


def kept_messages(messages: list[dict]) -> list[dict]:
    """What a ModelCall keeps of the messages it sent: the last MAX_KEPT_MESSAGES, each one's
    text cut to MAX_KEPT_MESSAGE_CHARS."""
    kept = []
    for message in messages[-MAX_KEPT_MESSAGES:]:
        content = message.get("content")
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False) if content is not None else ""
        kept.append(
            {"role": str(message.get("role", ""))[:20], "content": content[:MAX_KEPT_MESSAGE_CHARS]}
        )
    return kept


def bounded_count(value) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
        return value
    return None


class Failure(Exception):
    """One attempt failed: whether another may help, and after how long the server asked."""

    def __init__(
        self,
        words: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        refused: bool = False,
    ):
        super().__init__(words)
        self.transient = transient
        self.retry_after = retry_after
        # The server refused the request itself (HTTP 4xx): ModelRefused.
        self.refused = refused


def status_words(status: int) -> str:
    if status in (401, 403):
        return gettext("the model's server refused the API key (HTTP %(status)s)")
    if status == 404:
        return gettext("the model's server has no such model or address (HTTP %(status)s)")
    if status == 429:
        return gettext("the model's server says too many requests (HTTP %(status)s)")
    if status >= 500:
        return gettext("the model's server had an error (HTTP %(status)s)")
    return gettext("the model's server refused the request (HTTP %(status)s)")


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86_400 else None


def transport_failure(exc: httpx.TransportError) -> Failure:
    if isinstance(exc.__cause__, UnsafeAddress) or isinstance(exc, UnsafeAddress):
        return Failure(gettext("its address is on a private or reserved network"), transient=False)
    if isinstance(exc, httpx.TimeoutException):
        return Failure(gettext("the model did not answer in time"), transient=True)
    if isinstance(exc, httpx.ConnectError):
        return Failure(gettext("no server answers at that address"), transient=True)
    return Failure(gettext("the connection to the model was lost"), transient=True)


def first_bytes(response: httpx.Response, most: int = 300) -> bytes:
    """The start of an error answer, for the log; the response is closed after."""
    try:
        for chunk in response.iter_bytes():
            return chunk[:most]
        return b""
    except httpx.HTTPError:
        return b""
    finally:
        response.close()


def pause(seconds: float) -> None:
    time.sleep(seconds)


def wait_before(attempt: int, asked: float | None) -> float | None:
    """How long to wait before attempt `attempt + 1`; None: give up now (the server asked for
    longer than ASSISTANT_RETRY_MAX_WAIT_SECONDS)."""
    most = settings.ASSISTANT_RETRY_MAX_WAIT_SECONDS
    if asked is not None:
        return asked if asked <= most else None
    wait = settings.ASSISTANT_RETRY_BASE_SECONDS * 2 ** (attempt - 1)
    return min(most, wait * random.uniform(0.8, 1.2))


def timeout() -> httpx.Timeout:
    seconds = settings.ASSISTANT_TIMEOUT_SECONDS
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


class Call:
    """One call to the model, from the checks before it to its record."""

    def __init__(
        self,
        org: Organization,
        messages: list[dict],
        *,
        purpose: str,
        stream: bool,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ):
        row = settings_row(org)
        endpoint = endpoint_of(org, row)
        if endpoint is None:
            raise ModelNotConfigured(
                gettext("No AI model is set up: set one in Settings → Assistant.")
            )
        if not endpoint.model:
            raise ModelNotConfigured(gettext("Choose which model to use in Settings → Assistant."))
        check_budget(org, endpoint)
        admit(org, row)
        self.org, self.endpoint, self.purpose = org, endpoint, purpose
        self.messages, self.stream = messages, stream
        self.body: dict = {"model": endpoint.model, "messages": messages}
        if max_tokens is not None:
            self.body["max_tokens"] = max_tokens
        if temperature is not None:
            self.body["temperature"] = temperature
        if stream:
            self.body["stream"] = True
            self.body["stream_options"] = {"include_usage": True}
        self.started = time.monotonic()
        self.attempts = 0

    def attempt(self):
        """The response of one attempt, its status checked (a Failure otherwise); the caller
        closes it."""
        self.attempts += 1
        request = client.build_request(
            "POST",
            self.endpoint.url("/chat/completions"),
            json=self.body,
            headers=self.endpoint.headers(),
            timeout=timeout(),
        )
        try:
            response = client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise transport_failure(exc) from exc
        if response.status_code != 200:
            # The server's own words (cut short) go to the log only: the URL may be anyone's
            # server. Neither the request's headers (the key) nor its messages are logged.
            log.warning(
                "model server %s answered HTTP %s to organization %s (attempt %s): %r",
                self.endpoint.host,
                response.status_code,
                self.org.pk,
                self.attempts,
                first_bytes(response).decode("utf-8", "replace"),
            )
            raise Failure(
                status_words(response.status_code) % {"status": response.status_code},
                transient=response.status_code in TRANSIENT,
                retry_after=retry_after(response),
                refused=response.status_code not in TRANSIENT,
            )
        return response

    def with_retries(self, read):
        """`read(response)` of the first attempt that answers, trying transient failures
        again; a ModelError when none does."""
        tries = 1 + max(0, settings.ASSISTANT_RETRIES)
        while True:
            try:
                response = self.attempt()
                try:
                    return read(response)
                finally:
                    response.close()
            except Failure as failure:
                if not failure.transient or self.attempts >= tries:
                    raise self.failed(failure) from failure
                wait = wait_before(self.attempts, failure.retry_after)
                if wait is None:
                    raise self.failed(failure) from failure
                pause(wait)

    def failed(self, failure: Failure) -> ModelError:
        """The error to raise for the call's last failure, recorded (a permanent refusal by
        the server does not feed the breaker: trying later would not help either)."""
        error_class = ModelRefused if failure.refused else ModelError
        error = error_class(
            gettext("The AI model could not answer: %(reason)s.") % {"reason": failure}
        )
        # The failed call's row, for an AI log entry to link to.
        error.call_id = self.record(error=error.code).call_id
        if failure.transient:
            breaker_outcome(self.org, ok=False)
        return error

    def record(
        self,
        *,
        prompt: int | None = None,
        completion: int = 0,
        answer: str = "",
        error: str = "",
    ) -> Answer:
        estimated = prompt is None
        prompt_tokens = prompt_size(self.messages) if prompt is None else prompt
        if estimated and answer and not completion:
            completion = estimated_tokens(answer)
        latency_ms = int((time.monotonic() - self.started) * 1000)
        if error and estimated and not answer:
            prompt_tokens = 0  # nothing answered: nothing known to have been spent
        call = ModelCall.objects.create(
            organization=self.org,
            day=local_day(self.org),
            purpose=self.purpose,
            model=self.endpoint.model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion,
            estimated=estimated,
            streamed=self.stream,
            latency_ms=latency_ms,
            attempts=self.attempts,
            error=error,
            messages=kept_messages(self.messages),
            cost=cost_of(self.endpoint.model, prompt_tokens, completion),
        )
        return Answer(
            text=answer,
            model=self.endpoint.model,
            finish_reason="",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion,
            latency_ms=latency_ms,
            attempts=self.attempts,
            call_id=call.pk,
        )


def read_json(response: httpx.Response) -> dict:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise Failure(gettext("the model's answer is too large"), transient=False)
    chunks, size = [], 0
    try:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise Failure(gettext("the model's answer is too large"), transient=False)
            chunks.append(chunk)
    except httpx.TransportError as exc:
        raise transport_failure(exc) from exc
    try:
        body = json.loads(b"".join(chunks))
    except ValueError as exc:
        raise Failure(gettext("the model's answer could not be read"), transient=False) from exc
    if not isinstance(body, dict):
        raise Failure(gettext("the model's answer could not be read"), transient=False)
    return body


def usage_of(body: dict) -> tuple[int | None, int | None]:
    found = body.get("usage")
    if not isinstance(found, dict):
        return None, None
    return bounded_count(found.get("prompt_tokens")), bounded_count(found.get("completion_tokens"))


def complete(
    org: Organization,
    messages: list[dict],
    *,
    purpose: str,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> Answer:
    """The model's whole answer to `messages` (OpenAI's [{"role", "content"}]), for `purpose`.

    Raises BudgetSpent, ModelPaused or ModelNotConfigured before any call, ModelRefused when the
    server refuses the request, ModelError when it cannot answer after its retries."""
    call = Call(
        org, messages, purpose=purpose, stream=False, max_tokens=max_tokens, temperature=temperature
    )
    body = call.with_retries(read_json)
    choices = body.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = choice.get("message") if isinstance(choice, dict) else None
    text = message.get("content") if isinstance(message, dict) else None
    if not isinstance(text, str):
        raise call.failed(Failure(gettext("the model's answer had no text"), transient=False))
    prompt, completion = usage_of(body)
    answer = call.record(prompt=prompt, completion=completion or 0, answer=text[:MAX_ANSWER_CHARS])
    breaker_outcome(org, ok=True)
    reason = choice.get("finish_reason")
    return replace(answer, finish_reason=reason if isinstance(reason, str) else "")


class Stream:
    """The model's answer as it is written, for a person who waits for it: iterate for its
    pieces; `answer` holds the whole answer once the iteration has ended.

    Made like `complete` (the budget and the breaker are checked when it is made, before any
    call); the call itself starts with the iteration. A failure before the first piece is
    tried again like any call; after it, the answer ends with a ModelError."""

    def __init__(
        self,
        org: Organization,
        messages: list[dict],
        *,
        purpose: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ):
        self.call = Call(
            org,
            messages,
            purpose=purpose,
            stream=True,
            max_tokens=max_tokens,
            temperature=temperature,
        )
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        call = self.call
        pieces: list[str] = []
        state = {"prompt": None, "completion": None, "finish": "", "started": False}
        while True:
            try:
                response = call.attempt()
            except Failure as failure:
                if not self.again(failure):
                    raise call.failed(failure) from failure
                continue
            try:
                for piece in self.pieces(response, state):
                    state["started"] = True
                    pieces.append(piece)
                    yield piece
                break
            except Failure as failure:
                if state["started"] or not self.again(failure):
                    raise call.failed(failure) from failure
            except GeneratorExit:
                # The reader left before the end (the person closed the page): what was
                # written is still counted against the budget.
                call.record(prompt=state["prompt"], answer="".join(pieces), error="abandoned")
                raise
            finally:
                response.close()
        text = "".join(pieces)
        answer = call.record(
            prompt=state["prompt"], completion=state["completion"] or 0, answer=text
        )
        breaker_outcome(call.org, ok=True)
        self.answer = replace(answer, finish_reason=state["finish"])

    def again(self, failure: Failure) -> bool:
        """Whether to try again after `failure` (having waited as long as it takes)."""
        if not failure.transient or self.call.attempts >= 1 + max(0, settings.ASSISTANT_RETRIES):
            return False
        wait = wait_before(self.call.attempts, failure.retry_after)
        if wait is None:
            return False
        pause(wait)
        return True

    @staticmethod
    def pieces(response: httpx.Response, state: dict) -> Iterator[str]:
        """The text pieces of a server-sent event stream (`data: {chunk}` lines, `[DONE]`),
        keeping its finish reason and usage in `state`."""
        size = 0
        try:
            for line in response.iter_lines():
                size += len(line)
                if size > MAX_RESPONSE_BYTES:
                    state["finish"] = "length"
                    return
                if not line.startswith("data:"):
                    continue  # comments (": keep-alive"), event names, blank separators
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    chunk = json.loads(data)
                except ValueError as exc:
                    raise Failure(
                        gettext("the model's answer could not be read"), transient=False
                    ) from exc
                if not isinstance(chunk, dict):
                    continue
                if "error" in chunk:
                    raise Failure(gettext("the model stopped with an error"), transient=True)
                prompt, completion = usage_of(chunk)
                if prompt is not None:
                    state["prompt"], state["completion"] = prompt, completion
                choices = chunk.get("choices")
                if not isinstance(choices, list) or not choices:
                    continue
                choice = choices[0] if isinstance(choices[0], dict) else {}
                if isinstance(choice.get("finish_reason"), str):
                    state["finish"] = choice["finish_reason"]
                delta = choice.get("delta")
                text = delta.get("content") if isinstance(delta, dict) else None
                if isinstance(text, str) and text:
                    yield text
        except httpx.TransportError as exc:
            raise transport_failure(exc) from exc
