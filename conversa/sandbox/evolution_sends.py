"""The business's sends beyond text, as Evolution v2 reads them (src/validate/message.schema.ts,
sendMessage.controller.ts) and builds them (the baileys service's mediaMessage, audioWhatsapp,
mediaSticker, locationMessage, contactMessage, reactionMessage).

Each takes the request's fields (JSON, or the multipart form the official client sends with a
`file`) and answers the message's record. The sandbox does not transcode: a voice note or a
sticker keeps the bytes it was given, under the type Evolution would have produced.
"""

import mimetypes
import secrets
import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from conversa.sandbox import evolution_api as api
from conversa.sandbox.evolution_api import Refused
from conversa.sandbox.models import SandboxInstance, SandboxMessage
from conversa.sandbox.simulator import SandboxError

# A description replaces jsonschema's own words, as Evolution's schemas do for `number`.
DESCRIPTIONS = {"number": "Invalid format"}
JSON_TYPES = {str: "string", int: "integer", list: "array", dict: "object", bool: "boolean"}


def reference_of(body: dict) -> str:
    """Conversa's job reference, which only the sandbox takes (for reconciling an uncertain
    send); Evolution itself has no such field."""
    return str(body.get("reference") or "")[:64]


def check(body: dict, required: tuple[str, ...], types: dict[str, type | tuple]) -> None:
    """Evolution's dataValidate: every error of the body against its JSON schema, worded as
    jsonschema words them (the 'instance.' prefix cut, as the server cuts it)."""
    errors = []
    for field, kind in types.items():
        if field not in body:
            continue
        kinds = kind if isinstance(kind, tuple) else (kind,)
        value = body[field]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            name = "number" if float in kinds else JSON_TYPES.get(kinds[0], "string")
            errors.append(DESCRIPTIONS.get(field, f"{field} is not of a type(s) {name}"))
    errors += [f'instance requires property "{field}"' for field in required if field not in body]
    if errors:
        raise Refused(400, errors)


def send_media(instance: SandboxInstance, body: dict, upload=None) -> dict:
    """message/sendMedia: {number, mediatype, mimetype?, caption?, fileName?, media (URL or
    base64)} or the same as a form with a `file`."""
    check(
        body,
        ("number", "mediatype"),
        {
            "number": str,
            "mediatype": str,
            "mimetype": str,
            "media": str,
            "fileName": str,
            "caption": str,
        },
    )
    mediatype = body["mediatype"]
    if mediatype not in api.MEDIA_TYPES:
        raise Refused(400, ["mediatype is not one of enum values: image,document,video,audio"])
    media = body.get("media", "")
    if (
        mediatype == "document"
        and not body.get("fileName")
        and upload is None
        and not str(media).startswith("http")
    ):
        raise Refused(400, ["For base64 the file name must be informed."])
    data = api.read_media(media, upload)
    file_name = body.get("fileName") or ""
    if not file_name:
        file_name = {"image": "image.jpg", "video": "video.mp4"}.get(mediatype, "")
        if mediatype == "document":
            # prepareMediaMessage: the URL's last path segment, without its extension.
            file_name = str(media).rstrip("/").rsplit("/", 1)[-1].split(".")[0] or "document"
    mime_type = (
        body.get("mimetype") or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
    )
    if mediatype == "image":
        mime_type = "image/jpeg"  # the server re-encodes every image as JPEG
    caption = body.get("caption") or ""
    extra = {"fileName": file_name}
    if mediatype == "document":
        extra["title"] = file_name
    elif mediatype == "video":
        extra["gifPlayback"] = False
    content = api.media_message(data, mime_type, caption=caption) | extra
    message_type = f"{mediatype}Message"
    return api.accept(
        instance,
        body["number"],
        message_type,
        {message_type: content},
        kind=mediatype,
        text=caption,
        media=(data, mime_type, file_name),
        reference=reference_of(body),
    )


def send_audio(instance: SandboxInstance, body: dict, upload=None) -> dict:
    """message/sendWhatsAppAudio: {number, audio (URL or base64), encoding?}: a voice note
    (ptt), announced as Opus in Ogg as the server's conversion makes it."""
    check(body, ("number",), {"number": str, "audio": str})
    data = api.read_media(body.get("audio", ""), upload)
    mime_type = "audio/ogg; codecs=opus"
    content = api.media_message(data, mime_type, seconds=0, ptt=True)
    return api.accept(
        instance,
        body["number"],
        "audioMessage",
        {"audioMessage": content},
        kind="voice",
        media=(data, mime_type, "voice.ogg"),
        reference=reference_of(body),
    )


