"""The page of what verified webhooks held that Conversa could not read, for the people who
manage the numbers: kept, and read again after an upgrade (`conversa reprocess-events`)."""

import json

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render

from conversa.accounts.scoping import scoped
from conversa.providers.base import Unparsed
from conversa.providers.models import ProviderEvent
from conversa.web import operator_view

PAGE_SIZE = 25
# How much of a payload the page shows (the whole of it stays stored).
EXCERPT_CHARS = 4_000


@operator_view
def unparsed_events(request):
    """The organization's unread webhook events, newest first: when, which number, why, and
    an excerpt of what came (escaped by the template, never marked safe)."""
    if not request.member.manages_numbers:
        raise PermissionDenied
    rows = (
        scoped(request.org, ProviderEvent)
        .filter(kind=Unparsed.__name__, processed_at__isnull=True)
        .select_related("number")
        .order_by("-received_at", "-id")
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    for record in page.object_list:
        record.excerpt = excerpt(record.payload)
    return render(request, "numbers/unparsed.html", {"page": page})


def excerpt(payload) -> str:
    text = json.dumps(payload, ensure_ascii=False, indent=1)
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"
