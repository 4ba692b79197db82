"""WhatsApp Cloud API adapter (docs/providers.md §A). The sandbox plays the Graph API too.

A number on this provider keeps its phone number id in `provider_name`, its access token in
`provider_token`, and the app secret and verify token of its webhook subscription.
"""

import base64
import hashlib
import hmac
import re

import httpx

from conversa.providers import http
from conversa.providers.base import (
    MEDIA_KINDS,
    FetchedMedia,
    OutboundContent,
    Pairing,
    ParsedEvent,
    ProviderError,
    SendResult,
    WebhookMalformed,
    WebhookRejected,
    media_limit,
)
from conversa.providers.cloud_webhooks import parse_envelope, split_envelope
from conversa.providers.webhook_json import load_json, parsed_parts

SIGNATURE_HEADER = "X-Hub-Signature-256"

# Graph error codes worth retrying (§A5): throughput (130429), pair rate (131056), a number
# being upgraded (131057), and Meta's own temporary failures.
TRANSIENT_CODES = {1, 2, 4, 17, 341, 80007, 130429, 131000, 131016, 131056, 131057, 133004}

# A media id goes in a URL path: Meta's are digits; anything else is not one.
MEDIA_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class CloudProvider:
    supports_lookup = False

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")

    def _call(self, method: str, number, path: str, **kwargs) -> dict:
        response = http.request(
            method,
            f"{self.base_url}/{number.provider_name}{path}",
            headers={"Authorization": f"Bearer {number.provider_token}"},
            **kwargs,
        )
        if response.status_code >= 400:
            raise graph_error(response)
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError("Graph API answered with non-JSON", transient=True) from exc

    # Lifecycle. A Cloud API number lives in Meta's Business Manager, not here: there is no
    # number to create, no QR, no session to log out or restart, and the webhook is the Meta
    # app's (its callback URL and verify token are set in the app dashboard, once per app, and
    # Meta proves it with the verify handshake). What we can do is check the number and token.
    def create_instance(self, number, webhook_url: str) -> str:
        """Check that the access token can see the phone number id; issues no token of its own.
        A wrong token or id is a permanent error that says which."""
        self.phone_number(number)
        return ""

    def connect(self, number) -> Pairing | None:
        """Cloud API numbers are registered in Meta's dashboard: nothing to scan."""
        return None

    def connection_state(self, number) -> str:
        """Connected while the token can read the number; otherwise the Graph error is raised."""
        self.phone_number(number)
        return "connected"

    def logout(self, number) -> None:
        """No session to end: a Cloud number stops when it is removed in Meta's dashboard."""

    def restart(self, number) -> None:
        """No socket to reopen: the Graph API is stateless HTTP."""

    def delete_instance(self, number) -> None:
        """The number stays registered with Meta; forgetting it is Conversa's side only."""

    def set_webhook(self, number, webhook_url: str) -> None:
        """Meta's webhook belongs to the app and is set in its dashboard, not per number."""

    def phone_number(self, number) -> dict:
        """The number as Meta describes it: {display_phone_number, verified_name, id}."""
        response = http.request(
            "GET",
            f"{self.base_url}/{number.provider_name}",
            headers={"Authorization": f"Bearer {number.provider_token}"},
            params={"fields": "display_phone_number,verified_name"},
        )
        if response.status_code < 400:
            try:
                return response.json()
            except ValueError as exc:
                raise ProviderError("Graph API answered with non-JSON", transient=True) from exc
        error = graph_error(response)
        if error.transient:
            raise error
        # 190 is Meta's code for a bad, expired or revoked token, whatever the HTTP status.
        if response.status_code == 401 or graph_code(response) == 190:
            problem = "the access token is invalid or expired"
        else:
            problem = f"phone number id {number.provider_name} is not reachable with this token"
        raise ProviderError(f"{problem} — {error}", transient=False, status=response.status_code)

    def send_text(self, number, phone: str, body: str, reference: str) -> SendResult:
        return self._send(
            number,
            phone,
            {"type": "text", "text": {"body": body, "preview_url": False}},
            reference,
        )

    def send_template(
        self, number, phone: str, name: str, language: str, variables: list[str], reference: str
    ) -> SendResult:
        """A pre-approved template: the only message allowed outside the 24-hour window."""
        template: dict = {"name": name, "language": {"code": language}}
        if variables:
            parameters = [{"type": "text", "text": value} for value in variables]
            template["components"] = [{"type": "body", "parameters": parameters}]
        return self._send(number, phone, {"type": "template", "template": template}, reference)

    def _send(self, number, phone: str, content: dict, reference: str) -> SendResult:
        # A phone number goes in `to`; someone known only by their username, by the
        # business-scoped user id Meta gave us, in `recipient`.
        digits = phone.lstrip("+")
        to = {"to": f"+{digits}"} if digits.isdigit() else {"recipient": phone}
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            **to,
            **content,
            # Meta echoes this in every status webhook of the message: how an UNCERTAIN send
            # is reconciled.
            "biz_opaque_callback_data": reference,
        }
        data = self._call("POST", number, "/messages", json=payload)
        messages = data.get("messages") or []
        if not messages or not messages[0].get("id"):
            raise ProviderError("send answered without messages[0].id", transient=False)
        # The WhatsApp id Meta delivered to, which may differ from the number typed (Brazil's
        # ninth digit).
        contacts = data.get("contacts") or [{}]
        wa_id = contacts[0].get("wa_id") if isinstance(contacts[0], dict) else ""
        return SendResult(provider_message_id=messages[0]["id"], wa_id=str(wa_id or ""))

    def send_content(
        self, number, phone: str, content: OutboundContent, reference: str
    ) -> SendResult:
        """Media (uploaded first, then sent by its media id), a location, contact cards or a
        reaction (docs/providers.md §A; Meta's messages reference)."""
        kind = content.kind
        if kind in MEDIA_KINDS:
            media: dict = {"id": self.upload_media(number, content)}
            if content.caption and kind in ("image", "video", "document"):
                media["caption"] = content.caption
            if kind == "document" and content.file_name:
                media["filename"] = content.file_name
            if kind == "voice":
                media["voice"] = True  # shown as a voice note (OGG/Opus)
            graph_type = "audio" if kind == "voice" else kind
            return self._send(number, phone, {"type": graph_type, graph_type: media}, reference)
        if kind == "location":
            place = {k: v for k, v in content.location.items() if v not in ("", None)}
            return self._send(number, phone, {"type": "location", "location": place}, reference)
        if kind == "contacts":
            cards = [contact_card(card) for card in content.contacts]
            return self._send(number, phone, {"type": "contacts", "contacts": cards}, reference)
        if kind == "reaction":
            reaction = {"message_id": content.target, "emoji": content.emoji}
            return self._send(number, phone, {"type": "reaction", "reaction": reaction}, reference)
        raise ProviderError(f"the Cloud API cannot send {kind!r}", transient=False)

    def upload_media(self, number, content: OutboundContent) -> str:
        """Upload a file to the number's media store (`POST /{phone id}/media`); its id."""
        try:
            data = self._call(
                "POST",
                number,
                "/media",
                data={"messaging_product": "whatsapp", "type": content.mime_type},
                files={"file": (content.file_name or "file", content.media, content.mime_type)},
            )
        except ProviderError as exc:
            # An upload that got no answer sent no message: retried, never UNCERTAIN.
            raise ProviderError(
                f"media upload: {exc}",
                transient=exc.transient,
                status=exc.status,
                retry_after=exc.retry_after,
            ) from exc
        if not data.get("id"):
            raise ProviderError("media upload answered without an id", transient=False)
        return str(data["id"])

    def mark_read(self, number, phone: str, provider_message_id: str) -> None:
        """Blue ticks on the customer's message (and, as Meta applies it, on the earlier ones)."""
        self._call(
            "POST",
            number,
            "/messages",
            json={
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": provider_message_id,
            },
        )

    # Media (§A): an inbound message's file
    def fetch_media(self, number, message_id: str, media: dict) -> FetchedMedia:
        """The file of an inbound media message, in two calls with the number's token:
        `GET /{media id}` answers {"url", "mime_type", "sha256", "file_size"}; the URL (valid
        for minutes) answers the bytes. Refused past the kind's limit (read as it streams), and
        when the bytes do not match the announced sha256 (a transient fault: fetched again)."""
        limit = media_limit(media)
        media_id = str(media.get("id") or "")
        if not MEDIA_ID.fullmatch(media_id):
            raise ProviderError("the message has no valid media id", transient=False)
        headers = {"Authorization": f"Bearer {number.provider_token}"}
        response = http.request("GET", f"{self.base_url}/{media_id}", headers=headers)
        if response.status_code >= 400:
            raise graph_error(response)
        try:
            info = response.json()
            url, size = str(info["url"]), info.get("file_size")
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(
                "Graph API answered the media without a url", transient=True
            ) from exc
        if not url.startswith(("https://", "http://")):
            raise ProviderError("Graph API answered a media url that is not HTTP", transient=False)
        if isinstance(size, int) and size > limit:
            raise ProviderError(http.too_large(limit), transient=False)
        response, body = http.download("GET", url, limit, headers=headers)
        if response.status_code >= 400:
            # The URL expires after a few minutes: the next attempt asks for a new one.
            raise ProviderError(
                f"media download answered HTTP {response.status_code}",
                transient=response.status_code not in (400, 410),
                status=response.status_code,
            )
        expected = str(info.get("sha256") or "")
        if expected and not sha256_matches(body, expected):
            raise ProviderError("the downloaded media does not match its sha256", transient=True)
        return FetchedMedia(content=body, mime_type=str(info.get("mime_type") or ""))

    # Webhooks (§A3)
    def verify_subscription(self, number, params) -> str:
        """The GET handshake: the challenge to echo when the verify token matches."""
        given = params.get("hub.verify_token", "")
        if params.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            given.encode(), number.verify_token.encode()
        ):
            raise WebhookRejected("wrong hub.verify_token or hub.mode")
        return params.get("hub.challenge", "")

    def verify_webhook(self, number, headers, raw_body: bytes) -> None:
        given = headers.get(SIGNATURE_HEADER, "")
        expected = "sha256=" + signature(number.app_secret, raw_body)
        if not number.app_secret or not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookRejected(f"missing or wrong {SIGNATURE_HEADER}")

    def parse_webhook(self, number, raw_body: bytes) -> list[ParsedEvent]:
        """The neutral events of one webhook (cloud_webhooks). What cannot be read in it is an
        Unparsed event; only a body that is not a JSON object is WebhookMalformed."""
        envelope = load_json(raw_body)
        if not isinstance(envelope, dict):
            raise WebhookMalformed("expected an object with a list 'entry'")
        return parsed_parts(split_envelope(envelope), parse_envelope)


