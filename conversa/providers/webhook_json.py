"""What both providers' webhook parsers share: reading the body as storable JSON, the bounds the
tables put on every value, and turning one item that cannot be read into one Unparsed event."""

import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import replace

from django.conf import settings

from conversa.providers.base import (
    IdentityUpdate,
    InboundMessage,
    MessageChange,
    ParsedEvent,
    Unparsed,
    WebhookMalformed,
    WebhookTooLarge,
)

# What the tables take (ProviderEvent, Message, Contact, ContactIdentity): checked while parsing,
# because a value the database refuses would fail the POST after its earlier events were stored.
MAX_MESSAGE_ID = 128
MAX_DEDUPE_KEY = 200
MAX_REFERENCE = 64
MAX_DEPTH = 32
MAX_REASON = 500
PHONE_DIGITS = re.compile(r"[0-9]{1,20}")
# A @lid id or a Cloud business-scoped user id ("US.13491208655302741918").
IDENTIFIER = re.compile(r"[0-9A-Za-z._:-]{1,128}")
TEXT_FIELDS = ("provider_message_id", "phone", "name", "kind", "body", "status", "error")
TEXT_FIELDS += ("reference", "reason", "code", "lid", "user_id", "change", "emoji", "new_phone")

# What a parser may raise on a payload whose shape is not the one it knows.
SHAPE_ERRORS = (KeyError, IndexError, TypeError, AttributeError, ValueError, OverflowError)


class Unstorable(ValueError):
    """A value the tables cannot hold."""


