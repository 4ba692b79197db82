"""When the assistant answers customers on its own: an organization's automatic-reply rules, per
number or team (owners and admins; audited). What a rule makes happen is assistant.autoreply's."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from conversa.accounts.models import Member, Organization
from conversa.accounts.services import record, same_org
from conversa.assistant.models import MAX_AUTO_REPLY_WAIT_SECONDS, AutoReply, Persona
from conversa.assistant.services import must_administer
from conversa.errors import Refused
from conversa.inbox.models import Queue
from conversa.numbers.models import Number


def save_auto_reply(
    org: Organization,
    *,
    acting_member: Member,
    persona: Persona,
    number: Number | None = None,
    queue: Queue | None = None,
    when: str = AutoReply.When.ALWAYS,
    wait_seconds: int = 8,
    handoff_when_unhappy: bool = True,
    enabled: bool = True,
) -> AutoReply:
    """Set when the assistant answers on `number` or in `queue` (exactly one), as `persona`;
    the rule of that number or queue is changed if it has one. Audited."""
    must_administer(acting_member)
    same_org(acting_member, org.pk)
    for owned in (persona, number, queue):
        if owned is not None:
            same_org(owned, org.pk)
    if (number is None) == (queue is None):
        raise Refused(gettext("Choose a number or a team, not both."), field="number")
    if when not in AutoReply.When.values:
        raise Refused(gettext("Choose when the assistant answers."), field="when")
    if (
        not isinstance(wait_seconds, int)
        or isinstance(wait_seconds, bool)
        or not 0 <= wait_seconds <= MAX_AUTO_REPLY_WAIT_SECONDS
    ):
        raise Refused(
            gettext("The wait is 0 to %(n)s seconds.") % {"n": MAX_AUTO_REPLY_WAIT_SECONDS},
            field="wait_seconds",
        )
    with transaction.atomic():
        rule, created = AutoReply.objects.select_for_update().get_or_create(
            organization=org,
            number=number,
            queue=queue,
            defaults={"persona": persona},
        )
        rule.persona = persona
        rule.when = when
        rule.wait_seconds = wait_seconds
        rule.handoff_when_unhappy = handoff_when_unhappy
        rule.enabled = enabled
        rule.updated_by = acting_member
        rule.updated_at = timezone.now()
        rule.save()
        record(
            org.pk,
            "assistant.auto_reply_set",
            rule,
            actor=acting_member,
            persona=persona.pk,
            when=when,
            wait_seconds=wait_seconds,
            handoff_when_unhappy=handoff_when_unhappy,
            enabled=enabled,
        )
    return rule


def delete_auto_reply(rule: AutoReply, *, acting_member: Member) -> None:
    """The assistant no longer answers on that number or in that queue; conversations it was
    answering wait for the team from their next message on."""
    must_administer(acting_member)
    same_org(rule, acting_member.organization_id)
    with transaction.atomic():
        record(rule.organization_id, "assistant.auto_reply_removed", rule, actor=acting_member)
        rule.delete()


# 1. A customer wrote ----------------------------------------------------------------------------
