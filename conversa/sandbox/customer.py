"""The customer's side of the sandbox: the page where a person plays a WhatsApp customer (or
the business's own phone) and sees what the business sent. It stands for the outside world and
touches none of Conversa's own tables, but it is no public page: only a signed-in member uses
it, and only with the numbers of the tenants settings.SANDBOX_TENANTS gives them (their
organization's, tenants.py); another's number is a 404.

`customer_sends` is the one protocol-neutral entry: the page, tests and scripts call it, and
it speaks Evolution (evolution_events) or the Cloud API (graph.customer_message) as the
number does.
"""

import contextlib
from collections import defaultdict
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from conversa.sandbox import evolution_api, evolution_events, graph, simulator, tenants
from conversa.sandbox.models import SandboxInstance, SandboxMessage, SandboxMessageMedia
from conversa.sandbox.simulator import SandboxError

CHANGES = ("reaction", "edit", "revoke")
CHAT_LENGTH = 200
FILE_KINDS = ("image", "video", "voice", "audio", "document", "sticker")
# Files the page shows in place; anything else is offered as a download only, so a stranger's
# HTML or SVG never runs on this origin.
SHOWN_INLINE = ("image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4", "video/3gpp")


def customer_sends(
    instance: SandboxInstance,
    phone: str,
    kind: str,
    content: dict,
    *,
    lid: str = "",
    with_alt: bool = True,
    user_id: str = "",
    username: str = "",
    reply_to: str = "",
    name: str = "",
) -> str:
    """A customer sends `kind` (base.KINDS, or "reaction" / "edit" / "revoke" with
    `target`) with `content` in base.py's keys; returns the message id the number's
    protocol gave it (a reaction's own id; "" for an edit or a revoke).

    Evolution numbers: addressed by `lid` (with the phone beside it when `with_alt`) or by
    phone. Cloud API numbers: graph.customer_message, with `user_id` / `username` for a
    username sender."""
    if instance.protocol == "cloud":
        return graph.customer_message(
            instance, phone, kind, content, user_id=user_id, username=username, reply_to=reply_to
        )
    if kind in CHANGES:
        row = evolution_events.customer_change(
            instance, phone, kind, content, lid=lid, with_alt=with_alt, name=name
        )
        return row.message_id if row else ""
    row = evolution_events.customer_message(
        instance, phone, kind, content, lid=lid, with_alt=with_alt, name=name, reply_to=reply_to
    )
    return row.message_id


def digits(value: str, limit: int = 20) -> str:
    return "".join(ch for ch in value if ch.isdigit())[:limit]


def who(source) -> dict:
    """The customer the page plays, from its query or its form."""
    return {
        "phone": digits(source.get("phone", ""), 15),
        "name": source.get("name", "").strip()[:120],
        "lid": digits(source.get("lid", ""), 20),
        # The checkbox is sent only when ticked; a link without it keeps the default.
        "with_alt": source.get("with_alt", "1") == "1",
        "user_id": source.get("user_id", "").strip()[:64],
        "username": source.get("username", "").strip()[:64],
    }


def for_members(view):
    """A page of the simulator: for a signed-in person (else the sign-in page), who sees the
    numbers of their tenants only (`request.sandbox_instances`)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        request.sandbox_instances = SandboxInstance.objects.filter(
            tenant__in=tenants.visible_tenants(request)
        )
        return view(request, *args, **kwargs)

    return wrapper


def named_instance(request, name: str) -> SandboxInstance | None:
    """The instance the page names, if it is one of the person's; None when none is named; a
    name they may not see is a 404 (whether or not it exists)."""
    if not name:
        return None
    instance = request.sandbox_instances.filter(name=name).first()
    if instance is None:
        raise Http404
    return instance


@for_members
def customer_page(request):
    instances = list(request.sandbox_instances.order_by("name"))
    current = next((i for i in instances if i.name == request.GET.get("instance")), None)
    current = current or (instances[0] if instances else None)
    person = who(request.GET)
    chats = []
    if current:
        chats = (
            SandboxMessage.objects.filter(instance=current)
            .values_list("chat_phone", flat=True)
            .distinct()
            .order_by("chat_phone")
        )
    person["phone"] = person["phone"] or ("" if person["lid"] else "5511988887777")
    return render(
        request,
        "sandbox/customer.html",
        {
            "instances": instances,
            "current": current,
            "qr_image": simulator.qr_image(current.qr_code) if current and current.qr_code else "",
            "chats": chats,
            "chat_key": person["phone"] or person["lid"],
            "who_query": urlencode(
                {k: ("1" if v else "0") if k == "with_alt" else v for k, v in person.items()}
            ),
            **person,
        },
    )


@for_members
@require_GET
def customer_chat(request):
    """The chat as the customer sees it; seeing it marks the business's messages READ."""
    instance = named_instance(request, request.GET.get("instance", ""))
    person = who(request.GET)
    chat = person["phone"] or person["lid"]
    if instance and chat:
        evolution_events.customer_reads(instance, chat)
    return chat_view(request, instance, chat, person)


