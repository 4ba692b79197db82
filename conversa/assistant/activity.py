"""The AI log as owners, admins and supervisors read it: every AssistantOutput, newest first,
filtered by kind, outcome and rating, with its model call's tokens and estimated cost and, for
an answer that was sent, the Gate's decision; and the accuracy of each kind over the last 7 and
30 days. What the assistant was asked and the messages sent to the model (customers' words
included) are for owners and admins only."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.assistant.models import AssistantOutput
from conversa.assistant.outputs import Accuracy, accuracy
from conversa.errors import Forbidden, Refused

PERIODS = (7, 30)
# Rating filter: "good", "bad", or "none" (not rated).
RATINGS = ("good", "bad", "none")


def must_watch(member: Member) -> None:
    """Refuse unless `member` may read the AI log: an active owner, admin or supervisor."""
    if not member.is_active or not member.supervises:
        raise Forbidden(
            gettext("Only owners, admins and supervisors see the assistant's activity.")
        )


def may_read_questions(member: Member) -> bool:
    """Whether `member` sees what the assistant was asked (customers' words): owners, admins."""
    return member.administers


def outputs_for(
    org: Organization, member: Member, *, kind: str = "", outcome: str = "", rating: str = ""
) -> QuerySet[AssistantOutput]:
    """The organization's outputs, newest first, filtered; an unknown filter is refused."""
    must_watch(member)
    rows = (
        AssistantOutput.objects.for_org(org)
        .select_related(
            "created_by", "rated_by", "persona", "conversation__contact", "model_call", "intent"
        )
        # The Gate's decisions on what was sent (the page shows the latest).
        .prefetch_related("intent__decisions")
    )
    if kind:
        if kind not in AssistantOutput.Kind.values:
            raise Refused(gettext("Unknown kind of output."), field="kind")
        rows = rows.filter(kind=kind)
    if outcome:
        if outcome not in AssistantOutput.Outcome.values:
            raise Refused(gettext("Unknown outcome."), field="outcome")
        rows = rows.filter(outcome=outcome)
    if rating:
        if rating not in RATINGS:
            raise Refused(gettext("A rating filter is good, bad or none."), field="rating")
        rows = rows.filter(rating="" if rating == "none" else rating)
    return rows.order_by("-created_at", "-id")


@dataclass(frozen=True)
class KindAccuracy:
    kind: str
    label: str
    # Days → accuracy over that many days, in PERIODS' order.
    periods: list[tuple[int, Accuracy]]


def accuracy_by_kind(org: Organization, member: Member) -> list[KindAccuracy]:
    """Each kind's accuracy over the last 7 and 30 days (all kinds first, as kind "")."""
    must_watch(member)
    now = timezone.now()
    kinds = [("", gettext("All kinds")), *AssistantOutput.Kind.choices]
    return [
        KindAccuracy(
            kind=kind,
            label=str(label),
            periods=[
                (days, accuracy(org, kind=kind or None, since=now - timedelta(days=days)))
                for days in PERIODS
            ],
        )
        for kind, label in kinds
    ]
