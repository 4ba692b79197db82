from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Header, Router, Schema
from ninja.responses import Status

from conversa.accounts.scoping import get_for_org_or_404, scoped
from conversa.engine import services as engine
from conversa.engine.api import IntentOut, intent_out
from conversa.inbox.models import Conversation
from conversa.inbox.views import MAX_REPLY_LENGTH

router = Router(tags=["inbox"])


class ContactOut(Schema):
    id: int
    name: str
    phone: str


class ConversationOut(Schema):
    id: int
    status: str
    instance_id: int
    contact: ContactOut
    unread_count: int
    last_message_at: datetime


class MessageOut(Schema):
    id: int
    direction: str
    kind: str
    body: str
    status: str
    provider_message_id: str
    error: str
    created_at: datetime


class ReplyIn(Schema):
    body: str = Field(min_length=1, max_length=MAX_REPLY_LENGTH)


@router.get("/conversations", response=list[ConversationOut])
def list_conversations(request: HttpRequest, status: str | None = None):
    conversations = scoped(request.org, Conversation).select_related("contact")
    if status:
        conversations = conversations.filter(status=status)
    return conversations.order_by("-last_message_at", "-id")[:200]


@router.get("/conversations/{conversation_id}/messages", response=list[MessageOut])
def list_messages(request: HttpRequest, conversation_id: int):
    conversation = get_for_org_or_404(request.org, Conversation, pk=conversation_id)
    return conversation.messages.order_by("created_at", "id")


@router.post("/conversations/{conversation_id}/reply", response={200: IntentOut, 201: IntentOut})
def send_reply(
    request: HttpRequest,
    conversation_id: int,
    payload: ReplyIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
):
    """Answer in a conversation. A repeated Idempotency-Key returns the first intent with 200."""
    conversation = get_for_org_or_404(request.org, Conversation, pk=conversation_id)
    key = f"api:{idempotency_key}" if idempotency_key else None
    intent, created = engine.reply(conversation, payload.body.strip(), request.member, key)
    return Status(201 if created else 200, intent_out(intent))
