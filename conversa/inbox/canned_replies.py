"""Canned replies: the team's saved answers, typed as `/shortcode` in the composer and filled
in for the conversation's contact and operator.

Owners, admins and supervisors write, change and delete them (they speak for the whole team);
every member searches and uses them.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.services import must_supervise, same_org
from conversa.errors import Conflict, Refused
from conversa.inbox.models import CannedReply, Conversation


def save_canned_reply(
    org: Organization,
    shortcode: str,
    body: str,
    *,
    acting_member: Member,
    reply: CannedReply | None = None,
) -> CannedReply:
    """Create a canned reply, or change `reply`. Refused with every problem at once: a
    shortcode not made of lowercase letters, digits, '-' and '_'; an empty or too long body;
    a variable that is not one of `CannedReply.VARIABLES` (a typo like `{{contact.nme}}` is
    caught here rather than sent to a customer); a shortcode taken (409)."""
    must_supervise(acting_member)
    shortcode = shortcode.strip().removeprefix("/").lower()
    problems = CannedReply.problems(shortcode, body)
    if problems:
        raise Refused(" ".join(str(p) for p in problems))
    if reply is not None:
        same_org(reply, org.id)
    else:
        reply = CannedReply(organization=org, created_by=acting_member)
    reply.shortcode, reply.body, reply.updated_at = shortcode, body, timezone.now()
    try:
        with transaction.atomic():
            reply.save()
    except IntegrityError as exc:
        raise Conflict(gettext("The shortcode /%(code)s is taken.") % {"code": shortcode}) from exc
    return reply


def delete_canned_reply(reply: CannedReply, *, acting_member: Member) -> None:
    must_supervise(acting_member)
    same_org(reply, acting_member.organization_id)
    reply.delete()


def search_canned_replies(org: Organization, prefix: str = "", limit: int | None = 20):
    """The organization's canned replies whose shortcode starts with `prefix` (what follows
    the `/` typed in the composer), by shortcode; `limit` None: all of them, unsliced (the API
    pages them)."""
    prefix = prefix.strip().removeprefix("/").lower()
    replies = CannedReply.objects.for_org(org)
    if prefix:
        replies = replies.filter(shortcode__startswith=prefix)
    replies = replies.order_by("shortcode")
    return replies if limit is None else replies[:limit]


def render_canned(reply: CannedReply, conversation: Conversation, member: Member | None) -> str:
    """The reply's body with its variables filled in for this conversation's contact, the
    operator `member` and the organization. Plain text: the composer and the thread escape it
    when they display it. A variable unknown by now (the body was saved before it was
    removed) is left as typed, so the operator sees it before sending."""
    same_org(reply, conversation.organization_id)
    contact, org = conversation.contact, conversation.organization

    def fill(match) -> str:
        read = CannedReply.VARIABLES.get(match.group(1))
        return read(contact, member, org) if read else match.group(0)

    return CannedReply.PLACEHOLDER.sub(fill, reply.body)