def send_sticker(instance: SandboxInstance, body: dict, upload=None) -> dict:
    """message/sendSticker: {number, sticker (URL or base64)}, sent as a WebP sticker."""
    check(body, ("number",), {"number": str, "sticker": str})
    data = api.read_media(body.get("sticker", ""), upload)
    content = api.media_message(data, "image/webp", isAnimated=False, height=512, width=512)
    return api.accept(
        instance,
        body["number"],
        "stickerMessage",
        {"stickerMessage": content},
        kind="sticker",
        media=(data, "image/webp", "sticker.webp"),
        reference=reference_of(body),
    )


def send_location(instance: SandboxInstance, body: dict) -> dict:
    """message/sendLocation: {number, latitude, longitude, name, address} (Evolution's schema
    requires all five)."""
    number = (int, float)
    check(
        body,
        ("number", "latitude", "longitude", "name", "address"),
        {"number": str, "latitude": number, "longitude": number, "name": str, "address": str},
    )
    if not (-90 <= body["latitude"] <= 90 and -180 <= body["longitude"] <= 180):
        raise Refused(400, ["latitude and longitude must be degrees on Earth"])
    location = {
        "degreesLatitude": body["latitude"],
        "degreesLongitude": body["longitude"],
        "name": body["name"],
        "address": body["address"],
    }
    return api.accept(
        instance,
        body["number"],
        "locationMessage",
        {"locationMessage": location},
        kind="location",
        text=body["name"],
        reference=reference_of(body),
    )


def send_contact(instance: SandboxInstance, body: dict) -> dict:
    """message/sendContact: {number, contact: [{fullName, phoneNumber, wuid?, organization?,
    email?, url?}]}; one card is a contactMessage, more a contactsArrayMessage."""
    check(body, ("number", "contact"), {"number": str, "contact": list})
    cards = body["contact"]
    errors = []
    if not cards:
        errors.append("contact does not meet minimum length of 1")
    for index, card in enumerate(cards[:50]):
        if not isinstance(card, dict):
            errors.append(f"contact[{index}] is not of a type(s) object")
            continue
        for field in ("fullName", "phoneNumber"):
            if not isinstance(card.get(field), str) or not card.get(field):
                errors.append(f'contact[{index}] requires property "{field}"')
        if isinstance(card.get("phoneNumber"), str) and len(card["phoneNumber"]) < 10:
            errors.append(f"contact[{index}].phoneNumber does not meet minimum length of 10")
    if len(cards) > 50:
        errors.append("contact has more than 50 cards")
    if errors:
        raise Refused(400, errors)
    message_type, message = api.contacts_message(
        [
            (
                card["fullName"],
                api.vcard(
                    card["fullName"],
                    card["phoneNumber"],
                    wuid=str(card.get("wuid") or ""),
                    organization=str(card.get("organization") or ""),
                    email=str(card.get("email") or ""),
                    url=str(card.get("url") or ""),
                ),
            )
            for card in cards
        ]
    )
    names = ", ".join(card["fullName"] for card in cards)
    return api.accept(
        instance,
        body["number"],
        message_type,
        message,
        kind="contacts",
        text=names,
        reference=reference_of(body),
    )


def send_reaction(instance: SandboxInstance, body: dict) -> dict:
    """message/sendReaction: {key: {remoteJid, fromMe, id}, reaction} (one emoji; "" takes
    the reaction away). It goes to the key's chat."""
    check(body, ("key", "reaction"), {"key": dict, "reaction": str})
    key = body["key"]
    errors = [f'key requires property "{f}"' for f in ("id", "remoteJid", "fromMe") if f not in key]
    errors += [f'The "{f}" cannot be empty' for f in ("id", "remoteJid") if key.get(f) == ""]
    if errors:
        raise Refused(400, errors)
    if not api.EMOJI.match(body["reaction"]):
        raise Refused(400, ["Reaction must be a single emoji or empty string"])
    target = str(key["id"])
    reaction = {
        "key": {"remoteJid": str(key["remoteJid"]), "fromMe": bool(key["fromMe"]), "id": target},
        "text": body["reaction"],
        "senderTimestampMs": api.wire_long(int(time.time() * 1000), unsigned=False),
    }
    return api.accept(
        instance,
        str(key["remoteJid"]),
        "reactionMessage",
        {"reactionMessage": reaction},
        kind="reaction",
        text=body["reaction"],
        target_id=target,
        reference=reference_of(body),
    )