def load_json(raw_body: bytes):
    """The body as JSON that can be stored as it is, or WebhookMalformed.

    Beyond valid JSON it refuses what would fail later, at insert time: NaN and infinities
    (written back as tokens that neither PostgreSQL nor SQLite's JSON accepts), NUL characters
    and unpaired surrogates in strings (PostgreSQL refuses both), and nesting deeper than any
    real payload (the encoder would hit the recursion limit while storing it).
    """
    try:
        body = json.loads(raw_body, parse_constant=not_finite, parse_float=finite_float)
    except (ValueError, RecursionError) as exc:
        raise WebhookMalformed(f"body is not JSON: {exc}") from exc
    pending = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise WebhookMalformed(f"JSON nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            pending += [(key, depth) for key in value]
            pending += [(item, depth + 1) for item in value.values()]
        elif isinstance(value, list):
            pending += [(item, depth + 1) for item in value]
        elif isinstance(value, str) and not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError as exc:
                raise WebhookMalformed("a string holds an unpaired surrogate") from exc
        if isinstance(value, str) and "\x00" in value:
            raise WebhookMalformed("a string holds a NUL character")
    return body


def not_finite(token: str):
    raise ValueError(f"{token} is not a JSON number")


def finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


def checked(event, key):
    """The event as the tables take it (a foreign callback reference dropped), or Unstorable
    saying which value does not fit."""
    for name in TEXT_FIELDS:
        if not isinstance(getattr(event, name, ""), str):
            raise Unstorable(f"{name} is not a string")
    message_id = getattr(event, "provider_message_id", None)
    if message_id is not None and not 0 < len(message_id) <= MAX_MESSAGE_ID:
        raise Unstorable(f"message id is empty or over {MAX_MESSAGE_ID} chars")
    for name in ("phone", "new_phone"):
        value = getattr(event, name, "")
        if value and not PHONE_DIGITS.fullmatch(value):
            raise Unstorable(f"{name} {value[:40]!r} is not 1 to 20 digits")
    for name in ("lid", "user_id"):
        value = getattr(event, name, "")
        if value and not IDENTIFIER.fullmatch(value):
            raise Unstorable(f"{name} {value[:40]!r} is not 1 to 128 letters, digits or ._:-")
    if isinstance(event, InboundMessage) and not (event.phone or event.lid or event.user_id):
        raise Unstorable("the message names no phone, lid or user id")
    if isinstance(event, IdentityUpdate) and not (event.phone or event.lid or event.user_id):
        raise Unstorable("the identity update names nobody")
    if isinstance(event, InboundMessage | MessageChange) and not isinstance(
        getattr(event, "content", {}), dict
    ):
        raise Unstorable("content is not an object")
    if not isinstance(key, str) or not 0 < len(key) <= MAX_DEDUPE_KEY:
        raise Unstorable(f"event id is empty or over {MAX_DEDUPE_KEY} chars")
    if len(getattr(event, "reference", "")) > MAX_REFERENCE:
        # Longer than any reference of ours: another app's callback data, not a failure.
        event = replace(event, reference="")
    return event


def storable(parsed: list, envelope: dict, what: str = "") -> list[ParsedEvent]:
    """(event, dedupe key) pairs as ParsedEvents, once every one of them fits the tables;
    else WebhookMalformed, before any of them is stored."""
    prefix = f"{what}: " if what else ""
    events = []
    for event, key in parsed:
        try:
            event = checked(event, key)
        except Unstorable as exc:
            raise WebhookMalformed(f"{prefix}{exc}") from exc
        events.append(ParsedEvent(event=event, dedupe_key=key, raw=envelope))
    return events


def capped(parts: list[dict]) -> list[dict]:
    """A webhook's one-item envelopes (`parts`), or WebhookTooLarge past
    `WEBHOOK_MAX_ITEMS`, before anything of it is parsed or stored."""
    if len(parts) > settings.WEBHOOK_MAX_ITEMS:
        raise WebhookTooLarge(
            f"{len(parts)} messages and statuses in one webhook; at most "
            f"{settings.WEBHOOK_MAX_ITEMS} are taken"
        )
    return parts


def parsed_parts(parts: list[dict], parse: Callable[[dict], list], what: str = "") -> list:
    """Each part parsed on its own, and each event keeping only its own part as its raw
    payload: one message's JSON and the envelope's small fields, not its siblings (a 500-message
    webhook stored 500 copies of itself). Re-processing reads a part as a whole webhook."""
    return [event for part in capped(parts) for event in storable(parse(part), part, what)]


def unparsed_key(item) -> str:
    """One key per distinct unreadable item: a replay of it is a duplicate, another one is not."""
    canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "unparsed:" + hashlib.sha256(canonical.encode()).hexdigest()


def unparsed(item, reason: str) -> list:
    """An item the parser does not read, as one (Unparsed, key) pair."""
    return [(Unparsed(reason=reason[:MAX_REASON]), unparsed_key(item))]


def guarded(item, parse: Callable[[], list], what: str) -> list:
    """The (event, key) pairs `parse` reads from `item`, each checked against the tables; or,
    when anything in it fails, one Unparsed event for the item saying why. The other items of
    the same webhook are not affected."""
    try:
        return [(checked(event, key), key) for event, key in parse()]
    except Unstorable as exc:
        return unparsed(item, f"{what}: {exc}")
    except SHAPE_ERRORS as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        return unparsed(item, f"{what}: {type(exc).__name__}: {detail}")


def digits(value) -> str:
    """The digits of a phone number as a provider writes it ("+55 11 9…", "5511…")."""
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise TypeError(f"phone {str(value)[:40]!r} is not a string")
    return "".join(ch for ch in str(value) if ch.isdigit())


def text(value) -> str:
    """A string field that may be absent or null; anything else is a wrong shape."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def location(latitude, longitude, *, name, address, url) -> tuple[str, str, dict]:
    """(kind, body, content) of a shared location, both providers alike: coordinates that are
    numbers (TypeError otherwise: the item is kept unparsed), and a body a person reads."""
    for coordinate in (latitude, longitude):
        if not isinstance(coordinate, int | float) or isinstance(coordinate, bool):
            raise TypeError("a coordinate is not a number")
    content = {
        "latitude": latitude,
        "longitude": longitude,
        "name": text(name),
        "address": text(address),
        "url": text(url),
    }
    place = ", ".join(part for part in (content["name"], content["address"]) if part)
    return "location", f"📍 {place or f'{latitude}, {longitude}'}", content
