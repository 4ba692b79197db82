"""HTTP face of the sandbox's Graph API (WhatsApp Cloud API, docs/providers.md §A): sends,
mark-as-read, media upload, lookup, download and delete, and the number itself. Any Graph
version vNN.N in the path is accepted. Refusals are Meta's error objects."""

import json
import re
import secrets

from asgiref.sync import sync_to_async
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from conversa.sandbox import graph, graph_media, simulator
from conversa.sandbox.graph_checks import GraphError, invalid
from conversa.sandbox.media import take_fault
from conversa.sandbox.views import with_faults

VERSION = re.compile(r"^v\d{1,2}\.\d$")
# Error subcodes Meta gives with these codes (2494002: generic; the others the sandbox's).
SUBCODES = {131000: 2494002}


def graph_error(exc: GraphError) -> JsonResponse:
    """Meta's error object: message, type, code, error_subcode, error_data, fbtrace_id."""
    error = {
        "message": exc.message,
        "type": "OAuthException"
        if exc.code != 100 or exc.subcode != 33
        else "GraphMethodException",
        "code": exc.code,
        "error_subcode": exc.subcode or SUBCODES.get(exc.code, 2494010),
        "error_data": {"messaging_product": "whatsapp", "details": exc.details},
        "fbtrace_id": "A" + secrets.token_urlsafe(16),
    }
    return JsonResponse({"error": error}, status=exc.status)


def check_version(version: str) -> None:
    if not VERSION.match(version):
        raise GraphError(400, 2500, f"Unknown path components: /{version[:20]}", subcode=0)


def graph_route(view):
    """A Graph route: Meta's errors, and the version in the path checked."""

    @csrf_exempt
    def wrapper(request, *args, version: str = "", **kwargs):
        try:
            if version:
                check_version(version)
            return view(request, *args, **kwargs)
        except GraphError as exc:
            return graph_error(exc)

    return wrapper


def number_for(request, phone_number_id: str):
    """The Cloud number named in the path, for its own token."""
    instance = graph.get_number(phone_number_id)
    token = graph.bearer(request)
    if instance is None:
        if not token:
            raise graph.bad_token()
        raise graph.not_found(phone_number_id)
    if not graph.token_matches(instance, token):
        raise graph.bad_token()
    return instance


def request_json(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise invalid("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return body


async def send(request, version: str, phone_number_id: str, marketing: bool = False):
    """POST /{phone id}/messages: a send of any kind, or mark-as-read / typing indicator;
    POST /{phone id}/marketing_messages (`marketing`): a template only. Async, so an injected
    hang holds this request and no other."""
    try:
        check_version(version)
        instance = await sync_to_async(number_for)(request, phone_number_id)
        body = request_json(request)
        if marketing and body.get("type") != "template":
            raise invalid("Only templates go through the Marketing Messages API.")
        if "status" in body and not marketing:
            return JsonResponse(await sync_to_async(graph.mark_read)(instance, body))
        try:
            answer = await with_faults(instance, lambda: graph.accept_send(instance, body))
        except simulator.SandboxError as exc:
            # An injected failure or timeout: Meta's own trouble, worth a retry.
            raise GraphError(503, 131000, "(#131000) Something went wrong", str(exc)) from exc
        return JsonResponse(answer)
    except GraphError as exc:
        return graph_error(exc)


send = csrf_exempt(require_POST(send))


@graph_route
@require_POST
def upload(request, phone_number_id: str):
    """POST /{phone id}/media, multipart as Meta takes it: {"id": media id}."""
    instance = number_for(request, phone_number_id)
    return JsonResponse(graph_media.upload_media(instance, request.POST, request.FILES))


def download_url(request) -> str:
    return request.build_absolute_uri(reverse("sandbox-graph-attachments"))


@graph_route
@require_http_methods(["GET", "DELETE"])
def graph_object(request, object_id: str):
    """GET /{id}: a Cloud number (for its token) or a media (its URL and facts);
    DELETE /{media id}: the media is gone."""
    token = graph.bearer(request)
    instance = graph.get_number(object_id)
    if instance is not None and request.method == "GET":
        if not graph.token_matches(instance, token):
            raise graph.bad_token()
        return JsonResponse(
            {
                "display_phone_number": f"+{instance.owner_phone}",
                "verified_name": "Conversa Sandbox",
                "id": instance.name,
            }
        )
    if not object_id.isdigit() or len(object_id) > 20:
        raise graph.bad_token() if not token else graph.not_found(object_id)
    media = graph_media.readable_media(token, object_id)
    wanted = request.GET.get("phone_number_id")
    if wanted and wanted != media.instance.name:
        raise graph.not_found(object_id)
    if request.method == "DELETE":
        media.delete()
        return JsonResponse({"success": True})
    if take_fault(media):
        raise GraphError(503, 131000, "Something went wrong", "Service unavailable (injected)")
    return JsonResponse(graph_media.media_record(download_url(request), media))


@graph_route
@require_GET
def attachment(request):
    """The bytes behind a media URL, for the token of the number that has the media."""
    media = graph_media.media_by_url(
        graph.bearer(request),
        request.GET.get("mid", "")[:20],
        request.GET.get("ext", "")[:12],
        request.GET.get("hash", "")[:64],
    )
    response = HttpResponse(bytes(media.content), content_type=media.mime_type)
    response["Content-Length"] = str(media.size)
    if media.file_name:
        name = re.sub(r"[^\w.\- ]", "_", media.file_name)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
