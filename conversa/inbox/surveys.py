"""The satisfaction survey (CSAT): after a conversation is resolved, one question asks the
customer for a rating from 1 to 5; their answer is recorded against the conversation and the
member who resolved it, and leaves the conversation resolved.

The inbox owns the survey's rows, its settings and reading the answers, because the answer
must be recognised where a customer's message would reopen its conversation
(`services.store_message`, `store_messages`). Asking goes through the engine, above the
inbox (`conversa.surveys.services`). The question is text on every provider: the provider
interface sends no interactive messages (`providers.base.OutboundContent`), so the Cloud
API's reply buttons are not used; a button reply ("choice") is read as its title.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Avg, Count, Q
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.services import must_supervise, record, same_org
from conversa.errors import Refused
from conversa.inbox.models import (
    DEFAULT_SURVEY_QUESTION,
    MAX_SURVEY_OPEN_HOURS,
    Conversation,
    Message,
    Queue,
    Survey,
    SurveySettings,
)
from conversa.numbers.models import Number

# A second message this soon after the rating, with no comment yet, is the rating's comment.
COMMENT_WINDOW = timedelta(minutes=10)
# A rating first ("5", "5/5", "4 de 5", "5 - ótimo"), then an optional comment. "10" or
# "5000" are not ratings: no digit may follow the first.
RATING = re.compile(
    r"^\s*([1-5])(?!\d)\s*(?:(?:/|de|of)\s*5(?!\d))?[\s.,;:!\-–—)]*(.*)$", re.S | re.I
)
ANSWER_KINDS = ("text", "choice")
# The question has left once the provider took it.
QUESTION_LEFT = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ)
MAX_QUESTION = 1000
MAX_COMMENT = 1000


def parse(body: str) -> tuple[int, str] | None:
    """(rating, comment) of a reply such as "5 ótimo atendimento"; None if it is no rating."""
    match = RATING.match(body or "")
    if match is None:
        return None
    return int(match.group(1)), match.group(2).strip()[:MAX_COMMENT]


@dataclass(frozen=True)
class Asking:
    """Whether a conversation's resolution asks, and with what words and for how long."""

    enabled: bool
    question: str
    open_hours: int


def settings_of(org_id: int) -> SurveySettings:
    """The organization's survey settings; unsaved defaults (off) if it never changed them."""
    return SurveySettings.objects.filter(organization_id=org_id).first() or SurveySettings(
        organization_id=org_id
    )


def asking_for(conversation: Conversation) -> Asking:
    """The organization's settings, as the conversation's queue overrides them."""
    saved = settings_of(conversation.organization_id)
    enabled, question = saved.enabled, saved.question
    queue = (
        Queue.objects.filter(pk=conversation.queue_id).first() if conversation.queue_id else None
    )
    if queue is not None:
        if queue.survey != Queue.Survey.INHERIT:
            enabled = queue.survey == Queue.Survey.ON
        question = queue.survey_question or question
    return Asking(enabled, question or DEFAULT_SURVEY_QUESTION, saved.open_hours)


@transaction.atomic
def update_settings(
    org: Organization, *, acting_member: Member, enabled: bool, question: str, open_hours: int
) -> SurveySettings:
    """Turn the organization's survey on or off, word its question (blank: the default) and
    say how long it stays open (1 hour to 7 days). Supervisors and above; recorded."""
    must_supervise(acting_member)
    same_org(acting_member, org.id)
    question = question.strip()
    if len(question) > MAX_QUESTION:
        raise Refused(
            gettext("Keep the question under %(n)s characters.") % {"n": MAX_QUESTION},
            field="question",
        )
    if not 1 <= open_hours <= MAX_SURVEY_OPEN_HOURS:
        raise Refused(
            gettext("Keep the survey open between 1 and %(n)s hours.")
            % {"n": MAX_SURVEY_OPEN_HOURS},
            field="open_hours",
        )
    saved, _created = SurveySettings.objects.select_for_update().get_or_create(organization=org)
    saved.enabled, saved.question, saved.open_hours = enabled, question, open_hours
    saved.save()
    record(
        org.id,
        "organization.survey_changed",
        org,
        actor=acting_member,
        enabled=enabled,
        open_hours=open_hours,
    )
    return saved


def set_queue_survey(queue: Queue, *, acting_member: Member, survey: str, question: str) -> bool:
    """The queue's own survey choice (as the organization, on, off) and question (blank: the
    organization's). Returns whether anything changed (then recorded)."""
    must_supervise(acting_member)
    same_org(acting_member, queue.organization_id)
    if survey not in Queue.Survey.values:
        raise Refused(gettext("Choose whether this queue asks."), field="survey")
    question = question.strip()
    if len(question) > MAX_QUESTION:
        raise Refused(
            gettext("Keep the question under %(n)s characters.") % {"n": MAX_QUESTION},
            field="survey_question",
        )
    if (queue.survey, queue.survey_question) == (survey, question):
        return False
    previous = queue.survey
    Queue.objects.filter(pk=queue.pk).update(survey=survey, survey_question=question)
    queue.survey, queue.survey_question = survey, question
    record(
        queue.organization_id,
        "queue.survey_changed",
        queue,
        actor=acting_member,
        survey=survey,
        previous=previous,
    )
    return True


