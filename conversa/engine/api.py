from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema

from conversa.accounts.scoping import scoped
from conversa.engine.models import MessageIntent

router = Router(tags=["engine"])


class GateDecisionOut(Schema):
    verdict: str
    reason_code: str
    reason: str
    defer_until: datetime | None
    created_at: datetime


class JobOut(Schema):
    id: int
    status: str
    attempts: int
    provider_message_id: str
    last_error: str


class IntentOut(Schema):
    id: int
    origin: str
    status: str
    idempotency_key: str
    contact_id: int
    conversation_id: int | None
    body: str
    created_at: datetime
    decision: GateDecisionOut | None
    job: JobOut | None


def intent_out(intent: MessageIntent) -> dict:
    return {
        **{f: getattr(intent, f) for f in IntentOut.model_fields if f not in {"decision", "job"}},
        "decision": intent.latest_decision,
        "job": getattr(intent, "job", None),
    }


@router.get("/intents", response=list[IntentOut])
def list_intents(request: HttpRequest, status: str | None = None):
    """Recent intents with the Gate's latest decision and the job's status."""
    intents = scoped(request.org, MessageIntent).select_related("job").prefetch_related("decisions")
    if status:
        intents = intents.filter(status=status)
    return [intent_out(intent) for intent in intents[:200]]
