"""One message of every kind (providers.base.KINDS) in a conversation, with the content each
provider's parser stores, plus reactions, an edit, a delete and a message typed on the phone.
Used by the thread's tests and by the browser's screenshot test (through `conversa shell`)."""

from datetime import timedelta

from django.utils import timezone

from conversa.inbox.models import Conversation, Message

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'

KINDS = [
    (
        "text",
        "Vi o anúncio, ainda tem?",
        {
            "referral": {
                "headline": "Promoção de verão",
                "body": "Tênis com 30% off",
                "source_url": "https://fb.me/anuncio-123",
                "source_type": "ad",
            }
        },
    ),
    ("image", "Foto do produto quebrado", {"media": {"id": "m1", "mime_type": "image/jpeg"}}),
    ("video", "", {"media": {"id": "m2", "mime_type": "video/mp4"}}),
    ("audio", "", {"media": {"id": "m3", "mime_type": "audio/mpeg"}}),
    ("voice", "", {"media": {"id": "m4", "mime_type": "audio/ogg"}}),
    ("document", "Nota fiscal", {"media": {"id": "m5", "file_name": "nota.pdf", "size": 48213}}),
    ("sticker", "", {"media": {"id": "m6", "mime_type": "image/webp"}}),
    (
        "location",
        "Loja Centro",
        {
            "latitude": -23.55052,
            "longitude": -46.633308,
            "name": "Loja Centro",
            "address": "Praça da Sé, 100 - São Paulo",
        },
    ),
    (
        "contacts",
        "Ana Souza",
        {
            "contacts": [
                {"name": "Ana Souza", "phones": ["+55 11 98765-4321"], "wa_ids": ["5511987654321"]},
                {"name": "Bruno Lima", "phones": ["+55 21 99876-5432", "+55 21 3333-4444"]},
            ]
        },
    ),
    ("choice", "Entrega expressa", {"id": "ship-express", "title": "Entrega expressa"}),
    (
        "order",
        "",
        {
            "catalog_id": "cat-1",
            "items": [
                {"product_id": "tenis-42", "quantity": 2, "price": "199.90", "currency": "BRL"},
                {"product_id": "meia-kit", "quantity": 1, "price": "29.90", "currency": "BRL"},
            ],
            "text": "Pode embrulhar para presente?",
        },
    ),
    (
        "poll",
        "",
        {
            "question": "Qual horário prefere?",
            "options": ["Manhã", "Tarde", "Noite"],
            "votes": {"Manhã": 1, "Tarde": 0},
        },
    ),
    ("unsupported", "", {"type": "callLogMessage"}),
]


def create(conversation: Conversation) -> list[Message]:
    """Every kind, oldest first, then the business's reaction, an edit, a delete and a
    message typed on the phone. Returns them in that order."""
    start = timezone.now() - timedelta(minutes=30)
    made = []
    for index, (kind, body, content) in enumerate(KINDS):
        made.append(
            Message.objects.create(
                organization=conversation.organization,
                conversation=conversation,
                number=conversation.number,
                direction=Message.Direction.INBOUND,
                kind=kind,
                body=body,
                content=content,
                status=Message.Status.RECEIVED,
                provider_message_id=f"every-kind-{conversation.pk}-{index}",
                created_at=start + timedelta(minutes=index),
            )
        )
    made[0].reactions = {"customer": "🔥", "business": "👍"}
    made[0].save(update_fields=["reactions"])
    later = start + timedelta(minutes=len(KINDS))
    edited = Message.objects.create(
        organization=conversation.organization,
        conversation=conversation,
        number=conversation.number,
        direction=Message.Direction.INBOUND,
        body="Na verdade são 3 pares",
        history=[{"body": "São 2 pares", "at": later.isoformat()}],
        edited_at=later,
        status=Message.Status.RECEIVED,
        provider_message_id=f"every-kind-{conversation.pk}-edited",
        created_at=later,
    )
    deleted = Message.objects.create(
        organization=conversation.organization,
        conversation=conversation,
        number=conversation.number,
        direction=Message.Direction.INBOUND,
        body="mensagem secreta apagada",
        deleted_at=later,
        status=Message.Status.RECEIVED,
        provider_message_id=f"every-kind-{conversation.pk}-deleted",
        created_at=later + timedelta(seconds=1),
    )
    from_phone = Message.objects.create(
        organization=conversation.organization,
        conversation=conversation,
        number=conversation.number,
        direction=Message.Direction.OUTBOUND,
        body="Respondi pelo celular da loja",
        sent_from_phone=True,
        status=Message.Status.DELIVERED,
        provider_message_id=f"every-kind-{conversation.pk}-phone",
        created_at=later + timedelta(seconds=2),
    )
    return [*made, edited, deleted, from_phone]


def create_in_demo() -> int:
    """For `conversa shell -c`: every kind in the demo's first conversation; its id."""
    conversation = Conversation.objects.filter(organization__slug="demo").order_by("id").first()
    create(conversation)
    return conversation.pk
