from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from conversa.inbound import services
from conversa.instances.models import Instance
from conversa.providers.base import WebhookMalformed, WebhookRejected
from conversa.providers.registry import get_provider


@csrf_exempt
@require_http_methods(["GET", "POST"])
def webhook(request, provider: str, key: str):
    """GET /webhooks/<provider>/<instance key>: the Cloud API's subscription handshake.
    POST: the inbound flow's front door (served by `ingress` ahead of Django in production;
    here for WSGI and the test client)."""
    if request.method == "POST":
        status, answer = answer_webhook(provider, key, request.headers, request.body)
        return JsonResponse(answer, status=status)
    instance = get_object_or_404(Instance, provider=provider, webhook_key=key)
    return subscription_handshake(request, instance)


def answer_webhook(provider: str, key: str, headers, raw_body: bytes) -> tuple[int, dict]:
    """What a webhook POST gets: 200 with counts of stored and repeated events; 401 (it did
    not prove where it came from) or 400 (unreadable), nothing stored; 404, no such webhook."""
    instance = find_number(provider, key)
    refusal, parsed = verified(instance, headers, raw_body)
    if refusal:
        return refusal
    return stored_answer(services.apply_events([(instance, item) for item in parsed]))


def find_number(provider: str, key: str) -> Instance | None:
    """The number a webhook address belongs to."""
    return (
        Instance.objects.select_related("organization")
        .filter(provider=provider, webhook_key=key)
        .first()
    )


def verified(instance: Instance | None, headers, raw_body: bytes):
    """(refusal, no events) when the webhook is refused, else (None, its parsed events)."""
    if instance is None:
        return (404, {"error": "not_found", "detail": "No webhook at this address"}), []
    try:
        return None, services.read_webhook(instance, headers, raw_body)
    except WebhookRejected as exc:
        return (401, {"error": "unauthorized", "detail": str(exc)}), []
    except WebhookMalformed as exc:
        return (400, {"error": "malformed", "detail": str(exc)}), []


def stored_answer(stored: list[bool]) -> tuple[int, dict]:
    return 200, {"ok": True, **services.counted(stored)}


def subscription_handshake(request, instance: Instance) -> HttpResponse:
    """Meta checks the callback: echo `hub.challenge` as plain text when the token matches."""
    provider = get_provider(instance)
    if not hasattr(provider, "verify_subscription"):
        answer = JsonResponse(
            {"error": "method_not_allowed", "detail": "this provider only POSTs"}, status=405
        )
        answer["Allow"] = "POST"
        return answer
    try:
        challenge = provider.verify_subscription(instance, request.GET)
    except WebhookRejected as exc:
        return JsonResponse({"error": "forbidden", "detail": str(exc)}, status=403)
    return HttpResponse(challenge, content_type="text/plain")
