"""HTTP face of the sandbox: Evolution API v2 routes (more in evolution_views; the customer's
page is customer.py). None of it touches Conversa's own tables: it is the far side of the wire."""

import asyncio
import secrets

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from conversa.sandbox import evolution_api, simulator, tenants
from conversa.sandbox.models import SandboxInstance
from conversa.web import json_body


def evolution_error(exc: simulator.SandboxError) -> JsonResponse:
    """Evolution's error shape: {status, error, response: {message: [...]}}."""
    reason = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }.get(exc.status, "Error")
    return JsonResponse(
        {"status": exc.status, "error": reason, "response": {"message": [str(exc)]}},
        status=exc.status,
    )


def evolution_route(view):
    @csrf_exempt
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except simulator.SandboxError as exc:
            return evolution_error(exc)

    return wrapper


@evolution_route
@require_POST
def instance_create(request):
    """A new instance, the caller's tenant's when a tenant's key creates it."""
    caller = simulator.authorize(request.headers.get("apikey", ""))
    body = json_body(request)
    name = body.get("instanceName")
    if not name or not isinstance(name, str):
        raise simulator.SandboxError(400, "instanceName is required")
    instance = simulator.create_instance(name, body.get("webhook"), tenant=caller.tenant)
    answer = {
        "instance": {
            "instanceName": instance.name,
            "instanceId": str(instance.pk),
            "integration": body.get("integration", "WHATSAPP-BAILEYS"),
            "status": "created",
        },
        "hash": instance.token,
        "webhook": {"webhookUrl": instance.webhook_url},
        "settings": {},
    }
    if body.get("qrcode"):
        answer["qrcode"] = simulator.qr_code(instance)
    return JsonResponse(answer, status=201)


def guarded_instance(request, name: str) -> SandboxInstance:
    """The named instance, for its own token, its tenant's key or the global key. Evolution's
    guards check the instance exists before the key: an unknown name is 404 whatever the key."""
    return guarded(request, name)[0]


def guarded(request, name: str) -> tuple[SandboxInstance, simulator.Caller]:
    """guarded_instance, and who asked (what they may read of it)."""
    instance = simulator.get_instance(name)
    return instance, simulator.authorize(request.headers.get("apikey", ""), instance)


@evolution_route
@require_GET
def instance_connect(request, name: str):
    instance = guarded_instance(request, name)
    if instance.state == "open":
        return JsonResponse({"instance": {"instanceName": name, "state": "open"}})
    return JsonResponse(simulator.qr_code(instance))


@evolution_route
@require_GET
def connection_state(request, name: str):
    instance = guarded_instance(request, name)
    return JsonResponse({"instance": {"instanceName": name, "state": instance.state}})