def send_poll(instance: SandboxInstance, body: dict) -> dict:
    """message/sendPoll: {number, name, selectableCount, values (2 to 12)}."""
    check(
        body,
        ("number", "name", "selectableCount", "values"),
        {"number": str, "name": str, "selectableCount": int, "values": list},
    )
    values = body["values"]
    if not 2 <= len(values) <= 12 or not all(isinstance(v, str) for v in values):
        raise Refused(400, ["values must hold 2 to 12 strings"])
    if not 0 <= body["selectableCount"] <= 10:
        raise Refused(400, ["selectableCount must be between 0 and 10"])
    poll = {
        "name": body["name"],
        "options": [{"optionName": value} for value in values],
        "selectableOptionsCount": body["selectableCount"],
    }
    message = {
        "pollCreationMessageV3": poll,
        "messageContextInfo": {"messageSecret": api.wire_bytes(secrets.token_bytes(32))},
    }
    return api.accept(
        instance,
        body["number"],
        "pollCreationMessageV3",
        message,
        kind="poll",
        text=body["name"],
        reference=reference_of(body),
    )


def send_ptv(instance: SandboxInstance, body: dict, upload=None) -> dict:
    """message/sendPtv: {number, video}: a round video note."""
    check(body, ("number",), {"number": str, "video": str})
    data = api.read_media(body.get("video", ""), upload)
    content = api.media_message(data, "video/mp4", seconds=0)
    return api.accept(
        instance,
        body["number"],
        "ptvMessage",
        {"ptvMessage": content},
        kind="video",
        media=(data, "video/mp4", "video.mp4"),
        reference=reference_of(body),
    )


def own_message(instance: SandboxInstance, key) -> SandboxMessage:
    if not isinstance(key, dict) or not key.get("id"):
        raise Refused(400, ['key requires property "id"'])
    message = SandboxMessage.objects.filter(instance=instance, message_id=str(key["id"])).first()
    if message is None:
        raise SandboxError(404, "Message not found")
    return message


def protocol_answer(message: SandboxMessage, protocol: dict) -> dict:
    """What the server answers an edit or a delete with: Baileys' sent WAMessage."""
    return {
        "key": {
            "remoteJid": api.remote_jid(message),
            "fromMe": True,
            "id": api.simulator.new_message_id(),
        },
        "message": {"protocolMessage": protocol},
        "messageTimestamp": str(int(time.time())),
        "status": "PENDING",
    }


@transaction.atomic
def update_message(instance: SandboxInstance, body: dict) -> dict:
    """chat/updateMessage {number, key, text}: the business edits its own text or caption
    (WhatsApp allows 15 minutes); Conversa hears send.message.update."""
    message = own_message(instance, body.get("key"))
    text = body.get("text")
    if not isinstance(text, str) or not text:
        raise Refused(400, ['The "text" cannot be empty'])
    if not message.from_me:
        raise SandboxError(400, "You cannot edit others messages")
    if message.revoked_at:
        raise SandboxError(400, "You cannot edit deleted messages")
    if timezone.now() - message.created_at > timedelta(minutes=15):
        raise SandboxError(400, "Message is older than 15 minutes")
    key = {"remoteJid": api.remote_jid(message), "fromMe": True, "id": message.message_id}
    protocol = {
        "key": key,
        "type": 14,
        "editedMessage": {"conversation": text},
        "timestampMs": str(int(time.time() * 1000)),
    }
    api.edited(message, text)
    transaction.on_commit(lambda: api.simulator.emit(instance, "send.message.update", protocol))
    return protocol_answer(message, protocol)


@transaction.atomic
def delete_for_everyone(instance: SandboxInstance, body: dict) -> dict:
    """chat/deleteMessageForEveryone {id, fromMe, remoteJid}: the business revokes its own
    message; Conversa hears messages.delete with the stored record, status DELETED."""
    message = own_message(instance, body)
    if not message.from_me:
        raise SandboxError(500, "Error while deleting message for everyone")
    SandboxMessage.objects.filter(pk=message.pk).update(revoked_at=timezone.now())
    stored = api.record(message, stored=True) | {"status": "DELETED"}
    stored["key"] = stored["key"] | {"deleted": True}
    transaction.on_commit(lambda: api.simulator.emit(instance, "messages.delete", stored))
    key = {"remoteJid": str(body.get("remoteJid")), "fromMe": True, "id": message.message_id}
    return protocol_answer(message, {"key": key, "type": 0})