def take_answers(messages: list[Message], now: datetime) -> set[int]:
    """Record the customers' messages that answer a survey, before the store path would
    reopen their conversations; returns their ids (those conversations stay resolved).

    A message answers when its conversation is resolved (as read before this message) and
    the survey of that resolution asked (its question left):
    1. a rating ("4", "5 muito bom": the rest is the comment) while the survey is open;
    2. else, text within COMMENT_WINDOW of the rating when it came with no comment: the
       comment.
    Anything else is a customer writing again: the conversation reopens as always. One query
    when no conversation is resolved: none at all."""
    candidates = [
        m
        for m in messages
        if m.conversation.status == Conversation.Status.RESOLVED
        and m.kind in ANSWER_KINDS
        and m.body
    ]
    if not candidates:
        return set()
    latest: dict[int, Survey] = {}
    for survey in Survey.objects.filter(
        conversation_id__in={m.conversation_id for m in candidates},
        question_message__status__in=QUESTION_LEFT,
    ).order_by("conversation_id", "-asked_at", "-id"):
        latest.setdefault(survey.conversation_id, survey)
    answers: set[int] = set()
    for message in candidates:
        survey = latest.get(message.conversation_id)
        resolved_at = message.conversation.resolved_at
        if survey is None or (resolved_at and survey.asked_at < resolved_at):
            continue
        parsed = parse(message.body)
        if survey.rating is None and parsed and now < survey.expires_at:
            rating, comment = parsed
            if Survey.objects.filter(pk=survey.pk, rating__isnull=True).update(
                rating=rating, comment=comment, answered_at=now
            ):
                survey.rating, survey.comment, survey.answered_at = rating, comment, now
                rated(survey, message)
                answers.add(message.pk)
        elif (
            survey.rating is not None
            and not survey.comment
            and parsed is None
            and now - survey.answered_at <= COMMENT_WINDOW
        ):
            comment = message.body.strip()[:MAX_COMMENT]
            if Survey.objects.filter(pk=survey.pk, comment="").update(comment=comment):
                survey.comment = comment
                rated(survey, message)
                answers.add(message.pk)
    return answers


def rated(survey: Survey, message: Message) -> None:
    """The rating (and comment) in the conversation's history, where its thread shows it."""
    record(
        survey.organization_id,
        "conversation.rated",
        message.conversation,
        label="customer",
        rating=survey.rating,
        comment=survey.comment,
        agent=survey.agent_id,
    )


@dataclass(frozen=True)
class CsatSummary:
    count: int
    # None without answers.
    average: float | None
    # Rating → how many, 1 to 5, every rating present.
    distribution: dict[int, int]
    # Share of ratings of 4 or 5, as a percentage; None without answers.
    percent_satisfied: float | None


def csat_summary(
    org: Organization,
    start: datetime,
    end: datetime,
    *,
    number: Number | None = None,
    queue: Queue | None = None,
    agent: Member | None = None,
) -> CsatSummary:
    """The satisfaction ratings answered in [start, end), of the organization, narrowed to
    the number, queue and member who resolved the conversation (as they were at its
    resolution): how many, their average, how many of each, and the share satisfied (4–5)."""
    answered = Survey.objects.for_org(org).filter(
        rating__isnull=False, answered_at__gte=start, answered_at__lt=end
    )
    if number is not None:
        answered = answered.filter(number=number)
    if queue is not None:
        answered = answered.filter(queue=queue)
    if agent is not None:
        answered = answered.filter(agent=agent)
    figures = answered.aggregate(
        count=Count("id"),
        average=Avg("rating"),
        satisfied=Count("id", filter=Q(rating__gte=4)),
        **{f"r{n}": Count("id", filter=Q(rating=n)) for n in range(1, 6)},
    )
    count = figures["count"]
    return CsatSummary(
        count=count,
        average=float(figures["average"]) if count else None,
        distribution={n: figures[f"r{n}"] for n in range(1, 6)},
        percent_satisfied=100 * figures["satisfied"] / count if count else None,
    )


def answers_among(messages: list[Message]) -> set[int]:
    """Of customers' messages just stored, the ids of the survey answers: the only ones that
    leave their conversation resolved (every other one made it OPEN, `store_message`)."""
    return {m.pk for m in messages if m.conversation.status == Conversation.Status.RESOLVED}
