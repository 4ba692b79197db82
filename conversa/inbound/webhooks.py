from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from conversa.inbound import services
from conversa.numbers.models import Number
from conversa.providers.base import WebhookRejected
from conversa.providers.registry import get_provider


@csrf_exempt
@require_http_methods(["GET", "POST"])
def webhook(request, provider: str, key: str):
    """GET /webhooks/<provider>/<number key>: the Cloud API's subscription handshake.
    POST: the inbound flow's front door (served by `ingress` ahead of Django in production;
    here for WSGI and the test client)."""
    if request.method == "POST":
        status, answer = answer_webhook(provider, key, request.headers, request.body)
        return JsonResponse(answer, status=status)
    number = get_object_or_404(Number, provider=provider, webhook_key=key)
    return subscription_handshake(request, number)


def answer_webhook(provider: str, key: str, headers, raw_body: bytes) -> tuple[int, dict]:
    """What a webhook POST gets: 200 with counts of stored and repeated events (what could not
    be read among them kept as Unparsed); 401, it did not prove where it came from, nothing
    stored; 404, no such webhook."""
    number = find_number(provider, key)
    refusal, parsed = verified(number, headers, raw_body)
    if refusal:
        return refusal
    return stored_answer(services.apply_webhook(number, raw_body, parsed))


def find_number(provider: str, key: str) -> Number | None:
    """The number a webhook address belongs to."""
    return (
        Number.objects.select_related("organization")
        .filter(provider=provider, webhook_key=key)
        .first()
    )


def verified(number: Number | None, headers, raw_body: bytes):
    """(refusal, no events) when the webhook is refused, else (None, its parsed events: an
    unreadable body is one Unparsed event, never a refusal)."""
    if number is None:
        return (404, {"error": "not_found", "detail": "No webhook at this address"}), []
    try:
        return None, services.read_webhook(number, headers, raw_body)
    except WebhookRejected as exc:
        return (401, {"error": "unauthorized", "detail": str(exc)}), []


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