def chat_view(request, instance, chat: str, person: dict):
    messages, reactions = [], defaultdict(dict)
    if instance and chat:
        # The newest CHAT_LENGTH messages, oldest first: the page redraws them every second.
        newest = SandboxMessage.objects.filter(instance=instance, chat_phone=chat).order_by(
            "-created_at", "-id"
        )
        rows = list(reversed(newest[:CHAT_LENGTH]))
        stored = set(
            SandboxMessageMedia.objects.filter(message__in=rows).values_list(
                "message_id", flat=True
            )
        )
        for row in rows:
            if row.kind == "reaction":
                side = "business" if row.from_me else "customer"
                if row.text:
                    reactions[row.target_id][side] = row.text
                else:
                    reactions[row.target_id].pop(side, None)
                continue
            row.has_media = row.pk in stored
            row.details = details(row)
            messages.append(row)
        for row in messages:
            row.reactions = list(reactions.get(row.message_id, {}).values())
    return render(
        request,
        "sandbox/chat.html",
        {"messages": messages, "instance": instance, "chat": chat, **person},
    )


def details(row: SandboxMessage) -> dict:
    """What the page shows of a location, contact cards or a poll, from the wire record."""
    message = (row.content or {}).get("message") or {}
    for wrapper in evolution_api.WRAPPERS:
        if isinstance(message.get(wrapper), dict):
            message = message[wrapper].get("message") or {}
    if "locationMessage" in message:
        place = message["locationMessage"]
        lat, lon = place.get("degreesLatitude"), place.get("degreesLongitude")
        return {
            "place": " · ".join(str(place[k]) for k in ("name", "address") if place.get(k)),
            "map": f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}",
            "coordinates": f"{lat}, {lon}",
        }
    cards = message.get("contactsArrayMessage", {}).get("contacts") or (
        [message["contactMessage"]] if "contactMessage" in message else []
    )
    if cards:
        return {"cards": [card_summary(card) for card in cards]}
    poll = message.get("pollCreationMessageV3")
    if poll:
        return {
            "question": poll.get("name"),
            "options": [o.get("optionName") for o in poll.get("options", [])],
        }
    for media in evolution_api.MEDIA_MESSAGES:
        if isinstance(message.get(media), dict):
            return {"file_name": message[media].get("fileName", "")}
    return {}


def card_summary(card: dict) -> dict:
    phones = [
        line.rsplit(":", 1)[-1]
        for line in str(card.get("vcard", "")).splitlines()
        if "TEL" in line.split(":", 1)[0]
    ]
    return {"name": card.get("displayName", ""), "phones": phones}


@for_members
@require_POST
def customer_send(request):
    """Everything the customer does from the page: a text, a file (photo, voice note,
    document…), a location, a contact card, a poll; a reaction, an edit or a delete of a
    message (`target`); or, as the business, a message typed on its phone (kind "phone")."""
    instance = named_instance(request, request.POST.get("instance", ""))
    person = who(request.POST)
    chat = person["phone"] or person["lid"]
    kind = request.POST.get("kind", "text")
    text = request.POST.get("text", "").strip()
    upload = request.FILES.get("file")
    error = ""
    if instance is None:
        error = _("Choose a number to write to.")
    elif not person["lid"] and not 8 <= len(person["phone"]) <= 15:
        error = _("Enter the customer's number with country code, 8 to 15 digits.")
    elif instance.state != "open":
        error = _("This number is not connected.")
    elif kind == "text" and not text:
        error = _("Type a message.")
    elif kind in FILE_KINDS and upload is None and kind not in simulator.MEDIA:
        error = _("Choose an image, a document or a voice note.")
    elif upload is not None and upload.size > evolution_api.MAX_MEDIA_BYTES:
        error = _("That file is too large for WhatsApp.")
    if not error:
        try:
            act(request, instance, person, kind, text, upload)
        except SandboxError as exc:
            error = str(exc)
    if error:
        return render(request, "sandbox/send_error.html", {"error": error}, status=422)
    if request.htmx:
        return chat_view(request, instance, chat, person)
    query = {"instance": instance.name, "phone": person["phone"], "name": person["name"]}
    if person["lid"]:
        query |= {"lid": person["lid"], "with_alt": "1" if person["with_alt"] else "0"}
    return redirect(f"/sandbox/?{urlencode(query)}")


