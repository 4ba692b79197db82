from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from conversa import ratelimits
from conversa.inbound import metrics, services
from conversa.inbound.unparsed import unparsed_item
from conversa.numbers.models import Number
from conversa.providers.base import WebhookRejected, WebhookTooLarge
from conversa.providers.registry import get_provider


@csrf_exempt
@require_http_methods(["GET", "POST"])
def webhook(request, provider: str, key: str):
    """GET /webhooks/<provider>/<number key>: the Cloud API's subscription handshake.
    POST: the inbound flow's front door (served by `ingress` ahead of Django in production;
    here for WSGI and the test client)."""
    if request.method == "POST":
        status, answer = answer_webhook(provider, key, request.headers, request.body)
        response = JsonResponse(answer, status=status)
        if "retry_after" in answer:
            response["Retry-After"] = str(answer["retry_after"])
        return response
    number = get_object_or_404(Number, provider=provider, webhook_key=key)
    return subscription_handshake(request, number)


def answer_webhook(provider: str, key: str, headers, raw_body: bytes) -> tuple[int, dict]:
    """What a webhook POST gets: 200 with counts of stored and repeated events (what could not
    be read among them kept as Unparsed); 401, it did not prove where it came from, nothing
    stored; 404, no such webhook; 429,
    the number's budget is spent (see `verified`), nothing read."""
    number = find_number(provider, key)
    refusal, parsed = verified(number, headers, raw_body)
    if refusal:
        return refusal
    stored = services.apply_webhook(number, raw_body, parsed)
    metrics.observe_lag(number.provider, parsed, stored)
    return stored_answer(stored)


def find_number(provider: str, key: str) -> Number | None:
    """The number a webhook address belongs to."""
    return (
        Number.objects.select_related("organization")
        .filter(provider=provider, webhook_key=key)
        .first()
    )


def verified(number: Number | None, headers, raw_body: bytes):
    """(refusal, no events) when the webhook is refused, else (None, its parsed events: an
    unreadable body is one Unparsed event, never a refusal).

    Limits, per number, before the signature is checked: every POST counts against
    `WEBHOOK_RATE_LIMIT_NUMBER`, and once `WEBHOOK_REJECTED_LIMIT_NUMBER` POSTs have failed the
    check, the rest of that window is refused unread. Both answer 429 with Retry-After, which
    a provider takes as "retry later": a verified message refused here arrives again, so
    nothing verified is lost. A POST that passes the check is never refused for its rate; its
    cost is bounded by its size and `WEBHOOK_MAX_ITEMS` instead: a verified body with more
    items than that (more than a provider ever batches) is kept whole as one Unparsed event,
    stored once and answered 200 like any other, for re-processing.
    """
    if number is None:
        return (404, {"error": "not_found", "detail": "No webhook at this address"}), []
    throttled = over_budget(number)
    if throttled:
        return throttled, []
    try:
        return None, services.read_webhook(number, headers, raw_body)
    except WebhookRejected as exc:
        ratelimits.hit(
            (settings.WEBHOOK_REJECTED_LIMIT_NUMBER, f"webhook:rejected:{number.pk}"),
            remaining=False,
        )
        return (401, {"error": "unauthorized", "detail": str(exc)}), []
    except WebhookTooLarge as exc:
        return None, [unparsed_item(raw_body, str(exc))]


def over_budget(number: Number) -> tuple[int, dict] | None:
    """429 when the number's webhook budget is spent, else None (this POST counted)."""
    # No RateLimit headers here: a window is read back only to say when a refusal ends.
    verdict = ratelimits.hit(
        (settings.WEBHOOK_RATE_LIMIT_NUMBER, f"webhook:{number.pk}"), remaining=False
    )
    if verdict.allowed:
        verdict = ratelimits.peek(
            (settings.WEBHOOK_REJECTED_LIMIT_NUMBER, f"webhook:rejected:{number.pk}"),
            remaining=False,
        )
    if verdict.allowed:
        return None
    wait = max(verdict.reset, 1)
    detail = f"Too many webhooks to this number: retry in {wait} seconds"
    return 429, {"error": "rate_limited", "detail": detail, "retry_after": wait}


def stored_answer(stored: list[bool]) -> tuple[int, dict]:
    return 200, {"ok": True, **services.counted(stored)}


def subscription_handshake(request, number: Number) -> HttpResponse:
    """Meta checks the callback: echo `hub.challenge` as plain text when the token matches."""
    provider = get_provider(number)
    if not hasattr(provider, "verify_subscription"):
        answer = JsonResponse(
            {"error": "method_not_allowed", "detail": "this provider only POSTs"}, status=405
        )
        answer["Allow"] = "POST"
        return answer
    try:
        challenge = provider.verify_subscription(number, request.GET)
    except WebhookRejected as exc:
        return JsonResponse({"error": "forbidden", "detail": str(exc)}, status=403)
    return HttpResponse(challenge, content_type="text/plain")
