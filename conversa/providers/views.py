import json

from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from conversa.instances.models import Instance
from conversa.providers import services
from conversa.providers.base import WebhookMalformed, WebhookRejected
from conversa.providers.registry import get_provider


@csrf_exempt
@require_http_methods(["GET", "POST"])
def webhook(request, provider: str, key: str):
    """POST /webhooks/<provider>/<instance key>: the inbound flow's front door.
    GET: the Cloud API's subscription handshake."""
    instance = get_object_or_404(
        Instance.objects.select_related("organization"), provider=provider, webhook_key=key
    )
    if request.method == "GET":
        return subscription_handshake(request, instance)
    try:
        counts = services.receive_webhook(instance, request.headers, request.body)
    except WebhookRejected as exc:
        return JsonResponse({"error": "unauthorized", "detail": str(exc)}, status=401)
    except WebhookMalformed as exc:
        return JsonResponse({"error": "malformed", "detail": str(exc)}, status=400)
    return JsonResponse({"ok": True, **counts})


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


def json_body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
