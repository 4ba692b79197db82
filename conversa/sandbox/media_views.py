"""The sandbox's media routes: Graph API media retrieval and its download URL, and Evolution's
`getBase64FromMediaMessage` (see `sandbox.media`)."""

import base64
import hashlib
import secrets

from django.db.models import F
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from conversa.sandbox import simulator, views
from conversa.sandbox.models import SandboxInstance, SandboxMedia
from conversa.web import json_body


def serve_fault(media: SandboxMedia) -> bool:
    """Whether this fetch is one the fault injector fails (and count it down)."""
    return bool(
        media.fail_next
        and SandboxMedia.objects.filter(pk=media.pk, fail_next__gt=0).update(
            fail_next=F("fail_next") - 1
        )
    )


def bearer_of(request, instance: SandboxInstance) -> bool:
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").encode()
    return secrets.compare_digest(given, instance.token.encode())


@require_GET
def graph_node(request, version: str, node_id: str):
    """GET /graph/<version>/<id>: a media id answers its retrieval; any other id is the phone
    number's own route (`views.graph_number`)."""
    media = SandboxMedia.objects.select_related("instance").filter(media_id=node_id).first()
    if media is None:
        return views.graph_number(request, version, node_id)
    if not bearer_of(request, media.instance):
        return views.graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
    if serve_fault(media):
        return views.graph_error(503, 131000, "Something went wrong (injected)")
    path = reverse("sandbox-media-download", args=[media.media_id])
    return JsonResponse(
        {
            "messaging_product": "whatsapp",
            "url": request.build_absolute_uri(f"{path}?mid={media.media_id}&ext=1"),
            "mime_type": media.mime_type,
            "sha256": hashlib.sha256(media.content).hexdigest(),
            "file_size": len(media.content),
            "id": media.media_id,
        }
    )


@require_GET
def graph_download(request, media_id: str):
    """The media URL: the bytes, for the token of the number that received them."""
    media = SandboxMedia.objects.select_related("instance").filter(media_id=media_id).first()
    if media is None or not bearer_of(request, media.instance):
        # Meta answers a bad token on this URL with a 404 page, not a Graph error.
        return HttpResponse(status=404)
    response = HttpResponse(bytes(media.content), content_type=media.mime_type)
    response["Content-Length"] = str(len(media.content))
    return response


@views.evolution_route
@require_POST
def evolution_base64(request, name: str):
    """POST /chat/getBase64FromMediaMessage/<instance>: the file of a message it keeps."""
    instance = views.guarded_instance(request, name)
    key = ((json_body(request).get("message") or {}).get("key")) or {}
    message_id = key.get("id") if isinstance(key, dict) else None
    media = SandboxMedia.objects.filter(instance=instance, message_id=str(message_id)).first()
    if not message_id or media is None:
        raise simulator.SandboxError(400, "Message not found")
    if serve_fault(media):
        raise simulator.SandboxError(503, "Service Unavailable (injected)")
    content = bytes(media.content)
    return JsonResponse(
        {
            "mediaType": f"{media.kind}Message",
            "fileName": media.file_name or None,
            "caption": None,
            "size": {"fileLength": str(len(content)), "height": None, "width": None},
            "mimetype": media.mime_type,
            "base64": base64.b64encode(content).decode(),
            "buttons": [],
        },
        status=201,
    )
