import json

from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from conversa.instances.models import Instance
from conversa.providers import services
from conversa.providers.base import WebhookMalformed, WebhookRejected


@csrf_exempt
@require_POST
def webhook(request, provider: str, key: str):
    """POST /webhooks/<provider>/<instance key>: the inbound flow's front door."""
    instance = get_object_or_404(
        Instance.objects.select_related("organization"), provider=provider, webhook_key=key
    )
    try:
        counts = services.receive_webhook(instance, request.headers, request.body)
    except WebhookRejected as exc:
        return JsonResponse({"error": "unauthorized", "detail": str(exc)}, status=401)
    except WebhookMalformed as exc:
        return JsonResponse({"error": "malformed", "detail": str(exc)}, status=400)
    return JsonResponse({"ok": True, **counts})


def json_body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