@evolution_route
@require_http_methods(["DELETE"])
def instance_logout(request, name: str):
    simulator.logout(guarded_instance(request, name))
    return JsonResponse(
        {"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}}
    )


@evolution_route
@require_http_methods(["DELETE"])
def instance_delete(request, name: str):
    simulator.delete_instance(guarded_instance(request, name))
    return JsonResponse(
        {"status": "SUCCESS", "error": False, "response": {"message": "Instance deleted"}}
    )


@evolution_route
@require_POST
def instance_restart(request, name: str):
    return JsonResponse(simulator.restart(guarded_instance(request, name)))


@evolution_route
@require_GET
def fetch_instances(request):
    """Every instance for the global key (without the tenants' tokens); a tenant's key lists
    its own instances; an instance's own token sees only that instance."""
    key = request.headers.get("apikey", "")
    instances = SandboxInstance.objects.filter(protocol="evolution").order_by("name")
    if secrets.compare_digest(key.encode(), settings.SANDBOX_API_KEY.encode()):
        caller = simulator.Caller(is_global=True)
    elif (tenant := tenants.tenant_of_key(key)) is not None:
        caller = simulator.Caller(tenant=tenant)
        instances = instances.filter(tenant=tenant)
    else:
        # As Evolution's guard lets it: an instance's token finds its own instance.
        caller = simulator.Caller()
        instances = instances.filter(token=key) if key else instances.none()
        if not instances:
            raise simulator.SandboxError(401, "Unauthorized")
    if request.GET.get("instanceName"):
        instances = instances.filter(name=request.GET["instanceName"])
    return JsonResponse(
        [simulator.instance_record(i, reveal=caller.sees_secrets_of(i)) for i in instances],
        safe=False,
    )


@evolution_route
@require_POST
def webhook_set(request, name: str):
    """POST /webhook/set: {webhook: {enabled, url, headers?, byEvents?, base64?, events?}}."""
    instance = guarded_instance(request, name)
    webhook = json_body(request).get("webhook")
    if not isinstance(webhook, dict) or not isinstance(webhook.get("enabled"), bool):
        raise simulator.SandboxError(400, "webhook.enabled is required")
    url, events = webhook.get("url"), webhook.get("events") or []
    if webhook["enabled"] and (not isinstance(url, str) or not url.startswith("http")):
        raise simulator.SandboxError(400, "webhook.url must be an http(s) URL")
    if not isinstance(webhook.get("headers") or {}, dict):
        raise simulator.SandboxError(400, "webhook.headers must be an object")
    if not isinstance(events, list) or not {str(e).upper() for e in events} <= set(
        simulator.EVENTS
    ):
        raise simulator.SandboxError(
            400, f"webhook.events must be among {', '.join(simulator.EVENTS)}"
        )
    instance = simulator.set_webhook(instance, webhook)
    return JsonResponse(simulator.webhook_record(instance), status=201)


@evolution_route
@require_GET
def webhook_find(request, name: str):
    instance, caller = guarded(request, name)
    return JsonResponse(simulator.webhook_record(instance, reveal=caller.sees_secrets_of(instance)))


# The sandbox's own routes: what the person on the customer page does, for tests and scripts.


@evolution_route
@require_POST
def scan_route(request, name: str):
    """The QR on show is scanned, by the phone `{"number": …}` if given."""
    instance = guarded_instance(request, name)
    number = json_body(request).get("number")
    phone = "".join(ch for ch in number if ch.isdigit()) if isinstance(number, str) else ""
    simulator.scan(instance, phone)
    return JsonResponse({"instance": {"instanceName": name, "state": instance.state}})


@evolution_route
@require_POST
def refuse_route(request, name: str):
    """Nobody scanned in time: the QR limit (connection.update refused)."""
    instance = guarded_instance(request, name)
    simulator.refuse(instance)
    return JsonResponse({"instance": {"instanceName": name, "state": instance.state}})


async def with_faults(instance: SandboxInstance, accept):
    """Run `accept` (the send) under the number's injected latency and faults: a failure or
    a timeout accepts nothing; a hang accepts, then never answers in time."""
    if instance.latency_ms:
        await asyncio.sleep(instance.latency_ms / 1000)
    fault = simulator.draw_fault(instance)
    if fault == "failure":
        raise simulator.SandboxError(503, "Service Unavailable (injected)")
    if fault == "timeout":
        await asyncio.sleep(settings.SANDBOX_HANG_SECONDS)
        raise simulator.SandboxError(504, "Gateway Timeout (injected)")
    answer = await sync_to_async(accept)()
    if fault == "hang":
        await asyncio.sleep(settings.SANDBOX_HANG_SECONDS)
    return answer


async def send_text(request, name: str):
    """POST /message/sendText: async, so an injected hang holds this request and no other."""
    try:
        instance = await sync_to_async(guarded_instance)(request, name)
        body = json_body(request)
        number, text = body.get("number"), body.get("text")
        if not isinstance(number, str) or not isinstance(text, str) or not text:
            raise simulator.SandboxError(400, "number and text are required")
        reference = str(body.get("reference", ""))
        accept = evolution_api.accept_text if number.endswith("@lid") else simulator.accept_send
        answer = await with_faults(instance, lambda: accept(instance, number, text, reference))
        return JsonResponse(answer, status=201)
    except simulator.SandboxError as exc:
        return evolution_error(exc)


send_text = csrf_exempt(require_POST(send_text))


@evolution_route
@require_GET
def find_by_reference(request, name: str):
    """The sandbox's own extension: did it accept a send with this reference?"""
    instance = guarded_instance(request, name)
    message_id = simulator.find_by_reference(instance, request.GET.get("reference", ""))
    if message_id is None:
        raise simulator.SandboxError(404, "No message with that reference")
    return JsonResponse({"key": {"id": message_id}})


@evolution_route
@require_POST
def set_faults(request, name: str):
    """Configure this number's fault injector {latency_ms, failure_rate, timeout_rate,
    hang_rate} and webhook disorder {duplicate_rate, reorder_ms}."""
    instance = guarded_instance(request, name)
    body = json_body(request)
    faults = {}
    for field in simulator.FAULTS + simulator.DISORDER:
        if field in body:
            value = body[field]
            valid = isinstance(value, int | float) and value >= 0
            is_rate = field.endswith("_rate")
            if not valid or (is_rate and value > 1):
                raise simulator.SandboxError(400, f"{field} must be a number ≥ 0 (a rate ≤ 1)")
            faults[field] = float(value) if is_rate else int(value)
    instance = simulator.set_faults(instance, **faults)
    return JsonResponse(
        {field: getattr(instance, field) for field in simulator.FAULTS + simulator.DISORDER}
    )
