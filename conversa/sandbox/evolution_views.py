"""HTTP face of the sandbox's Evolution API v2 beyond sendText and the lifecycle: the send
routes (message/send*), the chat routes (chat/*), instance/setPresence, the sandbox's own
connection controls, and Evolution's JSON 404 for any route it does not have.

Every answer is JSON in Evolution's shapes, errors included:
{"status", "error", "response": {"message": [...]}}.
"""

import asyncio
import json

from asgiref.sync import sync_to_async
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from conversa.sandbox import (
    evolution_api,
    evolution_chats,
    evolution_events,
    evolution_sends,
    views,
)
from conversa.sandbox.simulator import SandboxError
from conversa.web import declared_length

# A JSON body the server reads (Evolution's express.json takes up to 136 MB; the sandbox
# keeps files up to MAX_MEDIA_BYTES, base64 included).
MAX_BODY = evolution_api.MAX_MEDIA_BYTES * 4 // 3 + 64 * 1024
REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def error(exc: SandboxError) -> JsonResponse:
    messages = getattr(exc, "messages", None) or [str(exc)]
    return JsonResponse(
        {
            "status": exc.status,
            "error": REASONS.get(exc.status, "Error"),
            "response": {"message": messages},
        },
        status=exc.status,
    )


def read_body(request) -> tuple[dict, object]:
    """(fields, uploaded file) of a request: a JSON object, or a multipart form with `file`
    (as the official client sends media). Numbers in a form stay text, as Express leaves them."""
    if request.content_type == "multipart/form-data":
        fields = {key: request.POST.get(key) for key in request.POST}
        return fields, request.FILES.get("file")
    if declared_length(request) > MAX_BODY:
        raise SandboxError(413, "request entity too large")
    raw = request.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise SandboxError(413, "request entity too large")
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise SandboxError(400, f"Unexpected token in JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise SandboxError(400, "instance is not of a type(s) object")
    return body, None


def route(handler, status: int = 201, methods: tuple = ("POST",)):
    """An Evolution route on `<name>`: the instance and its key checked, `handler(instance,
    body, file)` answered as JSON with `status`, refusals in Evolution's error shape."""

    @csrf_exempt
    def view(request, name: str):
        try:
            if request.method not in methods:
                raise SandboxError(
                    404, f"Cannot {request.method} {request.path.split('/evolution', 1)[-1]}"
                )
            instance = views.guarded_instance(request, name)
            body, upload = read_body(request)
            answer = handler(instance, body, upload)
        except SandboxError as exc:
            return error(exc)
        return JsonResponse(answer, status=status, safe=False)

    return view


def with_key(handler):
    """A handler that takes the body only (no file)."""
    return lambda instance, body, upload: handler(instance, body)


def mark_read(instance, body):
    keys = body.get("readMessages")
    if not isinstance(keys, list) or not keys:
        raise evolution_api.Refused(400, ['instance requires property "readMessages"'])
    bad = [
        k
        for k in keys
        if not isinstance(k, dict) or not all(f in k for f in ("id", "fromMe", "remoteJid"))
    ]
    if bad:
        raise evolution_api.Refused(
            400, ['readMessages[0] requires property "id", "fromMe", "remoteJid"']
        )
    return evolution_chats.mark_read(instance, keys)


def whatsapp_numbers(instance, body):
    numbers = body.get("numbers")
    if not isinstance(numbers, list) or not numbers or not all(isinstance(n, str) for n in numbers):
        raise evolution_api.Refused(400, ['"numbers" must be an array of numeric strings'])
    return evolution_chats.whatsapp_numbers(instance, numbers[:100])


def get_base64(instance, body):
    return evolution_chats.media_of(instance, body.get("message"))


def presence_fields(body: dict, *, number: bool) -> str:
    presence = body.get("presence")
    errors = []
    if number and not isinstance(body.get("number"), str):
        errors.append("Invalid format")
    if number and not isinstance(body.get("delay"), int | float):
        errors.append('instance requires property "delay"')
    if presence not in evolution_api.PRESENCES:
        errors.append("presence is not one of enum values: " + ",".join(evolution_api.PRESENCES))
    if errors:
        raise evolution_api.Refused(400, errors)
    return presence


async def send_presence(request, name: str):
    """chat/sendPresence {number, presence, delay}: the server shows `presence` to the chat
    for `delay` ms (bounded here at 20 s) before it answers."""
    try:
        if request.method != "POST":
            raise SandboxError(404, f"Cannot {request.method} /chat/sendPresence/{name}")
        instance = await sync_to_async(views.guarded_instance)(request, name)
        body, _ = read_body(request)
        presence = presence_fields(body, number=True)
        if instance.state != "open":
            raise SandboxError(400, "Error: Connection Closed")
        await asyncio.sleep(min(max(float(body["delay"]), 0), 20_000) / 1000)
    except SandboxError as exc:
        return error(exc)
    return JsonResponse({"presence": presence}, status=201)


send_presence = csrf_exempt(send_presence)


def set_presence(instance, body):
    """instance/setPresence {presence}: the number's own presence."""
    return {"presence": presence_fields(body, number=False)}


def control(action):
    """The sandbox's own connection controls: what happens on the phone or at WhatsApp."""

    def handler(instance, body):
        action(instance, body)
        return {"instance": {"instanceName": instance.name, "state": instance.state}}

    return with_key(handler)


def drop(instance, body):
    code = body.get("statusReason", 428)
    evolution_events.drop_connection(instance, code if isinstance(code, int) else 428)


def close(instance, body):
    code = body.get("statusReason")
    if not isinstance(code, int) or isinstance(code, bool):
        raise SandboxError(400, "statusReason must be one of 401, 402, 403, 406")
    evolution_events.close(instance, code)


@csrf_exempt
def not_found(request, rest: str = ""):
    """Evolution's answer to a route it does not have (its last Express handler)."""
    url = request.get_full_path().split("/sandbox/evolution", 1)[-1]
    return JsonResponse(
        {
            "status": 404,
            "error": "Not Found",
            "response": {"message": [f"Cannot {request.method} {url}"]},
        },
        status=404,
    )


urlpatterns = [
    path("evolution/message/sendMedia/<str:name>", route(evolution_sends.send_media)),
    path("evolution/message/sendWhatsAppAudio/<str:name>", route(evolution_sends.send_audio)),
    path("evolution/message/sendSticker/<str:name>", route(evolution_sends.send_sticker)),
    path(
        "evolution/message/sendLocation/<str:name>", route(with_key(evolution_sends.send_location))
    ),
    path("evolution/message/sendContact/<str:name>", route(with_key(evolution_sends.send_contact))),
    path(
        "evolution/message/sendReaction/<str:name>", route(with_key(evolution_sends.send_reaction))
    ),
    path("evolution/message/sendPoll/<str:name>", route(with_key(evolution_sends.send_poll))),
    path("evolution/message/sendPtv/<str:name>", route(evolution_sends.send_ptv)),
    path("evolution/chat/whatsappNumbers/<str:name>", route(with_key(whatsapp_numbers), 200)),
    path("evolution/chat/markMessageAsRead/<str:name>", route(with_key(mark_read))),
    path("evolution/chat/findChats/<str:name>", route(with_key(evolution_chats.find_chats), 200)),
    path(
        "evolution/chat/findMessages/<str:name>",
        route(with_key(evolution_chats.find_messages), 200),
    ),
    path("evolution/chat/getBase64FromMediaMessage/<str:name>", route(with_key(get_base64))),
    path("evolution/chat/archiveChat/<str:name>", route(with_key(evolution_chats.archive_chat))),
    path(
        "evolution/chat/markChatUnread/<str:name>",
        route(with_key(evolution_chats.mark_chat_unread)),
    ),
    path(
        "evolution/chat/fetchProfilePictureUrl/<str:name>",
        route(with_key(evolution_chats.profile_picture), 200),
    ),
    path(
        "evolution/chat/updateMessage/<str:name>",
        route(with_key(evolution_sends.update_message), 200),
    ),
    path(
        "evolution/chat/deleteMessageForEveryone/<str:name>",
        route(with_key(evolution_sends.delete_for_everyone), methods=("DELETE",)),
    ),
    path("evolution/chat/sendPresence/<str:name>", send_presence),
    path("evolution/instance/setPresence/<str:name>", route(with_key(set_presence))),
    path("evolution/drop/<str:name>", route(control(drop), 200)),
    path("evolution/close/<str:name>", route(control(close), 200)),
]
# Last of all the sandbox's routes: anything else under evolution/ is Evolution's JSON 404.
not_found_patterns = [path("evolution/<path:rest>", not_found), path("evolution/", not_found)]
