"""The sandbox's Evolution API v2 chat routes (src/api/routes/chat.router.ts and what the
baileys and channel services answer): whatsappNumbers, markMessageAsRead, findMessages,
findChats, getBase64FromMediaMessage, archiveChat, markChatUnread, fetchProfilePictureUrl."""

import base64
from datetime import UTC, datetime, timedelta

from conversa.sandbox.evolution_api import (
    MEDIA_MESSAGES,
    WRAPPERS,
    create_jid,
    record,
)
from conversa.sandbox.media import take_fault
from conversa.sandbox.models import SandboxInstance, SandboxMessage, SandboxMessageMedia
from conversa.sandbox.simulator import SandboxError


def whatsapp_numbers(instance: SandboxInstance, numbers: list[str]) -> list[dict]:
    """chat/whatsappNumbers: which numbers are on WhatsApp, with the JID each answers to. In
    the sandbox every phone of 8 to 15 digits is; a `@lid` is taken as valid, as Evolution
    does for a lid it has not cached."""
    answer = []
    for number in numbers:
        jid = create_jid(number)
        user = jid.split("@", 1)[0]
        entry = {"jid": jid, "exists": user.isdigit() and 8 <= len(user) <= 15, "number": number}
        same = {"lid": user} if jid.endswith("@lid") else {"chat_phone": user}
        name = (
            SandboxMessage.objects.filter(instance=instance, from_me=False, **same)
            .exclude(customer_name="")
            .values_list("customer_name", flat=True)
            .last()
        )
        if jid.endswith("@lid"):
            entry["exists"], entry["lid"] = True, "lid"
        if name:
            entry["name"] = name
        answer.append(entry)
    return answer


def mark_read(instance: SandboxInstance, keys: list[dict]) -> dict:
    """chat/markMessageAsRead: the customer's messages get their blue ticks. As Evolution's
    markMessageAsRead does, keys addressed by `@lid` are skipped without a word."""
    ids = [
        key["id"]
        for key in keys
        if str(key.get("remoteJid", "")).endswith(("@s.whatsapp.net", "@g.us"))
    ]
    SandboxMessage.objects.filter(instance=instance, from_me=False, message_id__in=ids).update(
        status="READ"
    )
    return {"message": "Read messages", "read": "success"}


def find_messages(instance: SandboxInstance, query: dict) -> dict:
    """chat/findMessages: the stored records, newest first, filtered by key and type, in
    pages of `offset` (50)."""
    where = query.get("where") if isinstance(query.get("where"), dict) else {}
    key = where.get("key") if isinstance(where.get("key"), dict) else {}
    rows = SandboxMessage.objects.filter(instance=instance)
    records = [record(m, stored=True) for m in rows.order_by("-created_at", "-id")[:5000]]
    if key.get("id"):
        records = [r for r in records if r["key"]["id"] == key["id"]]
    if key.get("fromMe"):
        records = [r for r in records if r["key"]["fromMe"]]
    if key.get("remoteJid"):
        records = [r for r in records if r["key"]["remoteJid"] == key["remoteJid"]]
    for field in ("messageType", "source"):
        if where.get(field):
            records = [r for r in records if r[field] == where[field]]
    offset = positive(query.get("offset"), 50)
    page = positive(query.get("page"), 1)
    selected = records[offset * (page - 1) : offset * page]
    for item in selected:
        # findMessages selects the row's id and its updates, not a status of its own.
        item["MessageUpdate"] = [{"status": item.pop("status")}]
    return {
        "messages": {
            "total": len(records),
            "pages": -(-len(records) // offset),
            "currentPage": page,
            "records": selected,
        }
    }


def positive(value, default: int) -> int:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
    )


def find_chats(instance: SandboxInstance, query: dict) -> list[dict]:
    """chat/findChats: one entry per chat with its last message, newest first."""
    where = query.get("where") if isinstance(query.get("where"), dict) else {}
    wanted = where.get("remoteJid")
    if isinstance(wanted, str) and wanted:
        wanted = wanted if "@" in wanted else create_jid(wanted)
    chats: dict[str, dict] = {}
    rows = SandboxMessage.objects.filter(instance=instance)
    for row in rows.order_by("-created_at", "-id")[:5000]:
        last = record(row, stored=True)
        jid = last["key"]["remoteJid"]
        if jid in chats or (wanted and jid != wanted):
            continue
        opened = row.created_at
        names = rows.filter(chat_phone=row.chat_phone, from_me=False).exclude(customer_name="")
        name = names.values_list("customer_name", flat=True).last()
        chats[jid] = {
            "id": None,
            "remoteJid": jid,
            "pushName": name,
            "profilePicUrl": None,
            "updatedAt": opened.isoformat(),
            "windowStart": opened.isoformat(),
            "windowExpires": (opened + timedelta(hours=24)).isoformat(),
            "windowActive": opened + timedelta(hours=24) > datetime.now(UTC),
            "lastMessage": clean(last),
            "unreadCount": rows.filter(chat_phone=row.chat_phone, from_me=False)
            .exclude(status="READ")
            .count(),
            "isSaved": False,
        }
    return list(chats.values())


