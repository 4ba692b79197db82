"""A reply suggested to an agent: the conversation's persona answers the customer's last messages
from the knowledge (assistant.answers), for the agent to insert and edit."""

from django.utils.translation import gettext

from conversa.accounts.models import Member
from conversa.assistant import answers, helpers, llm
from conversa.assistant.autoreply import rules_for
from conversa.assistant.models import AssistantOutput, Persona
from conversa.errors import Conflict
from conversa.inbox.models import Conversation

Outcome = AssistantOutput.Outcome


def persona_for(conversation: Conversation) -> Persona | None:
    """Who speaks for the organization in `conversation`: the persona of its automatic replies,
    else the organization's first persona turned on (by name)."""
    rule = rules_for([conversation]).get(conversation.pk)
    if rule is not None:
        return rule.persona
    return (
        Persona.objects.for_org(conversation.organization)
        .filter(active=True)
        .order_by("name", "pk")
        .first()
    )


def suggest(conversation: Conversation, *, acting_member: Member) -> AssistantOutput:
    """A reply to the customer's last messages, written by the conversation's persona from the
    knowledge, for an agent to insert and edit (kept in the AI log as a suggestion). Refused,
    saying why, when no persona is on or the persona would not answer (it would hand over, or
    does not know), and when the model cannot answer."""
    helpers.must_help(acting_member, conversation)
    persona = persona_for(conversation)
    if persona is None:
        raise Conflict(gettext("Turn a persona on first: Settings → Assistant personas."))
    # What the customer wrote last, even if someone answered since: that is what to reply to.
    turns = answers.recent_turns(conversation)
    while turns and turns[-1].role != answers.CUSTOMER:
        turns.pop()
    if not turns:
        raise Conflict(gettext("No suggestion: the customer has not written yet."))
    output = answers.answer(
        persona,
        turns,
        kind=AssistantOutput.Kind.SUGGESTION,
        conversation=conversation,
        acting_member=acting_member,
    )
    if output.outcome == Outcome.FAILED:
        raise llm.ModelError(output.reason or gettext("The assistant could not answer."))
    if output.outcome != Outcome.ANSWERED or not output.text:
        raise Conflict(
            gettext("No suggestion: %(why)s") % {"why": output.reason}
            if output.reason
            else gettext("No suggestion for this conversation.")
        )
    return output