def contact_card(card: dict) -> dict:
    """A contact card as the Graph API takes it: a formatted name plus at least one of its
    parts, and each number with its WhatsApp id."""
    name = card["name"]
    first, _, last = name.partition(" ")
    parts = {"formatted_name": name, "first_name": first}
    if last:
        parts["last_name"] = last
    phones = []
    for phone in card["phones"]:
        digits = "".join(ch for ch in phone if ch.isdigit())
        phones.append({"phone": f"+{digits}", "type": "CELL", "wa_id": digits})
    return {"name": parts, "phones": phones}


def sha256_matches(content: bytes, expected: str) -> bool:
    """Meta writes a file's sha256 in hex (media retrieval) or base64 (webhooks): either."""
    digest = hashlib.sha256(content).digest()
    return hmac.compare_digest(expected.lower(), digest.hex()) or hmac.compare_digest(
        expected, base64.b64encode(digest).decode()
    )


def signature(app_secret: str, raw_body: bytes) -> str:
    return hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()


def graph_code(response: httpx.Response) -> int | None:
    """The Graph error code of a refusal, if it has one."""
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def graph_error(response: httpx.Response) -> ProviderError:
    """Classify a Graph API error answer (§A5): rate limits and Meta's hiccups are transient,
    a policy or a bad request is permanent."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    code = error.get("code")
    transient = code in TRANSIENT_CODES or response.status_code >= 500
    transient = transient or response.status_code == 429
    # Meta's error.message is written for people ("Invalid OAuth access token"); anything
    # else the answer holds goes to the log, not to the page.
    message = str(error.get("message") or "")[:200]
    if not message:
        http.body_to_log(response, "Graph API")
    return ProviderError(
        f"Graph {response.status_code} ({code}): {message or http.refusal(response.status_code)}",
        transient=transient,
        status=response.status_code,
        retry_after=http.retry_after(response),
    )
