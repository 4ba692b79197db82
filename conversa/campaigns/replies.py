"""A customer's message as the answer to a campaign: counted for the campaign whose message
they received within its reply window (one of what follows a customer's message)."""

from collections import defaultdict
from datetime import datetime, timedelta

from conversa.campaigns.models import CampaignRecipient
from conversa.campaigns.sending import MAX_REPLY_WINDOW_HOURS


def customer_wrote(messages: list) -> int:
    """Count customers' messages as answers to the campaign messages they received within each
    campaign's reply window before (the first answer only): one query for the batch, one
    update when any counts. Returns how many recipients answered."""
    first = {}
    for message in messages:
        contact_id = message.conversation.contact_id
        if contact_id not in first or message.created_at < first[contact_id]:
            first[contact_id] = message.created_at
    if not first:
        return 0
    earliest = min(first.values()) - timedelta(hours=MAX_REPLY_WINDOW_HOURS)
    candidates = CampaignRecipient.objects.filter(
        contact_id__in=list(first),
        replied_at__isnull=True,
        intent__job__message__sent_at__gte=earliest,
    ).values_list(
        "pk", "contact_id", "campaign__reply_window_hours", "intent__job__message__sent_at"
    )
    answered: dict[datetime, list[int]] = defaultdict(list)
    for pk, contact_id, hours, sent in candidates:
        at = first[contact_id]
        if sent <= at <= sent + timedelta(hours=hours):
            answered[at].append(pk)
    for at, pks in answered.items():
        CampaignRecipient.objects.filter(pk__in=pks, replied_at__isnull=True).update(replied_at=at)
    return sum(len(pks) for pks in answered.values())