def clean(message: dict) -> dict:
    """channel.service cleanMessageData: a chat's last message without its media details."""
    body = dict(message["message"])
    body.pop("base64", None)
    for name in ("imageMessage", "videoMessage", "documentMessage"):
        if name in body:
            body[name] = {"caption": body[name].get("caption")}
    if "audioMessage" in body:
        body["audioMessage"] = {"seconds": body["audioMessage"].get("seconds")}
    return message | {"message": body}


def media_of(instance: SandboxInstance, message: dict) -> dict:
    """chat/getBase64FromMediaMessage: the file of a media message, found by its key (or
    read from the message given), with the wrappers WhatsApp puts around it opened."""
    if not isinstance(message, dict) or not isinstance(message.get("key"), dict):
        raise SandboxError(400, "TypeError: Cannot read properties of undefined (reading 'key')")
    message_id = str(message["key"].get("id") or "")
    row = SandboxMessage.objects.filter(instance=instance, message_id=message_id).first()
    body = message.get("message") if isinstance(message.get("message"), dict) else None
    if body is None:
        if row is None:
            raise SandboxError(400, "Message not found")
        body = record(row)["message"]
    body = dict(body)
    for wrapper in WRAPPERS:
        if isinstance(body.get(wrapper), dict):
            body = dict(body[wrapper].get("message") or {})
    if set(body) == {"messageContextInfo"}:
        raise SandboxError(400, "The message is messageContextInfo")
    media_type = next((t for t in MEDIA_MESSAGES if isinstance(body.get(t), dict)), None)
    if media_type is None:
        raise SandboxError(400, "The message is not of the media type")
    stored = SandboxMessageMedia.objects.filter(message=row).first() if row else None
    if stored is None:
        # The CDN no longer has it (or never had: a row from before the sandbox kept files).
        raise SandboxError(
            400, "Error: Failed to fetch stream from https://mmg.whatsapp.net: 410 Gone"
        )
    if take_fault(stored):
        raise SandboxError(503, "Service Unavailable (injected)")
    media = body[media_type]
    extension = (media.get("mimetype") or stored.mime_type).split(";")[0].split("/")[-1]
    return {
        "mediaType": media_type,
        "fileName": media.get("fileName") or f"{message_id}.{extension}",
        "caption": media.get("caption"),
        "size": {
            "fileLength": media.get("fileLength"),
            "height": media.get("height"),
            "width": media.get("width"),
        },
        "mimetype": media.get("mimetype") or stored.mime_type,
        "base64": base64.b64encode(bytes(stored.data)).decode(),
        "buffer": None,
    }


def last_key(body: dict) -> str:
    """The chat an archiveChat / markChatUnread body names: `lastMessage.key.remoteJid`, or
    `chat` with the chat's last message looked up."""
    last = body.get("lastMessage")
    if (
        isinstance(last, dict)
        and isinstance(last.get("key"), dict)
        and last["key"].get("remoteJid")
    ):
        return str(last["key"]["remoteJid"])
    if isinstance(body.get("chat"), str) and body["chat"]:
        return body["chat"]
    raise SandboxError(404, "Last message not found")


def archive_chat(instance: SandboxInstance, body: dict) -> dict:
    """chat/archiveChat: WhatsApp keeps archiving on the phone; nothing reaches Conversa."""
    if not isinstance(body.get("archive"), bool):
        raise SandboxError(400, 'instance requires property "archive"')
    return {"chatId": last_key(body), "archived": True}


def mark_chat_unread(instance: SandboxInstance, body: dict) -> dict:
    """chat/markChatUnread: the chat shows as unread on the business's phone."""
    return {"chatId": last_key(body), "markedChatUnread": True}


def profile_picture(instance: SandboxInstance, body: dict) -> dict:
    """chat/fetchProfilePictureUrl: sandbox customers have no picture (what WhatsApp answers
    for a person who hides it)."""
    if not isinstance(body.get("number"), str):
        raise SandboxError(400, "number is not of a type(s) string")
    return {"wuid": create_jid(body["number"]), "profilePictureUrl": None}
