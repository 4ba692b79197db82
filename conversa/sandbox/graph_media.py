"""Files on the sandbox's Graph API: uploads (POST /{phone id}/media), a customer's media,
lookup by id and the short-lived URL of its bytes (GET /{media id}, then GET of the URL with
the number's token), as Meta serves them."""

import base64
import hashlib
import hmac
import time

from django.conf import settings

from conversa.sandbox.graph import bad_token, new_media_id, not_found, token_matches
from conversa.sandbox.graph_checks import GraphError, invalid
from conversa.sandbox.models import SandboxInstance, SandboxMedia

# WhatsApp's own limits per kind of file.
MEDIA_LIMITS = {
    "image": 5 * 1024 * 1024,
    "video": 16 * 1024 * 1024,
    "audio": 16 * 1024 * 1024,
    "sticker": 500 * 1024,
    "document": 100 * 1024 * 1024,
}
MIME_KINDS = {
    "image/jpeg": "image",
    "image/png": "image",
    "image/webp": "sticker",
    "video/mp4": "video",
    "video/3gpp": "video",
    "audio/aac": "audio",
    "audio/amr": "audio",
    "audio/mpeg": "audio",
    "audio/mp4": "audio",
    "audio/ogg": "audio",
    "text/plain": "document",
    "application/pdf": "document",
    "application/msword": "document",
    "application/vnd.ms-excel": "document",
    "application/vnd.ms-powerpoint": "document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "document",
}
# A media URL works for five minutes, as Meta's do.
MEDIA_URL_SECONDS = 300


def media_kind(mime_type: str) -> str | None:
    return MIME_KINDS.get(mime_type.split(";")[0].strip().lower())


def store_media(
    instance: SandboxInstance,
    content: bytes,
    mime_type: str,
    file_name: str = "",
    message_id: str = "",
) -> SandboxMedia:
    """Keep a file on the number, bounded by WhatsApp's limit for its kind."""
    kind = media_kind(mime_type)
    if kind is None:
        raise invalid(
            "Param file must be a file with one of the following types: "
            + ", ".join(sorted(MIME_KINDS))
        )
    if not content or len(content) > MEDIA_LIMITS[kind]:
        raise invalid(f"Param file must be a {kind} of 1 byte to {MEDIA_LIMITS[kind]} bytes.")
    return SandboxMedia.objects.create(
        instance=instance,
        media_id=new_media_id(),
        content=content,
        mime_type=mime_type,
        file_name=file_name[:240],
        sha256=base64.b64encode(hashlib.sha256(content).digest()).decode(),
        size=len(content),
        message_id=message_id,
    )


def media_signature(media_id: str, expires: int) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{media_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def media_url(download: str, media: SandboxMedia) -> str:
    """Where the file's bytes are (`download`, the attachments route), for five minutes and
    with the number's token, like Meta's lookaside.fbsbx.com URLs."""
    expires = int(time.time()) + MEDIA_URL_SECONDS
    signature = media_signature(media.media_id, expires)
    return f"{download}?mid={media.media_id}&ext={expires}&hash={signature}"


def media_record(download: str, media: SandboxMedia) -> dict:
    """GET /{media id}: the file's URL and facts."""
    return {
        "messaging_product": "whatsapp",
        "url": media_url(download, media),
        "mime_type": media.mime_type,
        "sha256": media.sha256,
        "file_size": media.size,
        "id": media.media_id,
    }


def media_by_url(token: str, media_id: str, expires: str, signature: str) -> SandboxMedia:
    """The file a media URL names, for the token of the number that has it."""
    media = SandboxMedia.objects.filter(media_id=media_id, size__gt=0).first()
    if media is None or not token_matches(media.instance, token):
        raise bad_token() if media is None or not token else not_found(media_id)
    valid = expires.isdigit() and int(expires) >= time.time()
    if not valid or not hmac.compare_digest(signature, media_signature(media_id, int(expires))):
        raise GraphError(404, 100, "URL signature expired", "URL signature mismatch or expired")
    return media


def readable_media(token: str, media_id: str) -> SandboxMedia:
    """A media this token's number has (GET and DELETE /{media id})."""
    media = SandboxMedia.objects.filter(media_id=media_id, size__gt=0).first()
    if media is None or not token_matches(media.instance, token):
        known_token = SandboxInstance.objects.filter(protocol="cloud", token=token).exists()
        raise not_found(media_id) if token and known_token else bad_token()
    return media


def upload_media(instance: SandboxInstance, form, files) -> dict:
    """POST /{phone id}/media (multipart: file, type, messaging_product)."""
    if form.get("messaging_product") != "whatsapp":
        raise invalid("The parameter messaging_product is required and must be 'whatsapp'.")
    upload = files.get("file")
    if upload is None:
        raise invalid("The parameter file is required.")
    mime_type = form.get("type") or upload.content_type or ""
    limit = max(MEDIA_LIMITS.values())
    if upload.size > limit:
        raise invalid(f"Param file must be at most {limit} bytes.")
    media = store_media(instance, upload.read(), mime_type, upload.name or "")
    return {"id": media.media_id}
