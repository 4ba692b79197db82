"""Which conversations a member may open: the lookups every page and API handler of a
conversation goes through, so the rule (`ownership.may_work_on`) is applied in one place.

A conversation the member may not work on is a 404, as another organization's is: an agent
outside its queue learns nothing of it (not even that it exists)."""

from django.db.models import QuerySet
from django.http import Http404

from conversa.accounts.models import Member, Organization
from conversa.accounts.scoping import scoped
from conversa.inbox.models import Conversation
from conversa.inbox.ownership import workable


def conversations_for(org: Organization, member: Member) -> QuerySet[Conversation]:
    """The organization's conversations that the member (one of its own) may work on."""
    if member is None or member.organization_id != org.pk:
        return scoped(org, Conversation).none()
    return scoped(org, Conversation).filter(workable(member))


def conversation_for(org: Organization, member: Member, conversation_id: int) -> Conversation:
    """The conversation, if the member may work on it; else 404."""
    conversation = conversations_for(org, member).filter(pk=conversation_id).first()
    if conversation is None:
        raise Http404("Conversation not found")
    return conversation
