"""What the thread shows of a message beyond its text, by kind (providers.base.KINDS).

`Message.content` comes from outside: any key may be missing, of another type or too long.
Each reader here turns it into plain values with bounds (strings cut, lists capped, numbers
checked), so the template only prints checked values; the template escapes every one of them.
"""

import math
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.utils.translation import gettext_lazy as _

MAX_TEXT = 300
MAX_CARDS = 10
MAX_PHONES = 5
MAX_ITEMS = 50
MAX_OPTIONS = 12
DIGITS = re.compile(r"\D")

# Kinds whose own words in the thread say what they are, with no label above them.
SELF_DESCRIBED = ("choice", "poll", "unsupported")
REACTORS = {"customer": _("Customer"), "business": _("You")}


def text(value, limit: int = MAX_TEXT) -> str:
    """A printable string of at most `limit` characters ("" for objects and lists)."""
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).strip()[:limit]


def items(value, limit: int) -> list:
    return value[:limit] if isinstance(value, list) else []


def coordinate(value, bound: float) -> float | None:
    """A latitude (bound 90) or longitude (bound 180) as a float, or None when it is not a
    finite number in range."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number) or abs(number) > bound:
        return None
    return number


def web_url(value) -> str:
    """An http(s) URL to link to, or "" (no javascript: or data: links from a payload)."""
    url = text(value, 2000)
    return url if re.match(r"https?://[^\s]+$", url, re.IGNORECASE) else ""


@dataclass
class Location:
    name: str
    address: str
    latitude: str = ""
    longitude: str = ""
    map_url: str = ""


@dataclass
class Card:
    name: str
    phones: list = field(default_factory=list)  # [(shown, digits)]


@dataclass
class Shown:
    """The parts of one message the thread draws, each checked."""

    location: Location | None = None
    cards: list = field(default_factory=list)
    choice: str = ""
    order_items: list = field(default_factory=list)  # [{"name", "quantity", "price"}]
    order_text: str = ""
    poll_question: str = ""
    poll_options: list = field(default_factory=list)  # [(option, votes or None)]
    referral: dict = field(default_factory=dict)  # {"headline", "body", "source_url"}
    unsupported_type: str = ""
    reactions: list = field(default_factory=list)  # [(who, emoji)]
    earlier: list = field(default_factory=list)  # [{"body", "at"}]


def location(content: dict) -> Location:
    shown = Location(name=text(content.get("name")), address=text(content.get("address")))
    lat = coordinate(content.get("latitude"), 90)
    lon = coordinate(content.get("longitude"), 180)
    if lat is not None and lon is not None:
        shown.latitude, shown.longitude = f"{lat:.6f}", f"{lon:.6f}"
        query = urlencode({"mlat": shown.latitude, "mlon": shown.longitude})
        shown.map_url = f"https://www.openstreetmap.org/?{query}#map=16/{lat:.6f}/{lon:.6f}"
    return shown


def cards(content: dict) -> list[Card]:
    found = []
    for card in items(content.get("contacts"), MAX_CARDS):
        if not isinstance(card, dict):
            continue
        phones = []
        for phone in items(card.get("phones"), MAX_PHONES):
            shown = text(phone, 40)
            digits = DIGITS.sub("", shown)[:20]
            if shown:
                phones.append((shown, digits))
        found.append(Card(name=text(card.get("name"), 120), phones=phones))
    return found


def order(content: dict) -> list[dict]:
    lines = []
    for item in items(content.get("items"), MAX_ITEMS):
        if not isinstance(item, dict):
            continue
        quantity = item.get("quantity")
        quantity = quantity if isinstance(quantity, int) and not isinstance(quantity, bool) else 1
        price = text(item.get("price"), 20)
        currency = text(item.get("currency"), 8)
        lines.append(
            {
                "name": text(item.get("name") or item.get("product_id"), 120),
                "quantity": max(0, min(quantity, 10**6)),
                "price": f"{currency} {price}".strip() if price else "",
            }
        )
    return lines


def poll(content: dict) -> list[tuple[str, int | None]]:
    votes = content.get("votes") if isinstance(content.get("votes"), dict) else {}
    options = []
    for option in items(content.get("options"), MAX_OPTIONS):
        name = text(option.get("name") if isinstance(option, dict) else option, 120)
        # Once votes are known, an option nobody picked has none.
        count = votes.get(name, 0) if votes else None
        valid = isinstance(count, int) and not isinstance(count, bool) and count >= 0
        options.append((name, count if valid else None))
    return options


def shown(message) -> Shown:
    """What the thread draws of `message` beyond its body, from its content, reactions and
    history."""
    content = message.content if isinstance(message.content, dict) else {}
    result = Shown()
    kind = message.kind
    if kind == "location":
        result.location = location(content)
    elif kind == "contacts":
        result.cards = cards(content)
    elif kind == "choice":
        result.choice = text(content.get("title")) or text(message.body)
    elif kind == "order":
        result.order_items = order(content)
        result.order_text = text(content.get("text"), 1000)
    elif kind == "poll":
        result.poll_question = text(content.get("question"))
        result.poll_options = poll(content)
    elif kind == "unsupported":
        result.unsupported_type = text(content.get("type"), 60) or "?"
    referral = content.get("referral")
    if isinstance(referral, dict):
        result.referral = {
            "headline": text(referral.get("headline")),
            "body": text(referral.get("body")),
            "source_url": web_url(referral.get("source_url")),
        }
    reactions = message.reactions if isinstance(message.reactions, dict) else {}
    for who, label in REACTORS.items():
        emoji = text(reactions.get(who), 16)
        if emoji:
            result.reactions.append((label, emoji))
    history = message.history if isinstance(message.history, list) else []
    result.earlier = [
        {"body": text(entry.get("body"), 4096), "at": text(entry.get("at"), 40)}
        for entry in history[-20:]
        if isinstance(entry, dict)
    ]
    return result
