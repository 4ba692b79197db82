"""What the Graph API checks in a send (POST /{phone id}/messages) before it accepts it, with
Meta's codes: 100 for a missing or invalid parameter, 131009 for a value out of bounds, 131051
for a type it does not know. Pure functions: no database, no HTTP."""

import re

# Meta's own limits (the Cloud API's message reference).
TEXT_MAX = 4096
CAPTION_MAX = 1024
INTERACTIVE_BODY_MAX = 1024
HEADER_FOOTER_MAX = 60
TRACKER_MAX = 512
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
CAPTIONED = ("image", "video", "document")
SEND_TYPES = ("text", "template", "reaction", "interactive", "location", "contacts", *MEDIA_TYPES)
INTERACTIVE_TYPES = (
    "button",
    "list",
    "cta_url",
    "flow",
    "location_request_message",
    "product",
    "product_list",
    "catalog_message",
    "carousel",
    "voice_call",
    "call_permission_request",
    "request_contact_info",
)
# Interactive types that need no body text.
BODY_OPTIONAL = ("product", "product_list")
# The action's `name` for the interactive types that carry one.
ACTION_NAMES = {
    "cta_url": "cta_url",
    "flow": "flow",
    "location_request_message": "send_location",
    "catalog_message": "catalog_message",
    "voice_call": "voice_call",
    "call_permission_request": "call_permission_request",
    "request_contact_info": "request_contact_info",
}
# The sandbox issues BSUIDs of a country and 16 digits (Meta: up to 128 characters).
BSUID = re.compile(r"^[A-Z]{2}\.[0-9]{1,17}$")
URL = re.compile(r"^https?://\S{1,1000}$")


