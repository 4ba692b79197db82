"""Phone numbers as contacts are stored under: E.164 digits without "+", however a provider or a
person wrote them, and a Brazilian mobile's other form (with or without its ninth digit), which
is the same person's."""

import functools
import re

import phonenumbers

from conversa.inbox.models import Contact

PHONE_LENGTH = Contact._meta.get_field("phone").max_length
# Longer than any phone number typed with spaces and dashes: anything past it is not one.
MAX_RAW_PHONE = 40
NOT_DIGITS = re.compile(r"\D")
# Brazil's mobiles: 55, a two-digit area code (11-99), then 9 and eight digits. WhatsApp ids of
# accounts older than the ninth digit (2012-2016) often still lack it: 55 AA + eight digits,
# the first 6-9 (a landline's is 2-5 and has no other form).
BR_MOBILE_NINE = re.compile(r"^55([1-9][1-9])9([6-9]\d{7})$")
BR_MOBILE_EIGHT = re.compile(r"^55([1-9][1-9])([6-9]\d{7})$")


@functools.lru_cache(maxsize=4096)
def normalize_phone(raw: str, default_region: str = "BR") -> str:
    """The digits of `raw`'s E.164 form without "+", or "" when it is not a possible number.

    Providers give numbers with their country code and no "+"; people type "+55 11 98888-7777"
    or, in the organization's country, "11 98888-7777". Digits alone are read both ways and
    the reading that is a valid number wins (international first for 11 digits or more, the
    country's own first for fewer); failing that, a merely possible international one (an old
    eight-digit Brazilian mobile is possible, not valid).
    """
    raw = (raw or "").strip()
    if BR_MOBILE_NINE.match(raw):
        # A Brazilian mobile as the providers give it, our customers' usual sender, is its own
        # E.164 form in every area code (as `read_phone` says: a test holds the two together);
        # reading it with phonenumbers was most of what a new customer's lookup cost.
        return raw
    return read_phone(raw, default_region)


def read_phone(raw: str, default_region: str) -> str:
    """`normalize_phone`, by phonenumbers' reading of `raw` (stripped)."""
    if not raw or len(raw) > MAX_RAW_PHONE:
        return ""
    digits = NOT_DIGITS.sub("", raw)
    if not 6 <= len(digits) <= 15:
        return ""
    if raw.startswith("+") or raw.startswith("00"):
        readings = [("+" + digits.removeprefix("00") if raw.startswith("00") else raw, None)]
    elif len(digits) >= 11:
        readings = [("+" + digits, None), (digits, default_region)]
    else:
        readings = [(digits, default_region), ("+" + digits, None)]
    international = []
    for text, region in readings:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return e164_digits(number)
        if region is None:
            international.append(number)
    # Merely possible only with its country code: a short national reading would invent one.
    for number in international:
        if phonenumbers.is_possible_number(number):
            return e164_digits(number)
    return ""


def e164_digits(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


def phone_variants(phone: str) -> list[str]:
    """The same person's other form of a normalized number: a Brazilian mobile with and
    without its ninth digit (55 AA 9XXXXXXXX ↔ 55 AA XXXXXXXX). Empty for any other number."""
    if match := BR_MOBILE_NINE.match(phone):
        return [f"55{match[1]}{match[2]}"]
    if match := BR_MOBILE_EIGHT.match(phone):
        return [f"55{match[1]}9{match[2]}"]
    return []


def phone_key(raw: str) -> str:
    """The phone a contact is stored under: normalized, else (a provider's number the library
    does not know yet) its digits, so a customer's message is never refused over its sender."""
    return normalize_phone(raw) or NOT_DIGITS.sub("", raw or "")[:PHONE_LENGTH]
