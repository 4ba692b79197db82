"""The AI log: each thing the assistant wrote is kept as an `AssistantOutput` (what it was asked,
what it wrote, the passages it was given, the model call it cost) and people rate it good or bad;
accuracy is the share rated good among those rated."""

from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.services import same_org
from conversa.assistant.knowledge import Hit
from conversa.assistant.models import (
    MAX_OUTPUT_QUESTION,
    MAX_OUTPUT_TEXT,
    AssistantOutput,
    KnowledgePassage,
    Persona,
)
from conversa.errors import Forbidden, Refused
from conversa.inbox.models import Conversation
from conversa.inbox.notifications import may_see

# The most of a passage an output keeps: enough to show an agent what the answer rested on.
PASSAGE_EXCERPT = 1500


def passage_record(passage: KnowledgePassage | Hit) -> dict:
    """A passage as an output keeps it: as it reads now, whatever its source becomes later."""
    if isinstance(passage, Hit):
        return {
            "passage": passage.passage_id,
            "source": passage.source_id,
            "title": passage.source_title,
            "heading": passage.heading,
            "text": passage.text[:PASSAGE_EXCERPT],
        }
    return {
        "passage": passage.pk,
        "source": passage.source_id,
        "title": passage.source.title,
        "heading": passage.heading,
        "text": passage.text[:PASSAGE_EXCERPT],
    }


def record_output(
    org: Organization,
    *,
    kind: str,
    text: str,
    question: str = "",
    outcome: str = AssistantOutput.Outcome.ANSWERED,
    passages: list[KnowledgePassage | Hit] = (),
    persona: Persona | None = None,
    conversation: Conversation | None = None,
    model_call_id: int | None = None,
    reason: str = "",
    acting_member: Member | None = None,
) -> AssistantOutput:
    """Keep one thing the assistant wrote; `acting_member` is who asked for it (None: the
    assistant acted on its own, an auto-reply)."""
    for owned in (persona, conversation, acting_member):
        if owned is not None:
            same_org(owned, org.pk)
    return AssistantOutput.objects.create(
        organization=org,
        kind=kind,
        outcome=outcome,
        persona=persona,
        conversation=conversation,
        question=question[:MAX_OUTPUT_QUESTION],
        text=text[:MAX_OUTPUT_TEXT],
        passages=[passage_record(passage) for passage in passages],
        reason=reason[:300],
        model_call_id=model_call_id,
        created_by=acting_member,
    )


def must_rate(member: Member, output: AssistantOutput) -> None:
    """Refuse unless `member` may rate `output`: anyone active who may see its conversation;
    owners and admins for what was written outside a conversation (a persona's test chat)."""
    same_org(output, member.organization_id)
    if not member.is_active:
        raise Forbidden(gettext("Only active members rate the assistant's answers."))
    if output.conversation_id is None:
        if not member.administers:
            raise Forbidden(gettext("Only owners and admins rate the assistant's test answers."))
    elif not may_see(member, output.conversation):
        raise Forbidden(gettext("You cannot see this conversation."))


def rate_output(output: AssistantOutput, *, rating: str, acting_member: Member) -> AssistantOutput:
    """Mark `output` good or bad ("" takes the rating back); the latest rating counts."""
    must_rate(acting_member, output)
    if rating not in {"", *AssistantOutput.Rating.values}:
        raise Refused(gettext("A rating is “good” or “bad”."), field="rating")
    output.rating = rating
    output.rated_by = acting_member if rating else None
    output.rated_at = timezone.now() if rating else None
    output.save(update_fields=["rating", "rated_by", "rated_at"])
    return output


@dataclass(frozen=True)
class Accuracy:
    rated: int
    good: int

    @property
    def share(self) -> float | None:
        """Good among rated, 0–1; None when nothing is rated."""
        return self.good / self.rated if self.rated else None


def accuracy(org: Organization, *, kind: str | None = None, since=None, until=None) -> Accuracy:
    """How the outputs people rated were rated, of one kind or all, made since `since` and
    before `until` if given."""
    rows = AssistantOutput.objects.for_org(org).exclude(rating="")
    if kind:
        rows = rows.filter(kind=kind)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    counts = rows.aggregate(rated=Count("pk"), good=Count("pk", filter=Q(rating="good")))
    return Accuracy(rated=counts["rated"], good=counts["good"])
