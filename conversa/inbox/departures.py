"""When a member is deactivated (accounts/members.py), their open conversations go back to
their queues, unassigned, and are offered to whoever is online there; their messages, notes and
the conversations' history stay as they were."""

from django.dispatch import receiver

from conversa.accounts.members import member_deactivated
from conversa.accounts.models import Member
from conversa.inbox import ownership
from conversa.inbox.models import Conversation


@receiver(member_deactivated)
def return_conversations(sender, member: Member, acting_member: Member, **kwargs) -> None:
    mine = Conversation.objects.filter(organization_id=member.organization_id, assignee=member)
    mine = mine.exclude(status=Conversation.Status.RESOLVED).order_by("id")
    queue_ids = set()
    for conversation in mine:
        # As its supervisor would: the release is in each conversation's history.
        ownership.release(conversation, acting_member=acting_member)
        if conversation.queue_id:
            queue_ids.add(conversation.queue_id)
    ownership.recount_open([member.pk])
    if queue_ids:
        ownership.hand_out_after_commit(sorted(queue_ids))