def act(request, instance, person: dict, kind: str, text: str, upload) -> None:
    post = request.POST
    identity = {
        "lid": person["lid"],
        "with_alt": person["with_alt"],
        "user_id": person["user_id"],
        "username": person["username"],
        "name": person["name"],
    }
    phone = person["phone"]
    if kind == "phone":
        if instance.protocol != "evolution":
            raise SandboxError(
                400, _("Only Evolution numbers echo what the business's phone sends.")
            )
        evolution_events.phone_sends(instance, phone or person["lid"], text, lid=person["lid"])
        return
    if kind in CHANGES:
        content = {"target": post.get("target", ""), "emoji": post.get("emoji", ""), "body": text}
        customer_sends(instance, phone, kind, content, **identity)
        return
    if kind in FILE_KINDS and upload is None:
        # No file chosen (scripts and older tests): a small real file of the kind (media.sample).
        simulator.customer_sends_media(instance, phone, kind, text, person["name"])
        return
    content: dict = {"body": text}
    if kind in FILE_KINDS:
        content = {
            "file": upload.read(evolution_api.MAX_MEDIA_BYTES + 1),
            "mime_type": upload.content_type or "application/octet-stream",
            "file_name": upload.name or "",
            "caption": text,
        }
    elif kind == "location":
        content = {f: post.get(f, "").strip() for f in ("latitude", "longitude", "name", "address")}
    elif kind == "contacts":
        content = {
            "contacts": [
                {
                    "name": post.get("contact_name", "").strip(),
                    "phones": [post.get("contact_phone", "")],
                }
            ]
        }
    elif kind == "poll":
        options = [line.strip() for line in post.get("options", "").splitlines() if line.strip()]
        content = {"question": text, "options": options}
    content["ephemeral"] = post.get("ephemeral") == "1"
    content["view_once"] = post.get("view_once") == "1"
    customer_sends(instance, phone, kind, content, reply_to=post.get("reply_to", ""), **identity)


@for_members
@require_GET
def customer_media(request, message_id: str):
    """A file the sandbox carried, for the page: pictures and videos in place, anything else
    as a download (never rendered on this origin)."""
    media = SandboxMessageMedia.objects.filter(
        message__message_id=message_id, message__instance__in=request.sandbox_instances
    ).first()
    if media is None:
        raise Http404
    mime_type = media.mime_type.split(";")[0].strip().lower()
    inline = mime_type in SHOWN_INLINE or mime_type.startswith("audio/")
    response = HttpResponse(
        bytes(media.data), content_type=mime_type if inline else "application/octet-stream"
    )
    name = (media.file_name or message_id).replace('"', "")
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def connection_action(action):
    """A button on the page that changes an Evolution number's connection."""

    @for_members
    @require_POST
    def view(request):
        instance = named_instance(request, request.POST.get("instance", ""))
        # A stale page (the number changed meanwhile) just shows the number's real state again.
        with contextlib.suppress(SandboxError):
            if instance:
                action(instance)
        return redirect(f"/sandbox/?{urlencode({'instance': instance.name if instance else ''})}")

    return view


# The person "scans" the QR on show, lets it expire, loses the connection for a moment, gets
# the number banned, or logs it out from the phone.
scan_qr = connection_action(simulator.scan)
refuse_qr = connection_action(simulator.refuse)
drop_connection = connection_action(evolution_events.drop_connection)
ban = connection_action(lambda instance: evolution_events.close(instance, 403))
logout_from_phone = connection_action(lambda instance: evolution_events.close(instance, 401))
