"""What a verified webhook held that Conversa could not read: kept as an Unparsed provider
event, never refused (a refusal makes the provider retry for days, then drop the message)."""

import hashlib
import json
import math

from prometheus_client import Counter

from conversa.providers.base import ParsedEvent, Unparsed

# Served at /metrics by the process that stored them (the web process, for webhooks).
unparsed_events = Counter(
    "conversa_unparsed_events", "Verified webhook events kept unread (Unparsed)", ["provider"]
)

# Bounds of what is kept of a body that is not storable JSON, and of a reason.
MAX_RAW_CHARS = 100_000
MAX_REASON = 1_000
# Deeper than any real payload; the JSON encoder would hit the recursion limit storing it.
MAX_DEPTH = 32


def unparsed_item(raw_body: bytes, reason: str) -> ParsedEvent:
    """The whole body as one Unparsed event: its JSON when it is storable as it is, else its
    text (decoded with replacement, NULs removed, bounded). The body's hash is its dedupe key,
    so the same body posted again is the same event."""
    payload = storable_json(raw_body)
    if payload is None:
        text = raw_body.decode("utf-8", errors="replace").replace("\x00", "")
        payload = {"raw": text[:MAX_RAW_CHARS]}
    return ParsedEvent(
        event=Unparsed(reason=reason[:MAX_REASON] or "unreadable"),
        dedupe_key=dedupe_key(raw_body),
        raw=payload,
    )


def dedupe_key(raw_body: bytes) -> str:
    return "unparsed:" + hashlib.sha256(raw_body).hexdigest()


def storable_json(raw_body: bytes):
    """The body's JSON if both databases can store it as it is (finite numbers, no NUL or
    unpaired surrogate, not absurdly deep), else None."""
    try:
        value = json.loads(raw_body, parse_constant=refuse)
    except (ValueError, RecursionError):
        return None
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            return None
        if isinstance(item, dict):
            pending += [(key, depth) for key in item]
            pending += [(inner, depth + 1) for inner in item.values()]
        elif isinstance(item, list):
            pending += [(inner, depth + 1) for inner in item]
        elif not storable_scalar(item):
            return None
    return value


def storable_scalar(item) -> bool:
    if isinstance(item, float):
        return math.isfinite(item)
    return not isinstance(item, str) or storable_text(item)


def storable_text(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def refuse(token: str):
    raise ValueError(f"{token} is not a JSON number")


def body_of(record) -> bytes:
    """The bytes an Unparsed record was read from, as near as it was kept: its text when only
    text could be kept (recognised by the body's hash), else its JSON."""
    payload = record.payload
    if isinstance(payload, dict) and set(payload) == {"raw"} and isinstance(payload["raw"], str):
        raw = payload["raw"].encode()
        if dedupe_key(raw) == record.dedupe_key:
            return raw
    return json.dumps(payload).encode()
