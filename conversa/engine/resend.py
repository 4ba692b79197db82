"""An operator's sends beyond a typed reply: a failed message tried again, and a pre-approved
template outside the customer-service window. Both are new intents through the engine, the
one send path; nothing here talks to a provider."""

import re

from django.utils.translation import gettext

from conversa.accounts.models import Member
from conversa.engine import services as engine
from conversa.engine.models import MessageIntent
from conversa.errors import Conflict
from conversa.inbox.models import Conversation, Message

TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
TEMPLATE_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")


def retry(message: Message, *, acting_member: Member) -> tuple[MessageIntent, bool]:
    """Send a failed outbound message again as a new intent (the Gate decides afresh).

    The key is the failed message's own, so a double click retries it once; if the retry
    fails too, that new message has its own key for the next try. A template goes again as
    the same template, a file as the same file.
    """
    if not (message.is_outbound and message.status == Message.Status.FAILED):
        raise Conflict(gettext("Only a failed message can be sent again."))
    conversation = message.conversation
    original = (
        MessageIntent.objects.for_org(conversation.organization)
        .filter(job__message=message)
        .first()
    )
    return engine.create_intent(
        conversation.organization,
        contact=conversation.contact,
        body=message.body,
        origin=MessageIntent.Origin.CHAT_MANUAL,
        idempotency_key=f"chat:retry:{message.pk}",
        conversation=conversation,
        created_by=acting_member,
        template=original.template if original else None,
        content=original.content if original else None,
        attachment=original.attachment if original else None,
    )


def template_preview(template: dict) -> str:
    """How a template reads in the thread: its name and its values (as the API shows it)."""
    values = " · ".join(template["variables"])
    return f"[{template['name']}] {values}".strip()


def recent_templates(org_id: int, limit: int = 20) -> list[dict]:
    """The templates the organization sent lately ({name, language}, newest first, each name
    once): what the composer offers to pick from once a Cloud API window has closed."""
    seen, picked = set(), []
    sent = (
        MessageIntent.objects.filter(organization_id=org_id, template__isnull=False)
        .order_by("-created_at", "-id")
        .values_list("template", flat=True)[:200]
    )
    for template in sent:
        name = template.get("name") if isinstance(template, dict) else None
        if name and name not in seen:
            seen.add(name)
            picked.append({"name": name, "language": template.get("language", "")})
    return picked[:limit]


def send_template(
    conversation: Conversation, template: dict, idempotency_key: str, *, acting_member: Member
) -> tuple[MessageIntent, bool]:
    """A Cloud API template ({name, language, variables}) in the conversation."""
    return engine.create_intent(
        conversation.organization,
        contact=conversation.contact,
        body=template_preview(template),
        origin=MessageIntent.Origin.CHAT_MANUAL,
        idempotency_key=idempotency_key,
        conversation=conversation,
        created_by=acting_member,
        template=template,
    )
