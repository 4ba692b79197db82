"""The API's sends beyond text: a location, contact cards and a file, each an intent (origin API)
through the engine like `POST /intents`, idempotent on the Idempotency-Key header. Every value
is bounded here; a bad one is a 422 with the field it concerns."""

import uuid

from django.http import HttpRequest
from ninja import Field, File, Form, Header, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import Status
from pydantic import field_validator

from conversa.accounts.scoping import get_for_org_or_404
from conversa.bounds import Id
from conversa.engine import outbox
from conversa.engine.api import IntentDetail, intent_detail
from conversa.engine.models import MessageIntent
from conversa.errors import Refused
from conversa.inbox import phones, uploads
from conversa.inbox import services as inbox
from conversa.numbers.models import Number

router = Router(tags=["engine"])

PHONE = r"^\+?[0-9]{8,15}$"


def normalized_phone(value: str) -> str:
    """A phone number as the digits of its E.164 form ("+55 (11) 98888-7777" → 5511988887777)
    (`phones.normalize_phone`, the one reading of a number); ValueError when it is none."""
    phone = phones.normalize_phone(value)
    if not phone:
        raise ValueError("not a possible phone number with its country code")
    return phone


class Recipient(Schema):
    phone: str = Field(pattern=PHONE, description="the customer's number, E.164 digits")
    number_id: Id | None = Field(
        None, description="the number to send from; none: the Gate picks one that may send now"
    )


class LocationIn(Recipient):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str = Field("", max_length=200)
    address: str = Field("", max_length=1000)


class CardIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    phones: list[str] = Field(min_length=1, max_length=5, description="with country codes")

    @field_validator("name")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a card needs a name")
        return value.strip()

    @field_validator("phones")
    @classmethod
    def normalized(cls, values: list[str]) -> list[str]:
        if any(len(value) > 32 for value in values):
            raise ValueError("a phone number is at most 32 characters")
        return [normalized_phone(value) for value in values]


class ContactsIn(Recipient):
    contacts: list[CardIn] = Field(min_length=1, max_length=10)


class MediaIn(Recipient):
    caption: str = Field("", max_length=outbox.MAX_CAPTION)
    voice: bool = Field(False, description="send an audio file as a voice note")


def idempotency(key: str | None) -> str:
    if key is not None and not 0 < len(key) <= 200:
        raise Refused("The Idempotency-Key header holds 1 to 200 characters.", field="key")
    return f"api:{key}" if key else f"api:{uuid.uuid4()}"


def sender(request: HttpRequest, number_id: Id | None) -> Number | None:
    return get_for_org_or_404(request.org, Number, pk=number_id) if number_id else None


@router.post("/intents/location", response={200: IntentDetail, 201: IntentDetail})
def send_location(
    request: HttpRequest,
    payload: LocationIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
):
    """Send a place (coordinates, and optionally its name and address)."""
    place = payload.dict(include={"latitude", "longitude", "name", "address"})
    intent, created = outbox.send_location(
        request.org,
        contact=inbox.upsert_contact(request.org, payload.phone.lstrip("+")),
        location=place,
        idempotency_key=idempotency(idempotency_key),
        origin=MessageIntent.Origin.API,
        acting_member=request.member,
        number=sender(request, payload.number_id),
    )
    return Status(201 if created else 200, intent_detail(intent))


@router.post("/intents/contacts", response={200: IntentDetail, 201: IntentDetail})
def send_contacts(
    request: HttpRequest,
    payload: ContactsIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
):
    """Send up to 10 contact cards, each a name and up to 5 numbers."""
    intent, created = outbox.send_contacts(
        request.org,
        contact=inbox.upsert_contact(request.org, payload.phone.lstrip("+")),
        cards=[card.dict() for card in payload.contacts],
        idempotency_key=idempotency(idempotency_key),
        origin=MessageIntent.Origin.API,
        acting_member=request.member,
        number=sender(request, payload.number_id),
    )
    return Status(201 if created else 200, intent_detail(intent))


@router.post("/intents/media", response={200: IntentDetail, 201: IntentDetail})
def send_media(
    request: HttpRequest,
    payload: Form[MediaIn],
    file: File[UploadedFile],
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
):
    """Send a file (multipart): a photo, video, audio (or a voice note with `voice`), sticker
    or document. Its type is read from its bytes and held to WhatsApp's limits."""
    number = sender(request, payload.number_id)
    cloud = bool(number and number.provider == Number.Provider.CLOUD)
    try:
        checked = uploads.check(file, voice=payload.voice, cloud=cloud)
    except Refused as exc:
        raise Refused(str(exc), field="file") from exc
    [(intent, created), *_] = outbox.send_media(
        request.org,
        contact=inbox.upsert_contact(request.org, payload.phone.lstrip("+")),
        files=[checked],
        caption=payload.caption,
        idempotency_key=idempotency(idempotency_key),
        origin=MessageIntent.Origin.API,
        acting_member=request.member,
        number=number,
    )
    return Status(201 if created else 200, intent_detail(intent))