class GraphError(Exception):
    """A refusal in the Graph API's shape: HTTP status, code, message and details."""

    def __init__(self, status: int, code: int, message: str, details: str = "", subcode=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or message
        self.subcode = subcode


def invalid(details: str) -> GraphError:
    return GraphError(400, 100, "(#100) Invalid parameter", details, subcode=2494010)


def not_valid(details: str) -> GraphError:
    return GraphError(400, 131009, "(#131009) Parameter value is not valid", details)


def need(obj, key: str, where: str, kind=str, max_length: int | None = None):
    """obj[key], present, of `kind` and within `max_length` characters, or Meta's 100/131009."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None or (kind is str and value == ""):
        raise invalid(f"The parameter {where}['{key}'] is required.")
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise invalid(f"Param {where}['{key}'] must be a {getattr(kind, '__name__', kind)}.")
    if max_length is not None and len(value) > max_length:
        raise invalid(f"Param {where}['{key}'] must be at most {max_length} characters long.")
    return value


def optional(obj: dict, key: str, where: str, max_length: int) -> str:
    value = obj.get(key, "")
    if value in (None, ""):
        return ""
    return need(obj, key, where, str, max_length)


def recipient(body: dict) -> tuple[str, str]:
    """(phone digits, BSUID): who the send is for, by `to` or by `recipient`."""
    if body.get("recipient_type", "individual") != "individual":
        raise invalid("Param recipient_type must be 'individual': no groups on this number.")
    to, user_id = body.get("to"), body.get("recipient")
    if to in (None, "") and user_id in (None, ""):
        raise invalid("The parameter to is required.")
    if to not in (None, ""):
        digits = "".join(ch for ch in str(to) if ch.isdigit())
        if not isinstance(to, str | int) or re.search(r"[^\d+\-\s().]", str(to)):
            raise invalid("Param to must be a phone number or a WhatsApp ID.")
        if not 8 <= len(digits) <= 15:
            raise invalid("Param to must be a phone number of 8 to 15 digits.")
        return digits, ""
    if not isinstance(user_id, str) or not BSUID.match(user_id):
        raise invalid("Param recipient must be a business-scoped user ID.")
    return "", user_id


def check_send(body: dict) -> tuple[str, str, dict]:
    """A send's (type, summary for the ledger, media reference {id|link}) or GraphError."""
    if body.get("messaging_product") != "whatsapp":
        raise invalid("The parameter messaging_product is required and must be 'whatsapp'.")
    tracker = body.get("biz_opaque_callback_data")
    if tracker is not None and (not isinstance(tracker, str) or len(tracker) > TRACKER_MAX):
        raise invalid(f"Param biz_opaque_callback_data must be at most {TRACKER_MAX} characters.")
    context = body.get("context")
    if context is not None:
        need(context, "message_id", "context", str, 200)
    kind = body.get("type", "text")
    if kind not in SEND_TYPES:
        raise GraphError(
            400,
            131051,
            "(#131051) Unsupported message type",
            f"Message type {str(kind)[:40]} is not supported.",
        )
    content = body.get(kind)
    if not isinstance(content, dict) and not (kind == "contacts" and isinstance(content, list)):
        raise invalid(f"The parameter {kind} is required.")
    return kind, *CHECKS[kind](content, kind)


def check_text(text: dict, _kind) -> tuple[str, dict]:
    return need(text, "body", "text", str, TEXT_MAX), {}


def check_template(template: dict, _kind) -> tuple[str, dict]:
    name = need(template, "name", "template", str, 512)
    need(template, "language", "template", dict)
    need(template["language"], "code", "template['language']", str, 16)
    components = template.get("components", [])
    if not isinstance(components, list) or not all(
        isinstance(c, dict) and isinstance(c.get("type"), str) for c in components
    ):
        raise invalid("Param template['components'] must be a list of components with a type.")
    return f"[template] {name}", {}


def check_media(media: dict, kind: str) -> tuple[str, dict]:
    has_id, has_link = bool(media.get("id")), bool(media.get("link"))
    if has_id == has_link:
        raise invalid(f"Param {kind} must have exactly one of id or link.")
    if has_id and not str(media["id"]).isdigit():
        raise invalid(f"Param {kind}['id'] is not a valid media id.")
    if has_link and not (isinstance(media["link"], str) and URL.match(media["link"])):
        raise invalid(f"Param {kind}['link'] must be an http(s) URL.")
    caption = ""
    if kind in CAPTIONED:
        caption = optional(media, "caption", kind, CAPTION_MAX)
    elif media.get("caption"):
        raise invalid(f"Param {kind}['caption'] is not allowed for {kind}.")
    if kind == "document":
        optional(media, "filename", kind, 240)
    reference = {"id": str(media["id"])} if has_id else {"link": media["link"]}
    return caption or f"[{kind}]", reference


def check_reaction(reaction: dict, _kind) -> tuple[str, dict]:
    need(reaction, "message_id", "reaction", str, 200)
    emoji = reaction.get("emoji", "")
    if not isinstance(emoji, str) or len(emoji) > 10 or emoji.isalnum():
        raise not_valid("Param reaction['emoji'] must be one emoji, or empty to remove it.")
    return emoji, {}


def check_location(location: dict, _kind) -> tuple[str, dict]:
    numbers = []
    for key, bound in (("latitude", 90), ("longitude", 180)):
        value = location.get(key)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise invalid(f"The parameter location['{key}'] is required.") from None
        if not -bound <= number <= bound:
            raise not_valid(f"Param location['{key}'] must be between -{bound} and {bound}.")
        numbers.append(number)
    name = optional(location, "name", "location", 1000)
    optional(location, "address", "location", 1000)
    return name or f"{numbers[0]}, {numbers[1]}", {}


def check_contacts(contacts: list, _kind) -> tuple[str, dict]:
    if not isinstance(contacts, list) or not 1 <= len(contacts) <= 257:
        raise invalid("Param contacts must be a list of 1 to 257 contacts.")
    names = []
    for contact in contacts:
        names.append(need(need(contact, "name", "contacts", dict), "formatted_name", "name"))
        if not isinstance(contact.get("phones", []), list):
            raise invalid("Param contacts['phones'] must be a list.")
    return ", ".join(names)[:500], {}


def check_interactive(interactive: dict, _kind) -> tuple[str, dict]:
    kind = need(interactive, "type", "interactive", str, 40)
    if kind not in INTERACTIVE_TYPES:
        raise not_valid(f"Param interactive['type'] {kind[:40]} is not a valid type.")
    action = need(interactive, "action", "interactive", dict)
    body = ""
    if kind not in BODY_OPTIONAL or interactive.get("body"):
        body = need(need(interactive, "body", "interactive", dict), "text", "body", str, 1024)
    if interactive.get("footer"):
        need(interactive["footer"], "text", "footer", str, HEADER_FOOTER_MAX)
    header = interactive.get("header")
    if header:
        check_header(header)
    elif kind == "product_list":
        raise invalid("The parameter interactive['header'] is required.")
    if kind in ACTION_NAMES and action.get("name") != ACTION_NAMES[kind]:
        raise invalid(f"Param action['name'] must be '{ACTION_NAMES[kind]}'.")
    INTERACTIVE_CHECKS.get(kind, lambda _: None)(action)
    return body or f"[{kind}]", {}


def check_header(header) -> None:
    kind = need(header, "type", "header", str, 20)
    if kind == "text":
        need(header, "text", "header", str, HEADER_FOOTER_MAX)
    elif kind in ("image", "video", "document"):
        check_media(need(header, kind, "header", dict), kind)
    else:
        raise not_valid(f"Param header['type'] {kind} is not a valid header type.")


def check_buttons(action: dict) -> None:
    buttons = need(action, "buttons", "action", list)
    if not 1 <= len(buttons) <= 3:
        raise not_valid("Param action['buttons'] must have 1 to 3 buttons.")
    ids = set()
    for button in buttons:
        if not isinstance(button, dict) or button.get("type") != "reply":
            raise invalid("Param buttons['type'] must be 'reply'.")
        reply = need(button, "reply", "button", dict)
        ids.add(need(reply, "id", "reply", str, 256))
        if len(need(reply, "title", "reply", str)) > 20:
            raise not_valid("Button title length invalid. Max length is 20.")
    if len(ids) != len(buttons):
        raise not_valid("Buttons must have unique ids.")


def check_list(action: dict) -> None:
    if len(need(action, "button", "action", str)) > 20:
        raise not_valid("Button title length invalid. Max length is 20.")
    sections = need(action, "sections", "action", list)
    rows = [
        row for section in sections if isinstance(section, dict) for row in section.get("rows", [])
    ]
    if not 1 <= len(sections) <= 10 or not 1 <= len(rows) <= 10:
        raise not_valid("A list has 1 to 10 sections and 1 to 10 rows in all.")
    for row in rows:
        need(row, "id", "row", str, 200)
        if len(need(row, "title", "row", str)) > 24:
            raise not_valid("Row title length invalid. Max length is 24.")
        optional(row, "description", "row", 72)


def check_cta_url(action: dict) -> None:
    parameters = need(action, "parameters", "action", dict)
    need(parameters, "display_text", "parameters", str, 20)
    if not URL.match(need(parameters, "url", "parameters", str)):
        raise invalid("Param parameters['url'] must be an http(s) URL.")


def check_flow(action: dict) -> None:
    parameters = need(action, "parameters", "action", dict)
    need(parameters, "flow_message_version", "parameters", str, 10)
    need(parameters, "flow_cta", "parameters", str, 30)
    if not parameters.get("flow_id") and not parameters.get("flow_name"):
        raise invalid("The parameter parameters['flow_id'] or ['flow_name'] is required.")


def check_product(action: dict) -> None:
    need(action, "catalog_id", "action", str, 100)
    need(action, "product_retailer_id", "action", str, 100)


def check_product_list(action: dict) -> None:
    need(action, "catalog_id", "action", str, 100)
    sections = need(action, "sections", "action", list)
    items = [i for s in sections if isinstance(s, dict) for i in s.get("product_items", [])]
    if not 1 <= len(sections) <= 10 or not 1 <= len(items) <= 30:
        raise not_valid("A product list has 1 to 10 sections and 1 to 30 products in all.")


def check_carousel(action: dict) -> None:
    cards = need(action, "cards", "action", list)
    if not 2 <= len(cards) <= 10:
        raise not_valid("A carousel has 2 to 10 cards.")


CHECKS = {
    "text": check_text,
    "template": check_template,
    "reaction": check_reaction,
    "location": check_location,
    "contacts": check_contacts,
    "interactive": check_interactive,
    **dict.fromkeys(MEDIA_TYPES, check_media),
}
INTERACTIVE_CHECKS = {
    "button": check_buttons,
    "list": check_list,
    "cta_url": check_cta_url,
    "flow": check_flow,
    "product": check_product,
    "product_list": check_product_list,
    "carousel": check_carousel,
}
